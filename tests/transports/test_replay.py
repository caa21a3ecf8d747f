"""Recording and replay: frames round-trip exactly and are re-sent with their original timing."""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_message import OscMessage

from bridge.cli import main
from bridge.errors import ProtocolError, TransportError
from bridge.frames import AnimationFrame
from bridge.transports.golden import rig_frames, sample_frames
from bridge.transports.recorder import RecorderSink, read_recording
from bridge.transports.replay import replay
from tests.conftest import EXAMPLE_WAV, ROOT


class ListSink:
    name = "list"

    def __init__(self) -> None:
        self.frames: list[AnimationFrame] = []

    def send(self, frame: AnimationFrame, /) -> None:
        self.frames.append(frame)

    def close(self) -> None:
        pass


class FakeTime:
    def __init__(self) -> None:
        self.now = 50.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def _record(path: Path, gaps_s: list[float]) -> list[AnimationFrame]:
    frames = []
    t = 1000.0
    base = sample_frames()
    rec = RecorderSink(path)
    for i, gap in enumerate(gaps_s):
        t += gap
        f = replace(base[i % 3], seq=i, t_publish_s=t, t_capture_s=t - 0.04)
        frames.append(f)
        rec.send(f)
    rec.close()
    return frames


def _same(a: AnimationFrame, b: AnimationFrame) -> bool:
    pa, pb = a.pose, b.pose
    arrays = all(
        np.array_equal(getattr(pa, k), getattr(pb, k)) for k in ("blendshapes", "joints", "ema", "visemes", "vrm")
    )
    return arrays and (a.seq, a.t_s, a.fps, a.subject, pa.viseme, pa.mood) == (
        b.seq, b.t_s, b.fps, b.subject, pb.viseme, pb.mood,
    )  # fmt: skip


def test_recording_round_trips_every_field(tmp_path: Path) -> None:
    frames = _record(tmp_path / "r.jsonl", [0.0, 0.02, 0.01])
    back = list(read_recording(tmp_path / "r.jsonl"))
    assert [t for t, _ in back] == pytest.approx([0.0, 0.02, 0.03])
    for a, (_, b) in zip(frames, back, strict=True):
        assert _same(a, b)
        assert b.t_publish_s == a.t_publish_s


def test_replay_keeps_the_original_timing(tmp_path: Path) -> None:
    frames = _record(tmp_path / "r.jsonl", [0.0, 0.0167, 0.0167, 0.1, 0.0166])
    fake, sink = FakeTime(), ListSink()
    assert replay(tmp_path / "r.jsonl", [sink], clock=fake.clock, sleep=fake.sleep) == 5
    sent = [f.t_publish_s - 50.0 for f in sink.frames]
    assert sent == pytest.approx([0.0, 0.0167, 0.0334, 0.1334, 0.15], abs=1e-6)
    for a, b in zip(frames, sink.frames, strict=True):
        assert _same(a, b)
        assert b.t_publish_s - b.t_capture_s == pytest.approx(0.04)
    fast, sink2 = FakeTime(), ListSink()
    replay(tmp_path / "r.jsonl", [sink2], speed=2.0, clock=fast.clock, sleep=fast.sleep)
    assert sink2.frames[-1].t_publish_s - 50.0 == pytest.approx(0.075, abs=1e-6)


