"""bake -j N: worker processes never outlive the bake, however it ends."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import EXAMPLE_WAV, ROOT


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_stop_when_the_bake_is_killed_outright(tmp_path: Path) -> None:
    # SIGKILL (a CI timeout, the OOM killer) left the workers running forever, holding the caller's pipe.
    for i in range(40):
        shutil.copy(EXAMPLE_WAV, tmp_path / f"line{i:02d}.wav")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "bake", str(tmp_path), "-o", str(tmp_path / "out"), "-j", "2",
         "--no-progress"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 2:
        time.sleep(0.2)
        workers = _children(proc.pid)
    assert len(workers) == 2, "the bake did not start its two workers"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 60  # a loaded CI machine; a worker that never stops fails either way
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, "workers outlived the killed bake"
    assert not list((tmp_path / "out").glob("*.tmp"))  # each removed the output it was writing
