"""Bad input ends in one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import ROOT, write_wav

if TYPE_CHECKING:
    import zmq

    from bridge.transports.messages import ControlReply


def run_cli(*args: str, stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args], cwd=ROOT, input=stdin.decode("latin-1") if stdin else None,
        capture_output=True, text=True, timeout=timeout,
    )


def error_lines(p: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in p.stderr, p.stderr
    return [line for line in p.stderr.splitlines() if " ERROR " in line or line.startswith("avatar-bridge")
            or "error:" in line]


@pytest.fixture
def wavs(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(40)))
    (tmp_path / "notes.ogg").write_bytes(b"this is not audio at all\n" * 20)
    (tmp_path / "bad.toml").write_text("[face]\nintensity = 3\n")
    return {
        "corrupt": tmp_path / "corrupt.wav",
        "unsupported": tmp_path / "notes.ogg",
        "empty": write_wav(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16000),
        "silence": write_wav(tmp_path / "silence.wav", np.zeros(16000, dtype=np.float32), 16000),
        "missing": tmp_path / "missing.wav",
        "bad_config": tmp_path / "bad.toml",
    }


@pytest.mark.parametrize(
    ("kind", "expect"),
    [
        ("missing", "no such file"),
        ("corrupt", "cannot decode"),
        ("unsupported", "cannot decode"),
        ("empty", "no audio samples"),
    ],
)
def test_bad_audio_files(wavs: dict[str, Path], kind: str, expect: str) -> None:
    p = run_cli("run", "--input", str(wavs[kind]), "--fast", "--no-zmq", "--no-status")
    assert p.returncode == 1
    lines = error_lines(p)
    assert len(lines) == 1 and expect in lines[0], p.stderr


def test_bad_config_names_the_field(wavs: dict[str, Path]) -> None:
    p = run_cli("run", "--config", str(wavs["bad_config"]), "--input", str(wavs["silence"]), "--no-zmq")
    assert p.returncode == 2
    lines = error_lines(p)
    assert len(lines) == 1 and "face.intensity" in lines[0]


def test_bad_flag_value_is_a_usage_error() -> None:
    p = run_cli("run", "--fps", "25")
    assert p.returncode == 2 and "invalid choice" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "1e10"])  # 1e10: a timer overflow, limit dropped
def test_a_duration_that_is_not_a_positive_time_is_a_usage_error(wavs: dict[str, Path], value: str) -> None:
    """--duration -1 used to stop at once with 0 frames and exit 0, as if the run had worked."""
    p = run_cli("run", "--input", str(wavs["silence"]), "--fast", "--no-zmq", "--no-status", "--duration", value)
    assert p.returncode == 2
    lines = error_lines(p)
    assert len(lines) == 1 and "--duration: must be a positive number of seconds" in lines[0]


def test_a_negative_reopen_window_is_a_usage_error() -> None:
    p = run_cli("run", "--reopen-s", "-1", "--no-zmq", "--no-status")
    assert p.returncode == 2
    lines = error_lines(p)
    assert len(lines) == 1 and "audio.reopen_s: must be between 0 and 3600" in lines[0], p.stderr


def test_missing_device() -> None:
    p = run_cli("run", "--input", "No Such Microphone 123", "--no-zmq", "--no-status")
    assert p.returncode == 1
    lines = error_lines(p)
    assert len(lines) == 1 and "No Such Microphone 123" in lines[0]


def test_empty_stdin() -> None:
    p = run_cli("run", "--input", "-", "--no-zmq", "--no-status", stdin=b"")
    assert p.returncode == 1
    assert "no audio arrived" in " ".join(error_lines(p))


def test_zmq_port_in_use(wavs: dict[str, Path]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = run_cli("run", "--input", str(wavs["silence"]), "--fast", "--zmq", f"tcp://127.0.0.1:{port}", "--no-status")
    assert p.returncode == 1
    lines = error_lines(p)
    assert len(lines) == 1 and str(port) in lines[0]


def test_silence_is_valid_with_a_warning(wavs: dict[str, Path]) -> None:
    p = run_cli("run", "--input", str(wavs["silence"]), "--fast", "--no-zmq", "--no-status")
    assert p.returncode == 0, p.stderr
    assert "silent" in p.stderr and "Traceback" not in p.stderr


def test_json_log_events_are_machine_readable(wavs: dict[str, Path]) -> None:
    p = run_cli("--log-format", "json", "run", "--input", str(wavs["missing"]), "--no-zmq")
    assert p.returncode == 1
    events = [json.loads(line) for line in p.stderr.splitlines() if line.strip()]
    assert events[-1]["event"] == "error" and events[-1]["kind"] == "AudioError"


def test_log_options_work_after_the_command_too(wavs: dict[str, Path]) -> None:
    # The error hint says "rerun with --log-level debug": users append it to the command they ran.
    p = run_cli("run", "--input", str(wavs["missing"]), "--no-zmq", "--log-format", "json")
    assert p.returncode == 1
    events = [json.loads(line) for line in p.stderr.splitlines() if line.strip()]
    assert events[-1]["event"] == "error" and events[-1]["kind"] == "AudioError"


def test_log_options_on_both_sides_of_the_command_both_count() -> None:
    # --log-format before and --log-level after: the absent --log-format after must not reset the first.
    p = run_cli("--log-format", "json", "run", "--input", str(ROOT / "examples" / "hello.wav"), "--fast",
                "--duration", "0.5", "--no-zmq", "--no-status", "--log-level", "warning")  # fmt: skip
    assert p.returncode == 0, p.stderr
    events = [json.loads(line) for line in p.stderr.splitlines() if line.strip()]
    assert all(e["level"] in ("warning", "error") for e in events)


def test_train_head_without_torch_says_what_is_missing_in_one_line(tmp_path: Path) -> None:
    # A runtime-only install has no torch; None in sys.modules makes its import fail the same way.
    argv = ["train-head", "--upstream", "x", "--layer", "1", "--quick", "--out", str(tmp_path / "h.npz")]
    code = f"import sys; from bridge.cli import main; sys.modules['torch'] = None; sys.exit(main({argv!r}))"
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1
    lines = error_lines(p)
    assert len(lines) == 1 and "train-head needs the training extras (torch)" in lines[0], p.stderr


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "1e12", "soon"])
def test_a_calibrate_timeout_that_is_not_a_sane_time_is_a_usage_error(value: str) -> None:
    p = run_cli("calibrate", "--timeout-s", value, timeout=30)  # -1 used to wait forever
    assert p.returncode == 2 and "--timeout-s" in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_calibrate_reports_an_unresolvable_host_as_such() -> None:
    p = run_cli("calibrate", "--control-zmq", "tcp://nonexistent.invalid:5556", timeout=30)
    assert p.returncode == 1
    lines = error_lines(p)
    assert len(lines) == 1 and "cannot resolve host 'nonexistent.invalid'" in lines[0], p.stderr


@pytest.mark.parametrize("port", ["99999", "0", "*"])  # libzmq: 34463; 0 and * are for binding
def test_calibrate_refuses_a_port_it_cannot_connect_to(port: str) -> None:
    p = run_cli("calibrate", "--control-zmq", f"tcp://127.0.0.1:{port}", timeout=30)
    assert p.returncode == 2 and "--control-zmq: expected tcp://HOST:PORT with a port 1-65535" in p.stderr, p.stderr


def _calibrate_against(rep: zmq.Socket[bytes], reply: ControlReply) -> tuple[int, str, bytes]:
    """Run `calibrate` against the REP socket ``rep`` that answers with ``reply``: (exit code, stderr,
    the request it got)."""
    import zmq

    from bridge.transports.encoding import encode_control_zmq_reply

    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "calibrate", "--control-zmq", rep.getsockopt_string(zmq.LAST_ENDPOINT),
         "--timeout-s", "30"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert rep.poll(30_000), "calibrate never reached the endpoint"
        request = rep.recv()
        rep.send(encode_control_zmq_reply(reply))
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        rep.close(linger=0)
    return proc.returncode, err, request


def test_calibrate_shows_a_refusal_with_its_control_characters_escaped() -> None:
    import zmq

    from bridge.transports.messages import ControlReply

    rep: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REP)
    rep.bind("tcp://127.0.0.1:*")
    code, err, _ = _calibrate_against(rep, ControlReply(ok=False, error="no\n\x1b[31mFAKE ERROR LINE"))
    assert code == 1 and "\x1b" not in err and len(err.strip().splitlines()) == 1, err


def test_calibrate_reaches_a_bridge_over_ipv6(tmp_path: Path) -> None:
    import zmq

    from bridge.transports.encoding import decode_control_zmq_request
    from bridge.transports.messages import Calibrate, ControlReply

    rep: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REP)
    rep.setsockopt(zmq.IPV6, 1)
    try:
        rep.bind("tcp://[::1]:*")
    except zmq.ZMQError:
        rep.close(linger=0)
        pytest.skip("no IPv6 loopback here")
    code, err, request = _calibrate_against(rep, ControlReply(ok=True))
    assert code == 0 and decode_control_zmq_request(request) == Calibrate(), err


@pytest.mark.parametrize("subject", ["cam\n1", "cam\t1", "a\x1b[31m"], ids=["newline", "tab", "escape"])
def test_a_subject_the_control_channel_would_refuse_is_a_usage_error(wavs: dict[str, Path], subject: str) -> None:
    # a recording made with it could not be replayed
    p = run_cli("run", "--input", str(wavs["silence"]), "--fast", "--no-zmq", "--no-status", "--subject", subject)
    assert p.returncode == 2
    lines = error_lines(p)
    assert len(lines) == 1 and "output.subject: control characters are not allowed" in lines[0], p.stderr


def test_a_recording_never_overwrites_the_input(wavs: dict[str, Path], tmp_path: Path) -> None:
    """``--record`` pointing at the file being played used to replace the audio with a recording header."""
    src = wavs["silence"]
    before = src.read_bytes()
    same = tmp_path / "." / src.name  # another spelling of the same file
    p = run_cli("run", "--input", str(src), "--fast", "--no-zmq", "--no-status", "--record", str(same))
    assert p.returncode == 2
    lines = error_lines(p)
    assert len(lines) == 1 and f"--record {same}: would overwrite the input {src}" in lines[0], p.stderr
    assert src.read_bytes() == before


def test_an_existing_recording_is_overwritten_with_a_warning(wavs: dict[str, Path], tmp_path: Path) -> None:
    take = tmp_path / "take.jsonl"
    take.write_text("an older take\n")
    p = run_cli("run", "--input", str(wavs["silence"]), "--fast", "--no-zmq", "--no-status", "--record", str(take))
    assert p.returncode == 0, p.stderr
    assert f"--record {take}: the file exists and is overwritten" in p.stderr
    assert "an older take" not in take.read_text()


def test_a_negative_seed_is_a_usage_error(wavs: dict[str, Path]) -> None:
    """--seed -1 used to end in 'internal error: ValueError: expected non-negative integer'."""
    p = run_cli("run", "--input", str(wavs["silence"]), "--fast", "--no-zmq", "--no-status", "--seed", "-1")
    assert p.returncode == 2
    lines = error_lines(p)
    assert len(lines) == 1 and "face.seed: must be >= 0 (got -1)" in lines[0], p.stderr


def test_the_log_section_of_the_config_file_is_applied(wavs: dict[str, Path], tmp_path: Path) -> None:
    """[log] level and format were validated and then ignored."""
    cfg = tmp_path / "log.toml"
    cfg.write_text('[log]\nformat = "json"\nlevel = "warning"\n')
    p = run_cli("run", "--input", str(wavs["silence"]), "--fast", "--no-zmq", "--no-status", "--config", str(cfg))
    assert p.returncode == 0, p.stderr
    events = [json.loads(line) for line in p.stderr.splitlines()]
    assert events and all(e["level"] == "warning" for e in events), p.stderr  # the "silent" warning only
    # Command-line flags override the file.
    p = run_cli("--log-level", "info", "--log-format", "text", "run", "--input", str(wavs["silence"]), "--fast",
                "--no-zmq", "--no-status", "--config", str(cfg))  # fmt: skip
    assert p.returncode == 0 and " INFO bridge.app: stopped after" in p.stderr and "{" not in p.stderr, p.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_stream_exits_130_like_every_command(tmp_path: Path, sig: signal.Signals) -> None:
    """An interrupt during startup exited 130 but once streaming 0, as if the input had ended."""
    src = write_wav(tmp_path / "long.wav", np.zeros(16000 * 60, dtype=np.float32), 16000)
    take = tmp_path / "take.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "run", "--input", str(src), "--no-zmq", "--no-status", "--record", str(take)],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        if "first frame" in line:
            break
    proc.send_signal(sig)
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, err
    assert "stopped after" in err and "Traceback" not in err
    assert take.read_text().endswith("\n")  # the recording is complete


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_stdin_stream_exits_130_while_its_writer_still_holds_the_pipe(sig: signal.Signals) -> None:
    """`arecord | avatar-bridge run --input -` and Ctrl+C: the reader thread was blocked in sys.stdin.buffer,
    and Python aborted at exit ("Fatal Python error: _enter_buffered_busy", exit 134, a core dump)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "run", "--input", "-", "--no-zmq", "--no-status"],
        cwd=ROOT, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=False,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(bytes(32000))  # a second of silence, and the pipe stays open
    proc.stdin.flush()
    for line in proc.stderr:
        if b"first frame" in line:
            break
    proc.send_signal(sig)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 130, err
    assert "stopped after" in err and "Fatal Python error" not in err
    proc.stdin.close()


