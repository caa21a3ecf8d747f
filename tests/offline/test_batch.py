"""avatar-bridge bake end to end: single files, folders, globs, workers, skipping, bad files, transcripts."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pytest
import soundfile as sf

from bridge.cli import main
from bridge.config import Config, load_config
from bridge.errors import BridgeError
from bridge.frames import ARKIT_NAMES
from bridge.offline.bake import BakeJob, BakeSettings, bake_file
from bridge.offline.exports import FORMATS, ExportOptions
from bridge.offline.manifest import settings_digest
from bridge.offline.take import Take
from tests.conftest import DEV_DATA, EXAMPLE_WAV

GRID = DEV_DATA / "grid"


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    """1.2 s of the bundled example clip (speech from 0.3 s on)."""
    x, rate = sf.read(str(EXAMPLE_WAV), dtype="float32")
    return x[: int(1.2 * rate)], rate


def clip(path: Path, speech: tuple[np.ndarray, int], gain: float = 1.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), speech[0] * gain, speech[1], subtype="PCM_16")
    return path


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_single_file_to_named_output(tmp_path: Path, speech: tuple[np.ndarray, int]) -> None:
    src = clip(tmp_path / "line.wav", speech)
    out = tmp_path / "out" / "take.jsonl"
    assert main(["bake", str(src), "-o", str(out), "--no-progress"]) == 0
    frames = read_jsonl(out)
    assert len(frames) == pytest.approx(1.2 * 60, abs=2)
    assert [f["t"] for f in frames[:3]] == pytest.approx([0.0, 1 / 60, 2 / 60], abs=1e-6)
    assert list(frames[0]["blendshapes"]) == list(ARKIT_NAMES)  # type: ignore[arg-type]
    jaw = np.array([f["blendshapes"]["jawOpen"] for f in frames])  # type: ignore[index]
    assert jaw.max() > 0.05  # the mouth moves during speech
    assert (tmp_path / "out" / "take.bake.json").is_file()


def test_several_formats_share_the_output_stem(tmp_path: Path, speech: tuple[np.ndarray, int]) -> None:
    src = clip(tmp_path / "line.wav", speech)
    assert main(["bake", str(src), "-o", str(tmp_path / "o" / "take.jsonl"), "-f", "jsonl,bvh", "-f", "rhubarb-json",
                 "--no-progress"]) == 0  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "take.bake.json", "take.bvh", "take.jsonl", "take.rhubarb.json"
    ]  # fmt: skip


def test_a_quiet_line_is_raised_from_its_first_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A line recorded 40 dB too quietly baked a still face for its first seconds (r 0.64 with the same
    line at its level); the whole file's level is known offline, so it is raised at once (r 0.99)."""
    x, rate = sf.read(str(EXAMPLE_WAV), dtype="float32")
    clip(tmp_path / "normal.wav", (x, rate))
    clip(tmp_path / "quiet.wav", (x * np.float32(0.01), rate))
    assert main(["bake", str(tmp_path / "normal.wav"), str(tmp_path / "quiet.wav"), "--no-progress"]) == 0
    assert "quiet.wav: the speech is quiet (it peaks at -52 dBFS): raised by 30 dB" in capsys.readouterr().err
    jaw = [[f["blendshapes"]["jawOpen"] for f in read_jsonl(tmp_path / f"{n}.jsonl")] for n in ("normal", "quiet")]
    assert np.corrcoef(jaw[0], jaw[1])[0, 1] > 0.95
    record = json.loads((tmp_path / "quiet.bake.json").read_text())
    assert any(w.startswith("the speech is quiet") for w in record["warnings"])


