"""Transcript files beside the audio: the encodings editors save them in."""

from __future__ import annotations

import codecs
import json
import shutil
from pathlib import Path

import pytest

from bridge.cli import main
from tests.conftest import EXAMPLE_WAV

TEXT = "Hello! I am the avatar bridge. Watch my lips: papa, mama, baby. Five fine vowels, oh you see?"


@pytest.mark.parametrize(
    "encoded",
    [TEXT.encode("utf-8"), codecs.BOM_UTF8 + TEXT.encode("utf-8"), TEXT.encode("utf-16"),
     codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be")],
    ids=["utf-8", "utf-8 with BOM", "utf-16 (Windows 'Unicode')", "utf-16 big-endian"],
)  # fmt: skip
def test_transcripts_in_utf8_or_utf16_drive_the_face(tmp_path: Path, encoded: bytes) -> None:
    # UTF-16, what Notepad and Excel save as "Unicode", failed the whole line.
    shutil.copy(EXAMPLE_WAV, tmp_path / "line.wav")
    (tmp_path / "line.txt").write_bytes(encoded)
    assert main(["bake", str(tmp_path / "line.wav"), "--no-progress"]) == 0
    assert json.loads((tmp_path / "line.bake.json").read_text())["aligned"] is True


def test_a_transcript_in_another_encoding_fails_that_line_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(EXAMPLE_WAV, tmp_path / "line.wav")
    (tmp_path / "line.txt").write_bytes("Hello, café!".encode("latin-1"))
    assert main(["bake", str(tmp_path / "line.wav"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "cannot read the transcript" in err and "save it as UTF-8" in err