@pytest.mark.parametrize("publish", [["--no-zmq"], ["--zmq", "tcp://127.0.0.1:*"]], ids=["no zmq", "zmq"])
def test_a_closed_stdin_is_one_clear_error(publish: list[str]) -> None:
    """With ZeroMQ on, its internal eventfd took descriptor 0 and was read as if it were the audio."""
    p = subprocess.run(
        [sys.executable, "-m", "bridge", "run", "--input", "-", "--no-status", *publish],
        cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        preexec_fn=lambda: os.close(0),
    )  # fmt: skip
    assert p.returncode == 1 and "ERROR bridge.cli: stdin: there is no standard input (it is closed)" in p.stderr, (
        p.stderr
    )
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr


def test_a_usage_error_in_json_logs_is_an_error_event_like_any_failure() -> None:
    """It came through as a warning of native stderr: a consumer filtering on level error missed it."""
    p = run_cli("--log-format", "json", "run", "--bogus")
    assert p.returncode == 2
    events = [json.loads(line) for line in p.stderr.splitlines()]
    [event] = events
    assert event["level"] == "error" and event["event"] == "error" and event["kind"] == "UsageError", event
    assert event["message"] == "avatar-bridge: error: unrecognized arguments: --bogus"
    assert event["usage"].startswith("usage: avatar-bridge")


