"""bake's up-to-date check: a bake is skipped only when its inputs and outputs are exactly as it left them."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.offline.manifest import atomic_file
from tests.conftest import EXAMPLE_WAV


def _bake(*args: str) -> None:
    assert main(["bake", *args, "--no-progress"]) == 0


def _baked(capsys: pytest.CaptureFixture[str]) -> int:
    """How many files the last bake baked, from its summary line."""
    counts = re.findall(r"bake: (\d+) baked", capsys.readouterr().err)
    return int(counts[-1])


def test_a_different_recording_with_an_older_time_is_baked_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only "audio newer than outputs" counted: cp -p / rsync -a / an archive of another take kept it skipped.
    line = tmp_path / "in" / "line.wav"
    line.parent.mkdir()
    shutil.copy(EXAMPLE_WAV, line)
    _bake(str(line.parent), "-o", str(tmp_path / "out"))
    assert _baked(capsys) == 1
    x = EXAMPLE_WAV.read_bytes()
    line.write_bytes(x[:44] + x[44 : len(x) // 2])  # another take: a different size
    os.utime(line, ns=(1_000_000_000, 1_000_000_000))  # dated 1970, older than every output
    _bake(str(line.parent), "-o", str(tmp_path / "out"))
    assert _baked(capsys) == 1
    _bake(str(line.parent), "-o", str(tmp_path / "out"))
    assert _baked(capsys) == 0


def test_an_output_replaced_or_edited_since_is_baked_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Two bakes of one tree at once could leave one's output beside the other's sidecar, and the next run
    # trusted it; an output edited by hand was trusted as well.
    shutil.copy(EXAMPLE_WAV, tmp_path / "line.wav")
    _bake(str(tmp_path / "line.wav"), "-f", "jsonl,visemes")
    assert _baked(capsys) == 1
    visemes = tmp_path / "line.visemes.csv"
    visemes.write_text(visemes.read_text().replace("0.", "1.", 1))
    _bake(str(tmp_path / "line.wav"), "-f", "jsonl,visemes")
    assert _baked(capsys) == 1
    sidecar = json.loads((tmp_path / "line.bake.json").read_text())
    assert {"line.visemes.csv", "line.wav", "line.jsonl"} == set(sidecar["files"])  # named from the sidecar's folder


def test_changes_that_change_no_output_bake_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(EXAMPLE_WAV, tmp_path / "line.wav")
    _bake(str(tmp_path / "line.wav"), "-f", "jsonl,visemes")
    assert _baked(capsys) == 1
    _bake(str(tmp_path / "line.wav"), "-f", "visemes,jsonl", "--subject", "bob")  # order; a name no output holds
    assert _baked(capsys) == 0
    cwd = Path.cwd()
    try:
        os.chdir(tmp_path)
        _bake("line.wav", "-f", "jsonl,visemes")  # the same file by a relative path
    finally:
        os.chdir(cwd)
    assert _baked(capsys) == 0


def test_writers_of_one_path_at_once_each_leave_a_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "line.jsonl"
    with atomic_file(path) as first, atomic_file(path) as second:  # one shared ".tmp" name mixed their lines
        first.write("first\n" * 1000)
        second.write("second\n" * 10)
    assert path.read_text() == "first\n" * 1000  # the last rename wins, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.jsonl"]
