"""End to end through a real audio path: PulseAudio virtual microphone -> avatar-bridge run -> ZeroMQ."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq

from bridge.frames import ARKIT_INDEX
from tests.conftest import EXAMPLE_WAV, ROOT, write_wav
from tests.integration.virtual_mic import pulse_virtual_mic, start_pulse

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _opening(bs: list[float]) -> float:
    i = ARKIT_INDEX
    return (
        bs[i["jawOpen"]] - bs[i["mouthClose"]]
        + (bs[i["mouthLowerDownLeft"]] + bs[i["mouthLowerDownRight"]]) / 4
        + (bs[i["mouthUpperUpLeft"]] + bs[i["mouthUpperUpRight"]]) / 4
    )


def test_mouth_moves_with_speech_and_rests_in_silence(tmp_path: Path) -> None:
    import soundfile as sf

    speech, rate = sf.read(str(EXAMPLE_WAV), dtype="float32")
    lead_s, tail_s = 1.5, 2.0
    clip = np.concatenate([np.zeros(int(lead_s * rate)), speech, np.zeros(int(tail_s * rate))]).astype(np.float32)
    wav = write_wav(tmp_path / "play.wav", clip, rate)
    port = _free_port()
    with pulse_virtual_mic() as env:
        bridge = subprocess.Popen(
            [sys.executable, "-m", "bridge", "--log-format", "json", "run", "--input", "pulse",
             "--zmq", f"tcp://127.0.0.1:{port}", "--no-status", "--fps", "60"],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"face/avatar\0")
        sub.connect(f"tcp://127.0.0.1:{port}")
        frames: list[dict] = []
        try:
            deadline = time.monotonic() + 20
            while not frames and time.monotonic() < deadline:  # wait until the mic delivers audio
                if sub.poll(200):
                    frames.append(msgpack.unpackb(sub.recv().split(b"\0", 1)[1]))
                assert bridge.poll() is None, bridge.stderr.read().decode() if bridge.stderr else ""
            assert frames, "no frames from the bridge within 20 s"
            t_play = time.monotonic()
            player = subprocess.Popen(["paplay", "--latency-msec=20", "--device=vmic", str(wav)], env=env)
            while time.monotonic() - t_play < len(clip) / rate + 1.5:
                if sub.poll(100):
                    msg = msgpack.unpackb(sub.recv().split(b"\0", 1)[1])
                    msg["_rx"] = time.monotonic() - t_play
                    frames.append(msg)
            player.wait(timeout=10)
        finally:
            bridge.terminate()
            bridge.wait(timeout=10)
            sub.close(0)
            ctx.term()
    live = [f for f in frames if "_rx" in f]
    assert len(live) > 60 * (len(clip) / rate) * 0.8, "frames were lost or arrived far below 60 fps"
    rx = np.array([f["_rx"] for f in live])
    opening = np.array([_opening(f["bs"]) for f in live])
    voice = np.array([f["voice"] for f in live])
    # paplay and the monitor add some latency: judge speech well inside the speech span.
    in_speech = (rx > lead_s + 0.8) & (rx < lead_s + len(speech) / rate - 0.5)
    before = rx < lead_s - 0.3
    after = rx > lead_s + len(speech) / rate + 1.0
    assert voice[in_speech].mean() > 0.5
    assert opening[in_speech].max() > 0.15 and opening[in_speech].std() > 0.03, "the mouth did not move"
    assert np.abs(opening[before]).max() < 0.08 and voice[before].max() < 0.2
    assert np.abs(opening[after]).max() < 0.08 and voice[after].max() < 0.2, "the face did not return to rest"
    seqs = [f["seq"] for f in live]
    assert seqs == sorted(seqs)


def _recording_from_the_mic(env: dict[str, str], take: Path, *args: str) -> subprocess.Popen[str]:
    """``run`` from the virtual microphone with ``--record``, returned once its first frame is out."""
    bridge = subprocess.Popen(
        [sys.executable, "-m", "bridge", "--log-format", "json", "run", "--input", "pulse", "--no-zmq",
         "--no-status", "--record", str(take), *args],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert bridge.stderr is not None
    for line in bridge.stderr:
        if '"first_frame"' in line:
            break
    return bridge


def test_a_vanished_audio_server_ends_the_run_with_one_error_and_its_summary(tmp_path: Path) -> None:
    # The summary of what was sent was logged only when the stream ended normally.
    take = tmp_path / "take.jsonl"
    with pulse_virtual_mic() as env:
        bridge = _recording_from_the_mic(env, take, "--reopen-s", "0")
        assert bridge.stderr is not None
        subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True)
        err = bridge.stderr.read()
        code = bridge.wait(timeout=30)
    # Every line is an event: what PortAudio prints about the lost server (`Expression '...' failed`) too.
    assert all(line.startswith("{") for line in err.splitlines()), err
    events = [json.loads(line) for line in err.splitlines()]
    assert code == 1, err
    assert [e["event"] for e in events if e["level"] == "error"] == ["error"], err
    stopped = [e for e in events if e["event"] == "stopped"]
    assert stopped and stopped[0]["frames"] > 0, err
    assert take.read_text().endswith("\n")  # the recording is complete


def test_a_sound_server_that_stops_answering_ends_the_run_within_seconds(tmp_path: Path) -> None:
    # Closing the stream blocked for about a minute in PortAudio, with SIGTERM ignored meanwhile.
    import os
    import signal

    take = tmp_path / "take.jsonl"
    with pulse_virtual_mic() as env:
        pid = int((Path(env["XDG_RUNTIME_DIR"]) / "pulse" / "pid").read_text())
        bridge = _recording_from_the_mic(env, take)
        assert bridge.stderr is not None
        os.kill(pid, signal.SIGSTOP)  # the sound server hangs
        try:
            t0 = time.monotonic()
            bridge.send_signal(signal.SIGTERM)
            code = bridge.wait(timeout=30)
            waited_s = time.monotonic() - t0
            err = bridge.stderr.read()
        finally:
            os.kill(pid, signal.SIGCONT)
    assert waited_s < 8, (waited_s, err)
    assert code in (1, 130), err
    assert take.read_text().endswith("\n")  # the recording is complete


def test_a_sound_server_frozen_at_startup_ends_the_run_with_one_error_within_seconds() -> None:
    # Importing sounddevice (PortAudio's initialisation) blocked for good on a stopped server, with no
    # log line (sounddevice sends stderr to /dev/null meanwhile) and SIGTERM ignored.
    import os
    import signal

    with pulse_virtual_mic() as env:
        pid = int((Path(env["XDG_RUNTIME_DIR"]) / "pulse" / "pid").read_text())
        os.kill(pid, signal.SIGSTOP)  # the sound server hangs before the bridge starts
        try:
            p = subprocess.run(
                [sys.executable, "-m", "bridge", "--log-format", "json", "run", "--input", "pulse", "--no-zmq",
                 "--no-status"],
                env=env, cwd=ROOT, capture_output=True, text=True, timeout=30,
            )  # fmt: skip
        finally:
            os.kill(pid, signal.SIGCONT)
    events = [json.loads(line) for line in p.stderr.splitlines()]
    assert p.returncode == 1, p.stderr
    assert [e["message"] for e in events if e["level"] == "error"] == [
        "the sound server (PulseAudio or PipeWire) is not answering: PortAudio's initialisation did not finish "
        "within 5 s"
    ], p.stderr


def test_a_sound_server_restart_is_ridden_through_with_a_resting_face_meanwhile(tmp_path: Path) -> None:
    # A killed or restarting PulseAudio ended the run within ~0.4 s, and the avatar froze.
    import signal
    import threading

    import soundfile as sf

    speech, rate = sf.read(str(EXAMPLE_WAV), dtype="float32")
    clip = np.concatenate([speech[: int(3.5 * rate)], np.zeros(int(0.5 * rate))]).astype(np.float32)
    wav = write_wav(tmp_path / "play.wav", clip, rate)
    port = _free_port()
    log_lines: list[str] = []
    with pulse_virtual_mic() as env:
        bridge = subprocess.Popen(
            [sys.executable, "-m", "bridge", "--log-format", "json", "run", "--input", "pulse",
             "--zmq", f"tcp://127.0.0.1:{port}", "--no-status", "--fps", "60", "--reopen-s", "10"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert bridge.stderr is not None
        reader = threading.Thread(target=lambda: log_lines.extend(bridge.stderr or ()), daemon=True)
        reader.start()
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"face/avatar\0")
        sub.connect(f"tcp://127.0.0.1:{port}")
        frames: list[dict] = []
        t0 = time.monotonic()

        def collect(until_s: float) -> None:
            while time.monotonic() - t0 < until_s:
                if sub.poll(50):
                    msg = msgpack.unpackb(sub.recv().split(b"\0", 1)[1])
                    msg["_rx"] = time.monotonic() - t0
                    frames.append(msg)

        def speak() -> tuple[float, float]:
            t_play = time.monotonic() - t0
            player = subprocess.Popen(["paplay", "--latency-msec=20", "--device=vmic", str(wav)], env=env)
            collect(t_play + len(clip) / rate + 0.3)
            player.wait(timeout=10)
            return t_play, t_play + len(clip) / rate

        try:
            while not frames and time.monotonic() - t0 < 20:  # wait until the mic delivers audio
                collect(time.monotonic() - t0 + 0.2)
                assert bridge.poll() is None, "".join(log_lines)
            assert frames, "no frames from the bridge within 20 s"
            speech1 = speak()
            subprocess.run(["pulseaudio", "--kill"], env=env, check=True, capture_output=True)
            t_kill = time.monotonic() - t0
            collect(t_kill + 3.0)
            start_pulse(env)
            t_back = time.monotonic() - t0
            while not any("reopened after" in line for line in log_lines) and time.monotonic() - t0 < t_back + 5:
                collect(time.monotonic() - t0 + 0.1)
            t_reopened = time.monotonic() - t0
            speech2 = speak()
            assert bridge.poll() is None, "".join(log_lines)
        finally:
            bridge.send_signal(signal.SIGTERM)
            code = bridge.wait(timeout=10)
            reader.join(10)
            sub.close(0)
            ctx.term()
    err = "".join(log_lines)
    events = [json.loads(line) for line in log_lines if line.startswith("{")]
    assert code == 130, err
    assert [e["message"] for e in events if e["level"] == "warning" and "reopen" in e["message"]] == [
        "input device 'pulse' stopped delivering audio; trying to reopen it for up to 10 s"
    ], err
    reopened = [e["message"] for e in events if "reopened after" in e["message"]]
    assert len(reopened) == 1 and reopened[0].startswith("input device 'pulse' reopened after "), err
    assert not [e for e in events if e["level"] == "error"], err
    rx = np.array([f["_rx"] for f in frames])
    opening = np.array([_opening(f["bs"]) for f in frames])
    voice = np.array([f["voice"] for f in frames])
    # Frames keep coming at the frame rate once the loss is noticed (about 0.5 s), until audio is back.
    outage = (rx > t_kill + 0.6) & (rx < t_back)
    assert outage.sum() > 60 * (t_back - t_kill - 0.6) * 0.8, (outage.sum(), t_back - t_kill)
    assert np.diff(rx[outage]).max() < 0.2, "frames stalled during the outage"
    rest = outage & (rx > t_kill + 1.0)  # the face has had time to go to rest
    assert np.abs(opening[rest]).max() < 0.08 and voice[rest].max() < 0.2, "the face did not rest during the outage"
    assert t_reopened - t_back < 3.0, "the device was not reopened soon after the server came back"
    for t_play, t_end in (speech1, speech2):
        in_speech = (rx > t_play + 0.8) & (rx < t_end - 0.8)
        assert voice[in_speech].mean() > 0.5 and opening[in_speech].max() > 0.15, "the mouth did not move"
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(seqs)


def test_a_sound_server_that_stays_away_ends_the_run_once_the_reopen_window_is_over(tmp_path: Path) -> None:
    take = tmp_path / "take.jsonl"
    with pulse_virtual_mic() as env:
        bridge = _recording_from_the_mic(env, take, "--reopen-s", "2")
        assert bridge.stderr is not None
        subprocess.run(["pulseaudio", "--kill"], env=env, check=True, capture_output=True)
        t_kill = time.monotonic()
        err = bridge.stderr.read()
        code = bridge.wait(timeout=30)
        ended_s = time.monotonic() - t_kill
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert code == 1, err
    assert [e["message"] for e in events if e["level"] == "error"] == [
        "input device 'pulse' stopped delivering audio (vanished?)"
    ], err
    assert any(e["message"].endswith("trying to reopen it for up to 2 s") for e in events), err
    assert 2.0 < ended_s < 2.0 + 4.0, (ended_s, err)
    assert take.read_text().endswith("\n")


def test_a_stereo_mic_with_one_channel_inverted_moves_the_mouth_after_one_warning(tmp_path: Path) -> None:
    # L = s, R = -s (a phase-invert switch left on) cancelled in the mean: the face stayed still, unwarned.
    import soundfile as sf

    speech, rate = sf.read(str(EXAMPLE_WAV), dtype="float32")
    lead_s = 1.0
    clip = np.concatenate([np.zeros(int(lead_s * rate)), speech, np.zeros(rate)]).astype(np.float32)
    wav = write_wav(tmp_path / "inverted.wav", np.stack([clip, -clip], axis=1), rate)
    port = _free_port()
    with pulse_virtual_mic(channels=2) as env:
        bridge = subprocess.Popen(
            [sys.executable, "-m", "bridge", "--log-format", "json", "run", "--input", "pulse",
             "--zmq", f"tcp://127.0.0.1:{port}", "--no-status", "--fps", "60"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"face/avatar\0")
        sub.connect(f"tcp://127.0.0.1:{port}")
        live: list[tuple[float, dict]] = []
        try:
            deadline = time.monotonic() + 20
            while not sub.poll(200):  # wait until the mic delivers audio
                assert time.monotonic() < deadline and bridge.poll() is None, "no frames from the bridge"
            t_play = time.monotonic()
            player = subprocess.Popen(["paplay", "--latency-msec=20", "--device=vmic", str(wav)], env=env)
            while time.monotonic() - t_play < len(clip) / rate + 1.0:
                if sub.poll(100):
                    live.append((time.monotonic() - t_play, msgpack.unpackb(sub.recv().split(b"\0", 1)[1])))
            player.wait(timeout=10)
        finally:
            bridge.terminate()
            _, err = bridge.communicate(timeout=10)
            sub.close(0)
            ctx.term()
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    cancel = [e for e in events if e["event"] == "channels_cancel"]
    assert len(cancel) == 1 and cancel[0]["flipped"] == [1] and cancel[0]["correlation"] < -0.95, err
    # Decided on the first second of speech (plus paplay's and the monitor's latency): judged after that.
    rx = np.array([t for t, _ in live])
    after = (rx > lead_s + 2.5) & (rx < lead_s + len(speech) / rate - 0.5)
    opening = np.array([_opening(f["bs"]) for _, f in live])[after]
    voice = np.array([f["voice"] for _, f in live])[after]
    assert voice.mean() > 0.5 and opening.max() > 0.15 and opening.std() > 0.03, "the mouth did not move"