def test_bad_recordings_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="cannot read"):
        list(read_recording(tmp_path / "missing.jsonl"))
    (tmp_path / "plain.txt").write_text("hello\n")
    with pytest.raises(ProtocolError, match="not an avatar-bridge recording"):
        list(read_recording(tmp_path / "plain.txt"))
    _record(tmp_path / "r.jsonl", [0.0, 0.01])
    lines = (tmp_path / "r.jsonl").read_bytes().splitlines()
    (tmp_path / "cut.jsonl").write_bytes(b"\n".join([lines[0], lines[1], lines[2][:50]]) + b"\n")
    with pytest.raises(ProtocolError, match="cut.jsonl:3"):
        list(read_recording(tmp_path / "cut.jsonl"))


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        ("blendshapes", [0.5] * 17 + ["NaN"] + [0.5] * 34, "NaN is not a valid JSON number"),
        ("joints", ["Infinity"] + [0.0] * 11, "Infinity is not a valid JSON number"),
        ("blendshapes", [5.0] + [0.5] * 51, r"blendshapes\[0\]: must be between 0 and 1, got 5.0"),
        ("vrm", [0.0] * 9 + [-3.0], r"vrm\[9\]: must be between 0 and 1"),
        ("t_s", "NaN", "NaN is not a valid JSON number"),
        ("t_s", 1e300, "t_s: must be between"),
        ("t_rel_s", -5.0, "t_rel_s: must be between"),
        ("fps", 2**40, "fps: expected one of 30, 60, 100, got 1099511627776"),
        ("fps", 0, "fps: expected one of 30, 60, 100"),
        ("fps", 25, "fps: expected one of 30, 60, 100, got 25"),
        ("fps", 60.0, "fps: expected one of 30, 60, 100, got 60.0"),
        ("viseme", 123, "viseme: must be one of"),
        ("mood", "\u0000evil", "mood: must be one of"),
        ("voice", None, "voice: expected a number"),
        ("voice", 10**400, "bad recording line: int too large to convert to float"),
        ("voice", "DEEP", "bad recording line: nested too deeply"),
    ],
    ids=["nan weight", "inf joint", "weight 5", "vrm -3", "t_s nan", "t_s huge", "t_rel_s negative", "fps huge",
         "fps 0", "fps 25 (no wire schema allows it)", "fps float",
         "viseme int", "mood nul", "voice null", "voice 400 digits", "nested 100000 deep"],
)  # fmt: skip
def test_values_no_publisher_can_send_are_errors_naming_file_and_line(
    tmp_path: Path, key: str, value: object, expect: str
) -> None:
    _record(tmp_path / "r.jsonl", [0.0, 0.01])
    header, first, second = (tmp_path / "r.jsonl").read_text().splitlines()
    obj = json.loads(first)
    obj[key] = value
    bad = json.dumps(obj).replace('"NaN"', "NaN").replace('"Infinity"', "Infinity")
    bad = bad.replace('"DEEP"', "[" * 100_000 + "]" * 100_000)
    (tmp_path / "bad.jsonl").write_text("\n".join([header, second, bad]) + "\n")
    with pytest.raises(ProtocolError, match=f"bad.jsonl:3: {expect}"):
        list(read_recording(tmp_path / "bad.jsonl"))
    assert main(["replay", str(tmp_path / "bad.jsonl"), "--no-zmq", "--vmc", "127.0.0.1:9"]) == 1


def test_rig_channels_round_trip_exactly(tmp_path: Path) -> None:
    rec = RecorderSink(tmp_path / "r.jsonl")
    frame = replace(rig_frames()[0], t_publish_s=5.0)
    rec.send(frame)
    rec.close()
    [(_, back)] = read_recording(tmp_path / "r.jsonl")
    assert _same(frame, back) and back.rig is not None and frame.rig is not None
    assert (back.rig.profile, back.rig.names) == (frame.rig.profile, frame.rig.names)
    np.testing.assert_array_equal(back.rig.values, frame.rig.values)
    assert back.rig.values.dtype == np.float32


def test_a_profiled_run_replays_its_rig_channels(tmp_path: Path) -> None:
    # --record used to drop the rig channels, so a replay of a run with --profile sent none.
    from bridge.face import load_profile

    take = tmp_path / "take.jsonl"
    assert main(["run", "--input", str(EXAMPLE_WAV), "--fast", "--no-zmq", "--no-status", "--profile", "vrm0",
                 "--record", str(take)]) == 0  # fmt: skip
    recorded = [f for _, f in read_recording(take)]
    profile = load_profile("vrm0")
    assert len(recorded) > 400 and all(f.rig is not None and f.rig.profile == profile.name for f in recorded)
    for f in recorded[::50]:
        np.testing.assert_array_equal(f.rig.values, profile.channels(f.pose).values)  # type: ignore[union-attr]
    fake, sink = FakeTime(), ListSink()
    replay(take, [sink], clock=fake.clock, sleep=fake.sleep)
    for a, b in zip(recorded, sink.frames, strict=True):
        assert a.rig is not None and b.rig is not None
        assert b.rig.names == a.rig.names and np.array_equal(b.rig.values, a.rig.values)


@pytest.mark.parametrize(
    ("rig", "expect"),
    [
        ([1, 2], "rig: expected"),
        ({"profile": "p", "channels": {}}, "rig.channels: expected 1-1024 channels, got 0"),
        ({"profile": "p", "channels": {"jaw": "open"}}, r"rig.channels\['jaw'\]: expected a number"),
        ({"profile": "p", "channels": {"jaw": "NaN"}}, "NaN is not a valid JSON number"),
        ({"profile": "p", "channels": {"jaw": 1e9}}, r"rig.channels\['jaw'\]: must be between -1000 and 1000"),
        ({"profile": "p", "channels": {"ja\u001bw": 0.5}}, "rig channel name: expected 1-256 printable"),
        ({"channels": {"jaw": 0.5}}, "rig.profile: expected 1-256 printable characters, got None"),
    ],
    ids=["list", "no channels", "string value", "nan value", "huge value", "escape in name", "no profile"],
)
def test_malformed_rig_channels_are_errors_naming_file_and_line(tmp_path: Path, rig: object, expect: str) -> None:
    _record(tmp_path / "r.jsonl", [0.0])
    header, first = (tmp_path / "r.jsonl").read_text().splitlines()
    obj = json.loads(first)
    obj["rig"] = rig
    (tmp_path / "bad.jsonl").write_text("\n".join([header, json.dumps(obj).replace('"NaN"', "NaN")]) + "\n")
    with pytest.raises(ProtocolError, match=f"bad.jsonl:2: {expect}"):
        list(read_recording(tmp_path / "bad.jsonl"))