def test_zmq_and_no_zmq_together_are_a_usage_error() -> None:
    p = run_cli("run", "--zmq", "tcp://127.0.0.1:5901", "--no-zmq")
    assert p.returncode == 2 and "--no-zmq: not allowed with argument --zmq" in p.stderr, p.stderr


def test_each_publisher_reports_what_it_sent_and_dropped(wavs: dict[str, Path]) -> None:
    """The publishers counted dropped datagrams, but no output ever showed the counts."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens on the OSC port: the receiving kernel refuses the datagrams, which is counted apart.
    p = run_cli("--log-format", "json", "run", "--input", str(wavs["silence"]), "--fast", "--no-zmq", "--no-status",
                "--osc", f"127.0.0.1:{port}", "--fps", "30")  # fmt: skip
    assert p.returncode == 0, p.stderr
    events = [json.loads(line) for line in p.stderr.splitlines()]
    [stopped] = [e for e in events if e["event"] == "stopped"]
    [osc] = [e for e in events if e["event"] == "publisher_counts"]
    assert osc["publisher"] == "osc" and osc["sent"] + osc["dropped"] >= stopped["frames"] > 0, osc
    assert osc["refused"] > 0, osc


@pytest.fixture
def broken_mp3s(tmp_path: Path) -> dict[str, Path]:
    """A truncated MP3 (plays; its header claims more) and a damaged one (libsndfile gives up on it partway;
    ffmpeg, when installed, decodes the rest), made by libsndfile's own MPEG encoder."""
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile has no MPEG support")
    t = np.arange(32000) / 16000
    sf.write(tmp_path / "good.mp3", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000, format="MP3")
    data = (tmp_path / "good.mp3").read_bytes()
    (tmp_path / "truncated.mp3").write_bytes(data[: len(data) // 2 + 37])
    damaged = bytearray(data)
    damaged[len(data) // 3 : len(data) // 3 + 2000] = bytes(2000)  # more than libmpg123 skips to resync
    (tmp_path / "damaged.mp3").write_bytes(bytes(damaged))
    return {"truncated": tmp_path / "truncated.mp3", "damaged": tmp_path / "damaged.mp3"}


@pytest.mark.parametrize("kind", ["truncated", "damaged"])
@pytest.mark.parametrize("command", ["run", "bake"])
def test_the_mp3_decoders_own_lines_become_debug_events(
    broken_mp3s: dict[str, Path], tmp_path: Path, kind: str, command: str
) -> None:
    """libmpg123 printed "Note: Illegal Audio-MPEG-Header ..." and "[src/libmpg123/layer3.c:...] error:
    ..." straight on stderr, between the JSON lines of --log-format json."""
    from bridge.audio.ffmpeg import ffmpeg_path

    code = 1 if kind == "damaged" and ffmpeg_path() is None else 0
    src = broken_mp3s[kind]
    args = ["run", "--input", str(src), "--fast", "--no-zmq", "--no-status"] if command == "run" else [
        "bake", str(src), "-o", str(tmp_path / "out.jsonl")]  # fmt: skip
    p = run_cli("--log-format", "json", "--log-level", "debug", *args)
    assert p.returncode == code, p.stderr
    events = [json.loads(line) for line in p.stderr.splitlines()]  # every line is an event
    said = [e for e in events if e["event"] == "library_stderr"]
    assert said, p.stderr  # the decoder did complain: what it said is kept, at debug level
    assert all(e["level"] == "debug" and e["message"].startswith(f"{src}: decoder: ") for e in said)
    if kind == "damaged" and code == 0:  # decoded by ffmpeg instead, and said so
        assert any(e["level"] == "warning" and "a damaged MP3" in e["message"] for e in events), p.stderr


def test_unusable_weights_are_a_usage_error_for_run_as_for_bake(wavs: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "not-weights.npz"
    bad.write_bytes(b"not a weights file")
    silence = str(wavs["silence"])
    for args in (
        ["run", "--input", silence, "--fast", "--no-zmq", "--no-status", "--weights", str(bad)],
        ["bake", silence, "-o", str(tmp_path / "out.jsonl"), "--weights", str(bad)],
    ):
        p = run_cli(*args)
        assert p.returncode == 2 and "Traceback" not in p.stderr, (args[0], p.stderr)


def test_a_usage_error_is_json_when_json_logs_were_asked_for() -> None:
    """A log shipper reading `--log-format json` got argparse's plain usage text for a mistyped flag."""
    p = run_cli("run", "--bogus", "--log-format", "json")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    events = [json.loads(line) for line in p.stderr.splitlines()]  # every line is one JSON object
    assert any("unrecognized arguments: --bogus" in e["message"] for e in events), p.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_while_the_command_starts_ends_it_quietly(sig: signal.Signals) -> None:
    """Ctrl+C while the CLI was still importing printed a KeyboardInterrupt traceback (SIGTERM: status 143)."""
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "run", "--input", "-", "--no-zmq", "--no-status"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(0.3)  # importing numpy, scipy and the audio stack takes longer than this
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, (proc.returncode, err)