def test_silence_is_a_resting_face_with_a_warning(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    src = clip(tmp_path / "quiet.wav", (np.zeros_like(speech[0]), speech[1]))
    assert main(["bake", str(src), "--no-progress"]) == 0
    frames = read_jsonl(tmp_path / "quiet.jsonl")
    assert max(f["blendshapes"]["jawOpen"] for f in frames) < 0.02  # type: ignore[index]
    assert all(f["voice"] == 0.0 for f in frames)
    assert "silent" in capsys.readouterr().err


def test_folder_mirror_tree_skip_and_rebake(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    a = clip(tmp_path / "in" / "a.wav", speech)
    clip(tmp_path / "in" / "deep" / "b.flac", speech, gain=0.5)
    (tmp_path / "in" / "notes.md").write_text("not audio")
    out = tmp_path / "out"
    args = ["bake", str(tmp_path / "in"), "-o", str(out), "-f", "jsonl,llf-csv", "--no-progress"]
    assert main(args) == 0
    produced = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert produced == ["a.bake.json", "a.csv", "a.jsonl", "deep/b.bake.json", "deep/b.csv", "deep/b.jsonl"]
    capsys.readouterr()
    mtime = (out / "a.jsonl").stat().st_mtime_ns

    assert main(args) == 0  # nothing changed: both skipped
    assert "2 of 2 files are up to date" in capsys.readouterr().err
    assert (out / "a.jsonl").stat().st_mtime_ns == mtime

    earlier = a.stat().st_mtime - 10
    os.utime(out / "a.csv", (earlier, earlier))  # an output older than the audio (the audio changed)
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "1 of 2 files are up to date" in err and "bake: 1 baked" in err
    assert (out / "a.jsonl").stat().st_mtime_ns > mtime

    assert main([*args, "--mood", "happy"]) == 0  # other settings: both baked again
    assert "bake: 2 baked, 0 up to date" in capsys.readouterr().err
    (out / "deep" / "b.csv").unlink()  # a missing output is baked again
    assert main([*args, "--mood", "happy"]) == 0
    assert "bake: 1 baked, 1 up to date" in capsys.readouterr().err


def test_bad_files_are_reported_and_the_rest_is_baked(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    clip(tmp_path / "in" / "good.wav", speech)
    (tmp_path / "in" / "broken.wav").write_bytes(b"RIFF not really a wave file")
    (tmp_path / "in" / "empty.wav").write_bytes(b"")
    code = main(["bake", str(tmp_path / "in"), str(tmp_path / "missing.wav"), "-j", "2", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert (tmp_path / "in" / "good.jsonl").is_file()
    assert not (tmp_path / "in" / "broken.jsonl").exists()
    assert "bake: 1 baked, 0 up to date, 3 failed" in err
    for path in (tmp_path / "in" / "broken.wav", tmp_path / "in" / "empty.wav", tmp_path / "missing.wav"):
        assert f"failed: {path}: " in err
        assert err.count(f"{path}: ") == 2  # as it happens, and again in the batch's summary


@pytest.mark.parametrize("name", ["broken.wav", "missing.wav"])
def test_a_one_file_bake_reports_its_failure_once_as_an_error(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    if name == "broken.wav":
        path.write_bytes(b"RIFF not really a wave file")
    assert main(["bake", str(path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count(f"{path}: ") == 1 and f"ERROR bridge.offline.batch: failed: {path}: " in err, err


def test_a_failed_rebake_names_the_earlier_outputs_it_left(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """The line's audio was replaced by a broken file: its old animation stays, and the failure says so."""
    clip(tmp_path / "in" / "line.wav", speech)
    clip(tmp_path / "in" / "other.wav", speech)
    args = ["bake", str(tmp_path / "in"), "-f", "jsonl,rhubarb-tsv", "--no-progress"]
    assert main(args) == 0
    (tmp_path / "in" / "line.wav").write_bytes(b"RIFF not really a wave file")
    (tmp_path / "in" / "new.wav").write_bytes(b"RIFF not really a wave file either")
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    left = f"{tmp_path / 'in' / 'line.jsonl'}, {tmp_path / 'in' / 'line.tsv'}, there before this bake, are left as"
    assert err.count(left) == 2, err  # as it happens and in the summary
    new = [line for line in err.splitlines() if "new.wav" in line]
    assert new and not any("left as" in line for line in new)  # nothing was there before


def test_outputs_this_bake_wrote_before_failing_are_not_called_earlier_ones(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    clip(tmp_path / "line.wav", speech)
    (tmp_path / "line.csv").mkdir()  # the second format cannot be written; the first was, from this audio
    assert main(["bake", str(tmp_path / "line.wav"), "-f", "jsonl,llf-csv", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and "left as" not in err, err


def test_an_output_name_too_long_to_look_at_fails_only_its_file(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    clip(tmp_path / "in" / ("L" * 250 + ".wav"), speech)  # its .jsonl name is over 255 bytes
    clip(tmp_path / "in" / "zz.wav", speech)
    assert main(["bake", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "internal error" not in err and "File name too long" in err, err
    assert (tmp_path / "out" / "zz.jsonl").is_file()


def test_workers_give_the_same_frames_as_one_process(tmp_path: Path, speech: tuple[np.ndarray, int]) -> None:
    for i in range(3):
        clip(tmp_path / "in" / f"c{i}.wav", speech, gain=1.0 - 0.2 * i)
    assert main(["bake", str(tmp_path / "in"), "-o", str(tmp_path / "one"), "-j", "1", "--no-progress"]) == 0
    assert main(["bake", str(tmp_path / "in" / "*.wav"), "-o", str(tmp_path / "two"), "-j", "2", "--no-progress"]) == 0
    for i in range(3):
        assert (tmp_path / "one" / f"c{i}.jsonl").read_text() == (tmp_path / "two" / f"c{i}.jsonl").read_text()


def test_outputs_next_to_the_inputs_by_default(tmp_path: Path, speech: tuple[np.ndarray, int]) -> None:
    clip(tmp_path / "x" / "one.wav", speech)
    assert main(["bake", str(tmp_path / "x" / "*.wav"), "-f", "rhubarb-tsv", "--no-progress"]) == 0
    assert (tmp_path / "x" / "one.tsv").read_text().startswith("0.00\tX\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{d}/a.wav", "{d}/sub/a.wav", "-o", "{d}/out"], "would write the same outputs"),
        (["{d}/a.wav", "{d}/sub/a.wav", "--text", "hello"], "--text: applies to exactly one input"),
        (["{d}/nothing/*.wav"], "matches no audio file"),
        (["{d}/nothing/**/*.wav"], "matches no audio file"),  # a missing base folder is no unreadable one
        (["{d}/a.wav", "-f", "jsonl,fbx"], "unknown format 'fbx'"),
        (["{d}/a.wav", "--phone-weight", "1.5"], "--phone-weight"),
        (["{d}/a.wav", "--extended-shapes", "GQ"], "--extended-shapes"),
        (["{d}/a.wav", "--intensity", "2"], "face.intensity"),
        (["{d}/a.wav", "-o", "{d}/a.wav"], "would overwrite the input {d}/a.wav"),
        (["{d}", "-j", "2", "--profile", "nope"], "face.profile: expected one of"),
        (["{d}", "--weights", "{d}/a.wav"], "{d}/a.wav: not a weights file made by `avatar-bridge train`"),
        (["{d}", "-o", "{d}/afile"], "-o {d}/afile: is a file; with several inputs -o must be a folder"),
        (["{d}/a.wav", "-o", "{d}/afile"], "-o {d}/afile: is a file without a suffix"),
        (["{d}", "-o", "{d}/new.jsonl"], "-o {d}/new.jsonl: names a file, but the inputs need a folder"),
        (["{d}/a.wav", "-o", "{d}/take.wav"], "-o {d}/take.wav: an audio file name"),
        (["{d}/a.wav", "-o", "{d}/t.json", "-f", "jsonl,rhubarb-json"], "must end with one of .jsonl, .rhubarb.json"),
        (["{d}/a.wav", "-o", "{d}/t.bvh", "-f", "jsonl"],
         "-o {d}/t.bvh: a .bvh file is the bvh format's, not the jsonl format's; name the file {d}/t.jsonl"),
        (["{d}/a.wav", "-o", "{d}/t.rhubarb.json", "-f", "rhubarb-tsv"], "name the file {d}/t.tsv"),
        (["{d}/a.wav", "-o", "{d}/t.CSV", "-f", "bvh"], "a .csv file is the llf-csv or visemes format's"),
        (["{d}/a.wav", "-o", "{d}/t.mp4"],
         "-o {d}/t.mp4: a video file name; bake writes animation files (`avatar-bridge preview` renders a video)"),
        (["{d}", "-o", "{d}/clips.mkv"], "-o {d}/clips.mkv: names a file, but the inputs need a folder"),
        (["{d}/a.wav", "-o", "{d}/a.Bake.json", "-f", "rhubarb-json"],
         "-o {d}/a.Bake.json: a name ending in .bake.json is a bake record's"),
        (["{d}/a.wav", "-o", "{d}/.jsonl"], "-o {d}/.jsonl: is only a suffix; name the file (take.jsonl)"),
    ],  # fmt: skip
    ids=[
        "collision",
        "text-for-many",
        "empty-glob",
        "empty-recursive-glob-of-a-missing-folder",
        "unknown-format",
        "weight",
        "shapes",
        "config",
        "overwrite-input",
        "profile",
        "weights",
        "output-is-a-file",
        "output-is-a-file-without-suffix",
        "file-name-for-a-folder",
        "audio-output",
        "suffix-of-no-format",
        "another-formats-suffix",
        "another-formats-long-suffix",
        "another-formats-suffix-in-capitals",
        "video-output",
        "video-name-for-a-folder",
        "bake-record-name",
        "only-a-suffix",
    ],
)
def test_usage_errors_stop_before_baking(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    clip(tmp_path / "a.wav", speech)
    clip(tmp_path / "sub" / "a.wav", speech)
    (tmp_path / "afile").write_text("hi\n")
    assert main(["bake", *(a.format(d=tmp_path) for a in argv), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message.format(d=tmp_path) in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "afile", "sub"]  # nothing written or made
    assert sf.info(str(tmp_path / "a.wav")).frames > 0  # the input is untouched


def test_standard_input_or_a_pipe_is_refused_with_what_to_do(tmp_path: Path) -> None:
    """A pipe is read once and a bake reads its input twice: `cat x.wav | bake /dev/stdin` failed with
    "cannot decode audio (Format not recognised.)"."""
    wav = EXAMPLE_WAV.read_bytes()
    for name in ("-", "/dev/stdin"):
        run = subprocess.run(
            [sys.executable, "-m", "bridge", "bake", name, "-o", str(tmp_path / "x.jsonl")],
            input=wav, capture_output=True, timeout=120,
        )  # fmt: skip
        err = run.stderr.decode()
        assert run.returncode == 2 and len(err.strip().splitlines()) == 1, err
        assert "save the audio to a file first, or stream it live with `avatar-bridge run --input -`" in err
    assert not list(tmp_path.iterdir())


def test_a_baked_tree_copied_elsewhere_stays_up_to_date(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """Sidecars named files by absolute path: a project copied with ``cp -a`` (another checkout, a CI cache)
    baked every line again."""
    clip(tmp_path / "a" / "vo" / "in" / "x.wav", speech)
    args = ["-f", "rhubarb-tsv", "--no-progress"]
    assert main(["bake", str(tmp_path / "a" / "vo" / "in"), "-o", str(tmp_path / "a" / "vo" / "out"), *args]) == 0
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # keeps modification times, as cp -a does
    capsys.readouterr()
    assert main(["bake", str(tmp_path / "b" / "vo" / "in"), "-o", str(tmp_path / "b" / "vo" / "out"), *args]) == 0
    assert "bake: 0 baked, 1 up to date" in capsys.readouterr().err
    (tmp_path / "b" / "vo" / "out" / "x.tsv").write_text("edited\n")  # still checked, file by file
    assert main(["bake", str(tmp_path / "b" / "vo" / "in"), "-o", str(tmp_path / "b" / "vo" / "out"), *args]) == 0
    assert "bake: 1 baked, 0 up to date" in capsys.readouterr().err


def test_outputs_of_formats_no_longer_asked_for_are_named(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """A re-bake with fewer formats left the old files in place without a word: a pipeline importing
    them took old animation for new."""
    clip(tmp_path / "a.wav", speech)
    assert main(["bake", str(tmp_path / "a.wav"), "-f", "jsonl,visemes", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["bake", str(tmp_path / "a.wav"), "-f", "jsonl", "--mood", "happy", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"{tmp_path / 'a.visemes.csv'} from an earlier bake is not written this time and is left as it was" in err
    assert main(["bake", str(tmp_path / "a.wav"), "-f", "jsonl", "--mood", "sad", "--no-progress"]) == 0
    assert "earlier bake" not in capsys.readouterr().err  # said once: the new record no longer lists it
    # A new take baked to the same file: the earlier take's audio is an input, not a stale output.
    clip(tmp_path / "take_v1.wav", speech)
    clip(tmp_path / "take_v2.wav", speech)
    for take in ("take_v1.wav", "take_v2.wav"):
        assert main(["bake", str(tmp_path / take), "-o", str(tmp_path / "out" / "line.jsonl"), "--no-progress"]) == 0
    assert "earlier bake" not in capsys.readouterr().err


def test_installing_espeak_later_bakes_the_lines_with_transcripts_again(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without espeak-ng a name the dictionary lacks is left out; with it, it is guessed and aligned."""
    import bridge.offline.batch as batch

    clip(tmp_path / "scripted.wav", speech)
    (tmp_path / "scripted.txt").write_text("hello zarnak\n")
    clip(tmp_path / "plain.wav", speech)
    args = ["bake", str(tmp_path), "-f", "rhubarb-tsv", "--no-progress"]
    monkeypatch.setattr(batch, "espeak_available", lambda: False)
    assert main(args) == 0
    monkeypatch.setattr(batch, "espeak_available", lambda: True)
    capsys.readouterr()
    assert main(args) == 0
    assert "bake: 1 baked, 1 up to date" in capsys.readouterr().err  # the line with the transcript
    assert main(args) == 0
    assert "bake: 0 baked, 2 up to date" in capsys.readouterr().err


def test_a_file_where_the_bake_record_goes_is_never_overwritten(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    clip(tmp_path / "a.wav", speech)
    clip(tmp_path / "b.wav", speech)
    (tmp_path / "a.bake.json").write_text('{"mouthCues": []}\n')  # a Rhubarb export someone named so
    assert main(["bake", str(tmp_path), "-f", "rhubarb-tsv", "--no-progress"]) == 1
    assert "a.bake.json exists and is not a bake record" in capsys.readouterr().err
    assert (tmp_path / "a.bake.json").read_text() == '{"mouthCues": []}\n'
    assert not (tmp_path / "a.tsv").exists() and (tmp_path / "b.tsv").is_file()  # the other file is baked
    assert main(["bake", str(tmp_path), "-f", "rhubarb-tsv", "--no-progress"]) == 1  # b is up to date, a refused


@pytest.mark.parametrize("cut", [0, 1, 40, -2])
def test_an_empty_or_cut_short_bake_record_is_baked_again(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str], cut: int
) -> None:
    """A record emptied or cut by a crash or a power cut blocked its line for good, --force included."""
    clip(tmp_path / "a.wav", speech)
    args = ["bake", str(tmp_path), "-f", "rhubarb-tsv", "--no-progress"]
    assert main(args) == 0
    record = (tmp_path / "a.bake.json").read_text()
    (tmp_path / "a.bake.json").write_text(record[:cut])
    capsys.readouterr()
    assert main(args) == 0
    assert "bake: 1 baked" in capsys.readouterr().err
    assert json.loads((tmp_path / "a.bake.json").read_text())["digest"] == json.loads(record)["digest"]


def test_an_interrupt_ends_the_progress_bar_s_line(
    tmp_path: Path, speech: tuple[np.ndarray, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C on a terminal printed 'interrupted' at the end of the bar: '8/40  0:04 left14:56:19 INFO ...'."""
    import io

    from bridge.offline import batch

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def interrupted(*_: object) -> Generator[object, None, None]:
        raise KeyboardInterrupt
        yield

    for name in ("a", "b"):
        clip(tmp_path / f"{name}.wav", speech)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(batch, "_pool_results", interrupted)
    assert main(["bake", str(tmp_path), "-f", "rhubarb-tsv"]) == 130
    lines = terminal.getvalue().splitlines()
    assert any(line.endswith("0/2") for line in lines), lines  # the bar's line ends before anything else


def test_an_output_never_overwrites_the_transcript(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    clip(tmp_path / "a.wav", speech)
    (tmp_path / "a.txt").write_text("hello\n")
    assert main(["bake", str(tmp_path / "a.wav"), "-o", str(tmp_path / "a.txt"), "-f", "rhubarb-tsv"]) == 2
    assert f"would overwrite the input {tmp_path / 'a.txt'}" in capsys.readouterr().err
    assert (tmp_path / "a.txt").read_text() == "hello\n"


@pytest.mark.skipif(not GRID.is_dir(), reason=f"GRID dev clips not found at {GRID}")
def test_transcript_file_drives_the_face(tmp_path: Path) -> None:
    src = tmp_path / "lrwp9a.wav"
    src.write_bytes((GRID / "lrwp9a.wav").read_bytes())
    assert main(["bake", str(src), "-o", str(tmp_path / "acoustic"), "--no-text-files", "--no-progress"]) == 0
    (tmp_path / "lrwp9a.txt").write_text("Lay red with P nine again.\n")
    assert main(["bake", str(src), "-o", str(tmp_path / "aligned"), "-f", "jsonl,rhubarb-json", "--no-progress"]) == 0
    sidecar = json.loads((tmp_path / "aligned" / "lrwp9a.bake.json").read_text())
    assert sidecar["aligned"] is True and sidecar["warnings"] == []
    guided = read_jsonl(tmp_path / "aligned" / "lrwp9a.jsonl")
    acoustic = read_jsonl(tmp_path / "acoustic" / "lrwp9a.jsonl")
    assert len(guided) == len(acoustic)
    t = np.array([f["t"] for f in guided])
    close = np.array([f["blendshapes"]["mouthClose"] + 1 - f["blendshapes"]["jawOpen"] for f in guided])  # type: ignore[index]
    # pocketsphinx puts the /p/ of "p" at about 1.25-1.38 s and the /ay/ of "nine" at 1.63-1.79 s.
    assert close[(t > 1.27) & (t < 1.36)].mean() > close[(t > 1.65) & (t < 1.77)].mean()
    cues = json.loads((tmp_path / "aligned" / "lrwp9a.rhubarb.json").read_text())["mouthCues"]
    a_cues = [c for c in cues if c["value"] == "A"]
    assert any(abs(c["start"] - 1.25) < 0.03 for c in a_cues)  # the /p/ closure, from the aligned phones
    # A changed transcript invalidates the outputs.
    (tmp_path / "lrwp9a.txt").write_text("lay red with p nine now\n")
    assert main(["bake", str(src), "-o", str(tmp_path / "aligned"), "-f", "jsonl,rhubarb-json", "--no-progress"]) == 0
    assert json.loads((tmp_path / "aligned" / "lrwp9a.bake.json").read_text())["digest"] != sidecar["digest"]


@pytest.mark.skipif(not GRID.is_dir(), reason=f"GRID dev clips not found at {GRID}")
def test_unknown_transcript_words_fall_back_to_the_acoustic_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = GRID / "bbaf2n.wav"
    assert main(["bake", str(src), "-o", str(tmp_path / "o.jsonl"), "--text", "zzxqv qqzzx", "--no-progress"]) == 0
    assert "not in the pronunciation dictionary" in capsys.readouterr().err
    assert json.loads((tmp_path / "o.bake.json").read_text())["aligned"] is False


HELLO_TEXT = "Hello! I am the avatar bridge. Watch my lips: papa, mama, baby. Five fine vowels, oh you see?"


@pytest.mark.parametrize(("text", "warned"), [(HELLO_TEXT, False), ("papa mama", True)], ids=["right", "two-words"])
def test_a_transcript_that_misses_most_of_the_speech_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, warned: bool
) -> None:
    assert main(["bake", str(EXAMPLE_WAV), "-o", str(tmp_path / "o.jsonl"), "--text", text, "--no-progress"]) == 0
    sidecar = json.loads((tmp_path / "o.bake.json").read_text())
    assert sidecar["aligned"] is True  # the words are still used: the warning asks the user to check them
    notes = [w for w in sidecar["warnings"] if "of the speech heard" in w]
    assert bool(notes) == warned, sidecar["warnings"]
    assert ("check that it says what the audio says" in capsys.readouterr().err) == warned


def test_settings_digest_follows_model_files(tmp_path: Path) -> None:
    """Retrained weights, a refitted head or new upstream weights make earlier bakes stale."""
    head = tmp_path / "head.npz"
    upstream = tmp_path / "wavlm"
    upstream.mkdir()
    head.write_bytes(b"1")
    (upstream / "model.safetensors").write_bytes(b"1")
    cfg = load_config(None, {"model": {"upstream": str(upstream), "head": str(head)}})
    first = settings_digest(cfg, {}, None)
    assert settings_digest(cfg, {}, None) == first
    head.write_bytes(b"22")
    second = settings_digest(cfg, {}, None)
    assert second != first
    (upstream / "model.safetensors").write_bytes(b"333")
    assert settings_digest(cfg, {}, None) != second


def test_a_change_to_the_code_makes_earlier_bakes_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fix between releases changed frames while the version (and so the digest) stayed the same: a
    pipeline kept the old animation as up to date."""
    import bridge
    from bridge.offline import manifest

    same, fixed = tmp_path / "same" / "bridge", tmp_path / "fixed" / "bridge"
    for copy in (same, fixed):
        shutil.copytree(Path(bridge.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    solver = fixed / "face" / "solver.py"
    solver.write_text(solver.read_text() + "\n# a fix\n")
    assert manifest.code_digest(same) == manifest.code_digest()  # the same code wherever it is
    edited = manifest.code_digest(fixed)
    assert edited != manifest.code_digest()
    cfg = load_config(None, {})
    before = settings_digest(cfg, {}, None)
    monkeypatch.setattr(manifest, "code_digest", lambda: edited)  # as if the edited package were installed
    assert settings_digest(cfg, {}, None) != before


def test_an_interrupted_export_leaves_no_partial_file(
    tmp_path: Path, speech: tuple[np.ndarray, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl+C in the middle of writing a long export: no half-written .tmp is left next to the outputs."""
    src = clip(tmp_path / "line.wav", speech)

    def interrupted(take: object, options: object, out: TextIO) -> None:
        out.write("0.00\tX\n")
        raise KeyboardInterrupt

    monkeypatch.setitem(FORMATS, "rhubarb-tsv", dataclasses.replace(FORMATS["rhubarb-tsv"], write=interrupted))
    with pytest.raises(KeyboardInterrupt):
        tsv = (("rhubarb-tsv", tmp_path / "line.tsv"),)
        job = BakeJob(src, tsv, tmp_path / "line.bake.json", None, "digest", (src,))
        bake_file(job, BakeSettings(Config(), ("rhubarb-tsv",), ExportOptions(), 0.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.wav"]


def test_a_folder_of_m4a_lines_is_baked(tmp_path: Path, speech: tuple[np.ndarray, int]) -> None:
    """Lines recorded on a phone arrive as AAC in .m4a: folders pick them up, ffmpeg decodes them."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="ffmpeg comes with the offline extra")
    wav = clip(tmp_path / "src.wav", speech)
    (tmp_path / "in").mkdir()
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(wav), "-c:a", "aac",
         str(tmp_path / "in" / "line.m4a")],
        check=True,
    )  # fmt: skip
    assert main(["bake", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--no-progress"]) == 0
    frames = read_jsonl(tmp_path / "out" / "line.jsonl")
    assert abs(len(frames) - 72) <= 3  # 1.2 s at 60 fps


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_output_that_cannot_be_written_fails_that_file_only(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    """An output folder whose place is taken by a file used to end the batch with "internal error"."""
    for name in ("a", "sub/x", "z"):
        clip(tmp_path / "in" / f"{name}.wav", speech)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").write_text("a file where the output folder goes\n")
    code = main(["bake", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-j", workers, "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert (tmp_path / "out" / "a.jsonl").is_file() and (tmp_path / "out" / "z.jsonl").is_file()
    assert "bake: 2 baked, 0 up to date, 1 failed" in err
    blocked = tmp_path / "out" / "sub"
    reason = f"{blocked / 'x.jsonl'}: cannot write ({blocked} is a file, not a folder)"
    assert f"failed: {tmp_path / 'in' / 'sub' / 'x.wav'}: {reason}" in err, err
    assert "internal error" not in err


def test_a_single_output_under_a_file_is_one_clear_error(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    src = clip(tmp_path / "good.wav", speech)
    (tmp_path / "afile").write_text("hi\n")
    assert main(["bake", str(src), "-o", str(tmp_path / "afile" / "x.jsonl"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "x.jsonl: cannot write (" in err and "afile is a file, not a folder" in err and "internal error" not in err


def test_a_failed_write_on_a_read_only_file_system_keeps_its_own_error(
    tmp_path: Path, speech: tuple[np.ndarray, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a read-only file system removing the temporary file fails too; that second error used to win."""
    src = clip(tmp_path / "line.wav", speech)

    real_open = os.open

    def read_only(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith(".tmp"):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(path, flags, *args, **kwargs)

    def unlink(self: Path, missing_ok: bool = False) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "open", read_only)
    monkeypatch.setattr(Path, "unlink", unlink)
    job = BakeJob(src, (("jsonl", tmp_path / "line.jsonl"),), tmp_path / "line.bake.json", None, "digest", (src,))
    with pytest.raises(BridgeError, match=r"line\.jsonl: cannot write \(Read-only file system\)"):
        bake_file(job, BakeSettings(Config(), ("jsonl",), ExportOptions(), 0.0))


def test_an_os_error_of_one_file_does_not_end_the_batch(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk under a temporary file (or any OS error a bake step does not wrap) fails that file only."""
    import bridge.offline.batch as batch

    for name in ("a", "b"):
        clip(tmp_path / "in" / f"{name}.wav", speech)

    def bake_or_fail(job: BakeJob, settings: BakeSettings) -> object:
        if job.source.name == "a.wav":
            raise OSError(errno.ENOSPC, "No space left on device", "/tmp/decoded.wav")
        return bake_file(job, settings)

    monkeypatch.setattr(batch, "bake_file", bake_or_fail)
    assert main(["bake", str(tmp_path / "in"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "bake: 1 baked, 0 up to date, 1 failed" in err
    assert f"failed: {tmp_path / 'in' / 'a.wav'}: /tmp/decoded.wav: No space left on device" in err


def test_a_worker_that_dies_fails_its_own_file_and_the_rest_is_baked(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed by the system (the OOM killer) stopped the whole batch with an internal error,
    without naming the file or the summary."""
    import bridge.offline.batch as batch

    for name in ("a", "b", "killer", "d", "e"):
        clip(tmp_path / "in" / f"{name}.wav", speech)
    real = batch._bake_one

    def bake_or_die(job: BakeJob, settings: BakeSettings) -> object:
        if job.source.stem == "killer":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(job, settings)

    monkeypatch.setattr(batch, "_bake_one", bake_or_die)  # the forked workers inherit it
    code = main(["bake", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-j", "2", "-f", "rhubarb-tsv",
                 "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "internal error" not in err, err
    assert "bake: 4 baked, 0 up to date, 1 failed" in err
    assert f"failed: {tmp_path / 'in' / 'killer.wav'}: the process baking it ended abruptly" in err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.tsv")) == ["a.tsv", "b.tsv", "d.tsv", "e.tsv"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_file_that_runs_out_of_memory_fails_alone(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    workers: str,
) -> None:
    """A MemoryError (a damaged header asking for 9 TiB) was an internal error: -j 1 lost the files after it,
    -j 2 every file."""
    import bridge.offline.batch as batch

    for name in ("a", "huge", "c"):
        clip(tmp_path / "in" / f"{name}.wav", speech)
    real = batch.bake_file

    def bake_or_exhaust(job: BakeJob, settings: BakeSettings) -> object:
        if job.source.stem == "huge":
            raise MemoryError("Unable to allocate 9.00 TiB")
        return real(job, settings)

    monkeypatch.setattr(batch, "bake_file", bake_or_exhaust)  # the forked workers inherit it
    code = main(["bake", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-j", workers, "-f", "rhubarb-tsv",
                 "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "internal error" not in err, err
    assert f"failed: {tmp_path / 'in' / 'huge.wav'}: ran out of memory (Unable to allocate 9.00 TiB)" in err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.tsv")) == ["a.tsv", "c.tsv"]


def test_warnings_about_the_audio_stay_in_the_bake_record(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """A cut-short file was said so once; its sidecar said nothing, and reruns skip it as up to date."""
    import struct

    x, rate = speech
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16)
    (tmp_path / "cut.wav").write_bytes(b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " + fmt + b"data"
                                       + struct.pack("<I", 2 * len(pcm)) + pcm)  # fmt: skip
    assert main(["bake", str(tmp_path / "cut.wav"), "-f", "rhubarb-tsv", "--no-progress"]) == 0
    assert capsys.readouterr().err.count("the file is cut short") == 1  # logged once, not twice
    record = json.loads((tmp_path / "cut.bake.json").read_text())
    assert [w for w in record["warnings"] if w.startswith("the file is cut short (an interrupted copy?)")], record


def test_temporary_files_of_a_bake_that_died_are_removed(tmp_path: Path, speech: tuple[np.ndarray, int]) -> None:
    clip(tmp_path / "a.wav", speech)
    dead = subprocess.Popen(["true"])  # a process that has ended: nothing runs under its pid
    dead.wait()
    stale = tmp_path / f"a.tsv.{dead.pid}.0123abcd.tmp"
    running = tmp_path / f"a.tsv.{os.getpid()}.0123abcd.tmp"  # another bake still writing
    for p in (stale, running):
        p.write_text("half an export")
    assert main(["bake", str(tmp_path / "a.wav"), "-f", "rhubarb-tsv", "--no-progress"]) == 0
    assert not stale.exists() and running.exists()


def test_an_output_name_near_the_file_name_limit_is_written(tmp_path: Path, speech: tuple[np.ndarray, int]) -> None:
    """The temporary name (<name>.<pid>.<random>.tmp) passed the 255-byte limit where the output's own did not."""
    stem = "\u00e9" * 118  # 236 bytes in UTF-8: the sidecar's name (246 bytes) fits, with its temporary suffix not
    clip(tmp_path / f"{stem}.wav", speech)
    assert main(["bake", str(tmp_path), "-f", "jsonl", "--no-progress"]) == 0
    assert (tmp_path / f"{stem}.jsonl").is_file() and (tmp_path / f"{stem}.bake.json").is_file()
    assert not list(tmp_path.glob("*.tmp"))


def test_an_interrupt_stops_a_parallel_bake_at_once(
    tmp_path: Path, speech: tuple[np.ndarray, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl+C (or SIGTERM) during ``-j 2`` used to wait until every queued file was baked.

    Every export here blocks after writing part of its file; the first one interrupts the parent.
    The workers must be stopped in the middle (no output, no sidecar, no temporary file left) and
    the queued files never started.
    """
    for i in range(6):
        clip(tmp_path / "in" / f"c{i}.wav", speech)
    real = FORMATS["rhubarb-tsv"]

    def slow(take: Take, options: ExportOptions, out: TextIO) -> None:
        out.write("0.00\tX\n")
        out.flush()
        if take.source.name == "c0.wav":
            os.kill(os.getppid(), signal.SIGINT)
        time.sleep(5)  # the parent ends the worker long before this
        real.write(take, options, out)

    monkeypatch.setitem(FORMATS, "rhubarb-tsv", dataclasses.replace(real, write=slow))
    out = tmp_path / "out"
    assert main(["bake", str(tmp_path / "in"), "-o", str(out), "-f", "rhubarb-tsv", "-j", "2", "--no-progress"]) == 130
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert left == [], left


def test_channel_selects_one_channel_of_each_file(tmp_path: Path, speech: tuple[np.ndarray, int]) -> None:
    """The README promises '--channel N' for audio files; bake downmixed and ignored [audio] channel."""
    x, rate = speech
    src = tmp_path / "l_only.wav"
    sf.write(str(src), np.stack([x, np.zeros_like(x)], axis=1), rate)

    def max_voice(out: Path) -> float:
        return max(float(f["voice"]) for f in read_jsonl(out))  # type: ignore[arg-type]

    assert main(["bake", str(src), "-o", str(tmp_path / "mix.jsonl"), "--no-progress"]) == 0
    assert main(["bake", str(src), "-o", str(tmp_path / "right.jsonl"), "--channel", "1", "--no-progress"]) == 0
    (tmp_path / "ch1.toml").write_text("[audio]\nchannel = 1\n")
    assert main(["bake", str(src), "-o", str(tmp_path / "cfg.jsonl"), "--config", str(tmp_path / "ch1.toml"),
                 "--no-progress"]) == 0  # fmt: skip
    assert max_voice(tmp_path / "mix.jsonl") > 0.5
    assert max_voice(tmp_path / "right.jsonl") == 0.0 and max_voice(tmp_path / "cfg.jsonl") == 0.0
    mix = json.loads((tmp_path / "mix.bake.json").read_text())["digest"]
    assert json.loads((tmp_path / "right.bake.json").read_text())["digest"] != mix


@pytest.mark.parametrize("to_folder", [True, False], ids=["-o", "next-to-inputs"])
def test_every_output_path_is_checked_for_collisions(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str], to_folder: bool
) -> None:
    """``y.wav``'s viseme track and ``y.visemes.wav``'s Live Link Face CSV are both ``y.visemes.csv``."""
    col = tmp_path / "col"
    for name in ("y.wav", "y.visemes.wav", "a.wav", "a.flac", "ok.wav"):
        clip(col / name, speech)
    out = ["-o", str(tmp_path / "out")] if to_folder else []
    assert main(["bake", str(col), *out, "-f", "llf-csv,visemes", "--no-progress"]) == 2
    err = capsys.readouterr().err
    stem = tmp_path / "out" if to_folder else col
    assert len(err.strip().splitlines()) == 1, err
    assert f"{col / 'a.wav'} and {col / 'a.flac'} would write the same outputs ({stem / 'a.csv'}, " in err
    assert f"{col / 'y.wav'} and {col / 'y.visemes.wav'} would write the same outputs ({stem / 'y.visemes.csv'})" in err
    assert not (tmp_path / "out").exists() and not (col / "ok.csv").exists()


def test_a_recursive_glob_does_not_follow_symlink_loops(tmp_path: Path, speech: tuple[np.ndarray, int]) -> None:
    """Two links to ``.`` made glob's ``**`` walk 2^40 paths; a linked folder is now entered once at most."""
    from bridge.offline.batch import Found, collect_inputs

    loops = tmp_path / "loops"
    clip(loops / "a.wav", speech)
    clip(loops / "deep" / "b.wav", speech)
    (loops / "l1").symlink_to(".")
    (loops / "l2").symlink_to(".")

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("collect_inputs is walking the symlink loops")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    try:
        found, unreadable = collect_inputs((f"{loops}/**/*.wav",))
        assert collect_inputs((str(loops),)) == (found, unreadable)  # a folder walks the same way
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert found == [Found(loops / "a.wav", loops), Found(loops / "deep" / "b.wav", loops)] and unreadable == []


def test_linked_folders_are_baked_once(tmp_path: Path, speech: tuple[np.ndarray, int]) -> None:
    """A voice-over tree whose chapters are links to other folders: they were skipped without a word."""
    clip(tmp_path / "vo" / "chapter0" / "a.wav", speech)
    clip(tmp_path / "elsewhere" / "b.wav", speech)
    (tmp_path / "vo" / "chapter1").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "vo" / "again").symlink_to(tmp_path / "elsewhere")  # the same folder twice: baked once
    assert main(["bake", str(tmp_path / "vo"), "-o", str(tmp_path / "out"), "-f", "rhubarb-tsv", "--no-progress"]) == 0
    outputs = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.tsv"))
    assert outputs == ["again/b.tsv", "chapter0/a.tsv"]  # the first link by name


def test_files_and_folders_that_cannot_be_read_fail_by_name_and_the_rest_is_baked(
    speech: tuple[np.ndarray, int],
) -> None:
    """An unreadable subfolder was skipped in silence (exit 0); an unsearchable one ended the batch with
    an internal error; an unreadable file was "cannot decode audio (System error.)"."""
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    if as_nobody and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions would not apply")
    with tempfile.TemporaryDirectory() as base:  # under /tmp, which the unprivileged user can reach
        _bake_with_unreadable_parts(Path(base), speech, as_nobody)


def _bake_with_unreadable_parts(tmp_path: Path, speech: tuple[np.ndarray, int], as_nobody: list[str]) -> None:
    clip(tmp_path / "in" / "ok" / "a.wav", speech)
    clip(tmp_path / "in" / "locked" / "b.wav", speech)
    clip(tmp_path / "in" / "listable" / "c.wav", speech)
    clip(tmp_path / "in" / "ok" / "secret.wav", speech)
    for d in (tmp_path, tmp_path / "in", tmp_path / "in" / "ok"):
        d.chmod(0o777)
    (tmp_path / "in" / "locked").chmod(0o000)
    (tmp_path / "in" / "listable").chmod(0o644)  # its names can be listed, not looked at
    (tmp_path / "in" / "ok" / "secret.wav").chmod(0o000)
    try:
        proc = subprocess.run([*as_nobody, sys.executable, "-m", "bridge", "bake", str(tmp_path / "in"), "-o",
                               str(tmp_path / "out"), "-f", "rhubarb-tsv", "--no-progress"],
                              capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2])  # fmt: skip
    finally:
        for d in ("locked", "listable"):
            (tmp_path / "in" / d).chmod(0o755)
    assert proc.returncode == 1 and "internal error" not in proc.stderr, proc.stderr
    assert "bake: 1 baked, 0 up to date, 3 failed" in proc.stderr
    assert f"failed: {tmp_path / 'in' / 'locked'}: cannot read the folder (Permission denied)" in proc.stderr
    assert f"failed: {tmp_path / 'in' / 'listable' / 'c.wav'}: cannot read (Permission denied)" in proc.stderr
    assert f"failed: {tmp_path / 'in' / 'ok' / 'secret.wav'}: cannot read (Permission denied)" in proc.stderr
    assert (tmp_path / "out" / "ok" / "a.tsv").is_file()


def test_a_broken_symlink_named_as_input_fails_that_file_only(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    good = clip(tmp_path / "base" / "x.wav", speech)
    (tmp_path / "sl").mkdir()
    loopy = tmp_path / "sl" / "loopy.wav"
    loopy.symlink_to("loopy.wav")
    dangling = tmp_path / "sl" / "gone.wav"
    dangling.symlink_to("nowhere.wav")
    code = main(["bake", str(good), str(loopy), str(dangling), "-o", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "internal error" not in err, err
    assert "bake: 1 baked, 0 up to date, 2 failed" in err
    assert f"failed: {loopy}: a symbolic link loop" in err
    assert f"failed: {dangling}: a dangling symbolic link (to nowhere.wav)" in err
    assert (tmp_path / "o" / "x.jsonl").is_file()


def test_broken_symlinks_in_a_folder_are_named_in_a_warning(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    clip(tmp_path / "in" / "good.wav", speech)
    (tmp_path / "in" / "gone.wav").symlink_to("nowhere.wav")
    (tmp_path / "in" / "loopy.flac").symlink_to("loopy.flac")
    assert main(["bake", str(tmp_path / "in"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "skipped 2 broken symbolic links (dangling or looping): " in err, err
    assert str(tmp_path / "in" / "gone.wav") in err and str(tmp_path / "in" / "loopy.flac") in err


def test_a_symlinked_duplicate_leaves_the_real_path(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """``other/alias.wav`` sorts before ``real/a.wav``; the real path keeps its outputs and the alias is named."""
    real = clip(tmp_path / "sl" / "real" / "a.wav", speech)
    (tmp_path / "sl" / "other").mkdir()
    alias = tmp_path / "sl" / "other" / "alias.wav"
    alias.symlink_to("../real/a.wav")
    out = tmp_path / "out"
    assert main(["bake", str(tmp_path / "sl"), "-o", str(out), "--no-progress"]) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "real/a.bake.json", "real/a.jsonl"
    ]  # fmt: skip
    assert f"{alias}: skipped, the same file as {real}" in capsys.readouterr().err


def test_output_names_for_several_formats_and_folders(tmp_path: Path, speech: tuple[np.ndarray, int]) -> None:
    """The -o rules of docs/offline.md that are accepted: the format named by the suffix gets that exact file."""
    src = clip(tmp_path / "line.wav", speech)
    assert main(["bake", str(src), "-o", str(tmp_path / "o" / "take.rhubarb.json"), "-f", "jsonl,rhubarb-json",
                 "--no-progress"]) == 0  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["take.bake.json", "take.jsonl", "take.rhubarb.json"]
    assert main(["bake", str(src), "-o", f"{tmp_path / 'baked.jsonl'}/", "--no-progress"]) == 0  # a slash: a folder
    assert (tmp_path / "baked.jsonl" / "line.jsonl").is_file()
    clip(tmp_path / "in" / "b.wav", speech)
    assert main(["bake", str(tmp_path / "in"), "-o", str(tmp_path / "takes.v2"), "--no-progress"]) == 0
    assert (tmp_path / "takes.v2" / "b.jsonl").is_file()


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("t.jsonl", "jsonl"), ("t.csv", "visemes"), ("t.visemes.csv", "llf-csv"), ("t.json", "rhubarb-json"),
     ("t.BVH", "bvh"), ("t.txt", "rhubarb-tsv")],
    ids=["own suffix", "visemes are a CSV", "a CSV", "Rhubarb's JSON", "capitals", "no format's suffix"],
)  # fmt: skip
def test_one_format_takes_a_file_of_its_own_type(tmp_path: Path, name: str, fmt: str) -> None:
    from bridge.offline.batch import BakeRequest, Found, plan_outputs

    settings = BakeSettings(load_config(None, {}), (fmt,), ExportOptions(), 0.7)
    request = BakeRequest(inputs=("a.wav",), output=tmp_path / name, settings=settings)
    [(_, outputs, _)] = plan_outputs(request, [Found(tmp_path / "a.wav", None)])
    assert outputs == ((fmt, tmp_path / name),)


def test_outputs_that_differ_only_in_case_are_warned_about(
    tmp_path: Path, speech: tuple[np.ndarray, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """``A.wav`` and ``a.wav`` are two files here, one on macOS or Windows: baked, with one warning per pair."""
    src = tmp_path / "in"
    clip(src / "A.wav", speech)
    if (src / "a.wav").exists():
        pytest.skip("this file system ignores letter case")
    for name in ("a.wav", "b.wav"):
        clip(src / name, speech)
    assert main(["bake", str(src), "-o", str(tmp_path / "out"), "-f", "jsonl,bvh", "--no-progress"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "WARNING" in line]
    out = tmp_path / "out"
    assert len(warnings) == 1, warnings
    assert (f"{src / 'A.wav'} and {src / 'a.wav'} write outputs whose paths differ only in letter case "
            f"({out / 'A.jsonl'} and {out / 'a.jsonl'}, {out / 'A.bvh'} and {out / 'a.bvh'}, "
            f"{out / 'A.bake.json'} and {out / 'a.bake.json'}): on a case-insensitive") in warnings[0]  # fmt: skip
    assert sorted(p.name for p in out.glob("*.jsonl")) == ["A.jsonl", "a.jsonl", "b.jsonl"]
