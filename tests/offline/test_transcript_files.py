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


@pytest.mark.parametrize(
    "encoded",
    [TEXT.encode("utf-16-le"), TEXT.encode("utf-16-be"), (TEXT + "\r\n").encode("utf-16-le")],
    ids=["utf-16 little-endian without BOM", "utf-16 big-endian without BOM", "with a Windows line end"],
)
def test_utf16_without_a_byte_order_mark_is_told_by_its_nul_bytes(tmp_path: Path, encoded: bytes) -> None:
    # Some Windows tools write UTF-16 without the mark: it decoded "fine" as UTF-8, NULs and all, and
    # then failed the alignment with a message about the words.
    shutil.copy(EXAMPLE_WAV, tmp_path / "line.wav")
    (tmp_path / "line.txt").write_bytes(encoded)
    assert main(["bake", str(tmp_path / "line.wav"), "--no-progress"]) == 0
    sidecar = json.loads((tmp_path / "line.bake.json").read_text())
    assert sidecar["aligned"] is True and sidecar["warnings"] == []


@pytest.mark.parametrize(
    "encoded",
    [b"Hello\0 there, avatar bridge", "Hello there".encode("utf-32-le"), TEXT.encode("utf-16-le")[:-1]],
    ids=["a NUL in UTF-8 text", "utf-32", "utf-16 cut short (odd length)"],
)
def test_other_text_with_nul_bytes_fails_that_line_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encoded: bytes
) -> None:
    shutil.copy(EXAMPLE_WAV, tmp_path / "line.wav")
    (tmp_path / "line.txt").write_bytes(encoded)
    assert main(["bake", str(tmp_path / "line.wav"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'line.txt'}: cannot read the transcript" in err and "save it as UTF-8" in err
    assert not (tmp_path / "line.bake.json").exists()


@pytest.mark.parametrize(
    "flags", [["--no-text-files"], ["--text", "Hello there"]], ids=["--no-text-files", "--text"]
)  # fmt: skip
@pytest.mark.parametrize("command", ["bake", "preview"])
def test_the_transcript_is_never_overwritten_even_when_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], command: str
) -> None:
    # -o line.txt replaced the line's script with Rhubarb cues (bake) or a video (preview), exit status 0.
    shutil.copy(EXAMPLE_WAV, tmp_path / "line.wav")
    (tmp_path / "line.txt").write_text(TEXT)
    fmt = ["-f", "rhubarb-tsv"] if command == "bake" else []
    assert main([command, str(tmp_path / "line.wav"), "-o", str(tmp_path / "line.txt"), *fmt, *flags]) == 2
    assert "would overwrite" in capsys.readouterr().err
    assert (tmp_path / "line.txt").read_text() == TEXT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.txt", "line.wav"]


@pytest.mark.parametrize("name", ["other.txt", "OTHER.TXT"], ids=["same case", "other case"])
def test_an_output_file_is_never_another_recordings_transcript(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # A later bake of other.wav would read the cues as its words (OTHER.TXT is other.txt on macOS and Windows).
    shutil.copy(EXAMPLE_WAV, tmp_path / "line.wav")
    shutil.copy(EXAMPLE_WAV, tmp_path / "other.wav")
    out = tmp_path / name
    assert main(["bake", str(tmp_path / "line.wav"), "-o", str(out), "-f", "rhubarb-tsv"]) == 2
    assert f"-o {out}: the transcript of {tmp_path / 'other.wav'}" in capsys.readouterr().err
    assert not out.exists()
    assert main(["bake", str(tmp_path / "line.wav"), "-o", str(tmp_path / "cues.txt"), "-f", "rhubarb-tsv"]) == 0


@pytest.mark.parametrize(
    ("content", "flags"),
    [(b"", []), (b" \r\n\t\n", []), (codecs.BOM_UTF8, []), (None, ["--text", ""]), (None, ["--text", "  "])],
    ids=["empty file", "whitespace only", "a byte-order mark only", '--text ""', "--text of spaces"],
)
def test_an_empty_transcript_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, flags: list[str]
) -> None:
    # A broken script export baked from the audio alone with "warnings": [], like a line with no script.
    shutil.copy(EXAMPLE_WAV, tmp_path / "line.wav")
    if content is not None:
        (tmp_path / "line.txt").write_bytes(content)
    assert main(["bake", str(tmp_path / "line.wav"), "--no-progress", *flags]) == 0
    sidecar = json.loads((tmp_path / "line.bake.json").read_text())
    assert sidecar["aligned"] is False
    assert sidecar["warnings"] == ["the transcript is empty: baked from the audio alone"]
    warnings = [line for line in capsys.readouterr().err.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "the transcript is empty" in warnings[0]


@pytest.mark.parametrize("kind", ["dangling link", "link loop", "folder"])
def test_a_transcript_that_is_not_a_file_fails_that_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    # Like a dangling link to audio named on the command line, and like a transcript without read
    # permission: the line has a script that cannot be read, so it is not baked as if it had none.
    shutil.copy(EXAMPLE_WAV, tmp_path / "line.wav")
    shutil.copy(EXAMPLE_WAV, tmp_path / "plain.wav")
    txt = tmp_path / "line.txt"
    if kind == "dangling link":
        txt.symlink_to("script_v2.txt")
    elif kind == "link loop":
        txt.symlink_to("line.txt")
    else:
        txt.mkdir()
    assert main(["bake", str(tmp_path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    why = {"dangling link": "a dangling symbolic link (to script_v2.txt)", "link loop": "a symbolic link loop",
           "folder": "a folder"}[kind]  # fmt: skip
    assert f"failed: {tmp_path / 'line.wav'}: {txt}: cannot read the transcript ({why})" in err
    assert (tmp_path / "plain.bake.json").is_file() and not (tmp_path / "line.bake.json").exists()
