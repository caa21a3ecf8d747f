"""The Blender extension: its host-free core here, and its Blender side in real Blender.

The Blender-side tests need the ``bpy`` module, which lives in its own virtual environment
(.venv-bpy, made by scripts/setup.sh --dev) so its numpy stays apart from the project's; they
run there as a subprocess and this test fails when they fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLENDER_TESTS = ROOT / "engines" / "blender" / "tests"
BPY_PYTHON = ROOT / ".venv-bpy" / "bin" / "python"
TIMEOUT_S = 900


def _pytest(python: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AVATAR_BRIDGE_CMD=str(Path(sys.executable).parent / "avatar-bridge"))
    return subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def _assert_passed(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def test_blender_extension_core_in_plain_python() -> None:
    _assert_passed(_pytest(sys.executable, str(BLENDER_TESTS / "test_core.py")))


def test_blender_extension_in_real_blender() -> None:
    has_bpy = BPY_PYTHON.is_file() and any((ROOT / ".venv-bpy" / "lib").glob("python3*/site-packages/bpy"))
    if not has_bpy:
        pytest.skip("the bpy wheel is not installed in .venv-bpy (scripts/setup.sh --dev installs bpy==4.2.23)")
    _assert_passed(_pytest(BPY_PYTHON, str(BLENDER_TESTS)))