class BrokenSink(ListSink):
    name = "broken"

    def send(self, frame: AnimationFrame, /) -> None:
        raise ValueError("math domain error")


def test_a_failing_publisher_does_not_end_the_replay_for_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frames = _record(tmp_path / "r.jsonl", [0.0, 0.01, 0.01, 0.01])
    good = ListSink()
    fake = FakeTime()
    assert replay(tmp_path / "r.jsonl", [BrokenSink(), good], clock=fake.clock, sleep=fake.sleep) == 4
    assert [f.seq for f in good.frames] == [f.seq for f in frames]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2 and "broken publisher failed: ValueError: math domain error" in errors[0]
    assert "(and 3 more in" in errors[1]


def test_a_recording_cut_off_mid_line_replays_up_to_the_cut(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A crash or a full disk leaves a last line without its newline: the frames before it are kept."""
    frames = _record(tmp_path / "r.jsonl", [0.0, 0.01, 0.01])
    data = (tmp_path / "r.jsonl").read_bytes()
    (tmp_path / "cut.jsonl").write_bytes(data[: data.rindex(b"\n", 0, -1) + 40])
    back = list(read_recording(tmp_path / "cut.jsonl"))
    assert [f.seq for _, f in back] == [0, 1] and _same(back[1][1], frames[1])
    assert "cut.jsonl:4: the last line is cut off" in caplog.text


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full (every write: no space left)")
def test_a_full_disk_stops_the_recording_not_the_stream(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = RecorderSink("/dev/full")
    frame = sample_frames()[0]
    for i in range(3):
        rec.send(replace(frame, seq=i))
    rec.close()
    assert rec.failure == "No space left on device" and rec.frames == 0
    assert "recording /dev/full stopped after 0 frames" in caplog.text and "the stream goes on" in caplog.text
    assert main(["run", "--input", str(EXAMPLE_WAV), "--fast", "--no-status", "--record", "/dev/full"]) == 1
    err = capsys.readouterr().err
    assert "stopped after 508 frames" in err
    assert err.splitlines()[-1].endswith("ERROR bridge.transports.sinks: recording /dev/full failed (No space left on "
                                         "device): the file keeps only the first 0 frames; the live stream was not "
                                         "interrupted")  # fmt: skip


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full (every write: no space left)")
def test_a_replay_whose_copy_cannot_be_written_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _record(tmp_path / "r.jsonl", [0.0, 0.01, 0.01])
    assert main(["replay", str(tmp_path / "r.jsonl"), "--no-zmq", "--record", "/dev/full"]) == 1
    err = capsys.readouterr().err
    assert "replayed 3 frames" in err and "recording /dev/full failed (No space left on device)" in err


def _limit_file_size() -> None:
    # A file size limit fails writes past it with EFBIG, as a full disk fails them with ENOSPC (Python
    # ignores the SIGXFSZ that comes with it).
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.RLIM_INFINITY))


def test_a_recording_cut_short_mid_stream_ends_run_non_zero_and_says_what_the_file_keeps(tmp_path: Path) -> None:
    """``run`` exited 0 after its recording failed halfway; the error line said "about" how many frames."""
    take = tmp_path / "take.jsonl"
    p = subprocess.run(
        [sys.executable, "-m", "bridge", "run", "--input", str(EXAMPLE_WAV), "--fast", "--no-zmq", "--no-status",
         "--record", str(take)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, preexec_fn=_limit_file_size,
    )  # fmt: skip
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr and "stopped after 508 frames" in p.stderr, p.stderr  # the stream went on
    kept = list(read_recording(take))
    assert 0 < len(kept) < 508 and take.stat().st_size == 100_000
    assert p.stderr.splitlines()[-1].endswith(
        f"recording {take} failed (File too large): the file keeps only the first {len(kept)} frames; the live "
        "stream was not interrupted"
    ), p.stderr


def test_cli_replay_republishes_to_osc(tmp_path: Path) -> None:
    _record(tmp_path / "r.jsonl", [0.0, 0.01, 0.01])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    port = sock.getsockname()[1]
    code = main(["replay", str(tmp_path / "r.jsonl"), "--no-zmq", "--osc", f"127.0.0.1:{port}", "--no-osc-bundle",
                 "--record", str(tmp_path / "again.jsonl")])  # fmt: skip
    assert code == 0
    seqs = []
    while len(seqs) < 3:
        msg = OscMessage(sock.recv(4096))
        if msg.address == "/avatar/v1/frame":
            seqs.append(msg.params[1])
    sock.close()
    assert seqs == [0, 1, 2]
    assert len(list(read_recording(tmp_path / "again.jsonl"))) == 3
    assert main(["replay", str(tmp_path / "missing.jsonl"), "--no-zmq"]) == 1


def test_replay_refuses_to_record_over_the_recording_it_plays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``replay X --record X`` emptied X before reading it: the take was lost."""
    take = tmp_path / "take.jsonl"
    _record(take, [0.0, 0.01, 0.01])
    before = take.read_bytes()
    assert main(["replay", str(take), "--no-zmq", "--record", str(take)]) == 2
    assert f"--record {take}: would overwrite the input {take}" in capsys.readouterr().err
    assert take.read_bytes() == before


def test_a_stalled_recording_never_holds_up_the_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipe whose reader stopped reading froze every publisher once its buffer was full."""
    import os
    import time

    fifo = tmp_path / "take.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # there, but never reads
    monkeypatch.setattr(RecorderSink, "QUEUE_FRAMES", 50)
    monkeypatch.setattr(RecorderSink, "CLOSE_WAIT_S", 0.2)
    try:
        rec = RecorderSink(fifo)
        frame = sample_frames()[0]
        t0 = time.monotonic()
        for i in range(500):  # ~1 MB: the pipe's 64 KiB fill after a few dozen frames
            rec.send(replace(frame, seq=i))
        assert time.monotonic() - t0 < 2.0  # never waited on the pipe
        rec.close()
        assert rec.failure is not None and "stopped taking writes" in rec.failure
        assert 0 < rec.frames < 500
    finally:
        os.close(reader)


def test_a_fast_run_records_the_pace_of_the_stream(tmp_path: Path) -> None:
    """``run --fast --record`` stored the publish times of a run 10x faster than real time: the replay raced."""
    take = tmp_path / "take.jsonl"
    assert main(["run", "--input", str(EXAMPLE_WAV), "--fast", "--no-zmq", "--no-status", "--record", str(take)]) == 0
    frames = list(read_recording(take))
    t_rel = [t for t, _ in frames]
    t_s = [f.t_s for _, f in frames]
    assert t_rel[-1] == pytest.approx(t_s[-1] - t_s[0], abs=1e-6) and t_rel[-1] > 8.0


def test_a_looped_replay_goes_on_counting(tmp_path: Path) -> None:
    """Each pass of --loop restarted seq and stream time at 0: receivers that drop frames going back stalled."""
    from bridge.transports.replay import _pass_length

    frames = _record(tmp_path / "r.jsonl", [0.0, 0.01, 0.01])
    seq_step, t_step_s = _pass_length(tmp_path / "r.jsonl")
    assert seq_step == 3 and t_step_s == pytest.approx(frames[2].t_s - frames[0].t_s + 1 / frames[2].fps)
    sink = ListSink()
    for n in range(3):
        fake = FakeTime()
        replay(tmp_path / "r.jsonl", [sink], clock=fake.clock, sleep=fake.sleep, seq_offset=n * seq_step,
               t_offset_s=n * t_step_s)  # fmt: skip
    assert [f.seq for f in sink.frames] == list(range(9))
    t = [f.t_s for f in sink.frames]
    assert all(b > a for a, b in zip(t, t[1:], strict=False))



def test_replay_has_no_control_channel_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`replay --help` offered --control-zmq, which replay then ignored: a status request got no reply."""
    take = tmp_path / "take.jsonl"
    _record(take, [0.0, 0.01])
    with pytest.raises(SystemExit) as e:
        main(["replay", str(take), "--no-zmq", "--control-zmq", "tcp://127.0.0.1:5556"])
    assert e.value.code == 2 and "unrecognized arguments: --control-zmq" in capsys.readouterr().err


@pytest.mark.parametrize("speed", ["1e-300", "0.001", "1e9", "nan"])
def test_replay_speed_outside_its_range_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], speed: str
) -> None:
    """--speed 1e-300 was an internal error (OverflowError: timestamp out of range)."""
    _record(tmp_path / "r.jsonl", [0.0, 0.01])
    assert main(["replay", str(tmp_path / "r.jsonl"), "--no-zmq", "--speed", speed]) == 2
    assert "--speed: must be between 0.01 and 1000" in capsys.readouterr().err
