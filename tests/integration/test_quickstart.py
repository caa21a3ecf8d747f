"""The README's first command on a fresh copy of the project: it installs the runtime alone and streams the example.

The test command installs the development packages first, so without this test nothing would notice
a runtime install that only works on top of them (it once did: a new venv's setuptools could not
build the editable install without the `wheel` package that only the development set brought).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files a fresh clone has")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [name for name in out.decode().split("\0") if name]


def test_quickstart_installs_the_runtime_without_torch_and_streams_the_example(tmp_path: Path) -> None:
    copy = tmp_path / "avatar-bridge"
    for name in _tracked_files():
        src = ROOT / name
        if src.is_file():  # a file deleted in the working tree but not yet in git is not in a clone either
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, copy / name)
    run = subprocess.run(
        ["scripts/quickstart.sh", "--fast"],
        cwd=copy, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "stopped after" in run.stderr
    assert "Traceback" not in run.stderr
    probe = subprocess.run([str(copy / ".venv/bin/python"), "-c", "import torch"], capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'torch'" in probe.stderr  # the live path never needs it
