"""Latency of the live microphone path, measured through a real PulseAudio virtual microphone.

No sound card is needed: a private PulseAudio server with a null sink is started exactly as the
microphone integration tests do (tests/integration/virtual_mic.py), examples/hello.wav (repeated) is
played into it with paplay, and the objects `avatar-bridge run --input pulse --zmq ...` builds (config,
model, face solver, ZeroMQ publisher, Bridge) stream from its monitor through PortAudio/ALSA's pulse
plugin, with a ZeroMQ subscriber in a separate process on loopback. The only difference from `run` is
that the microphone source is a subclass that timestamps each PortAudio callback and each block its
reader hands to the pipeline.

    PYTHONPATH=. .venv/bin/python bench/mic_latency.py [--seconds 20] [--busy 1] [--runs 3] [--out r.json]

What each number includes (all monotonic-clock times on this machine):

* ``callbacks``: when PortAudio's callback ran and how many samples it delivered. Bursts (several
  callbacks back to back, or odd sizes) show up as small gaps / uneven sizes.
* ``reader_delay_ms``: from the callback that wrote the newest sample of a block to the reader handing
  that block to the pipeline (the capture reader's wake-up).
* ``wire_ms``: per published frame, from the capture time of the last sample the frame needs (the
  callback time of its block, back-dated by the sample's position in the block; this is ``tc``) until
  the ZeroMQ send has returned. It includes the reader's wake-up, resampling, VAD, model, face solver,
  frame clock, encoding and the send; it is what the status line's latency reports.
* ``subscriber_ms``: the same from ``tc`` until a SUB socket in another process has received the frame
  (adds libzmq's I/O thread, loopback TCP and waking the subscriber).
* ``wire_from_portaudio_ms``: ``wire_ms`` plus ``callback_entry_ms`` of the callback that set ``tc``: how
  long after PortAudio timestamped the callback its Python code ran (the GIL, scheduling), which ``tc``
  cannot see. ``processing_ms``: from a block's hand-over until the pipeline asks for the next one.
* ``portaudio_adc_to_callback_ms``: PortAudio's own estimate of the age of a callback's first sample, from
  the ALSA pulse plugin's delay; it sat at a different median (5-14 ms) in each run here, so treat it
  as unreliable.
* Not included anywhere: the model's algorithmic look-ahead (30 ms by default, add it for voice to face),
  and everything before the callback: paplay's buffer, the null sink's rendering, the monitor source,
  PulseAudio's record fragment, the ALSA pulse plugin and PortAudio's ALSA buffer. ``pulse`` reports what
  PulseAudio itself says about part of that (``pactl list source-outputs / sink-inputs``), and
  ``portaudio_input_latency_ms`` what PortAudio reports for the stream; neither can be checked here
  against a real acoustic signal, because there is no sound card.

Frames in the first ``--warmup-s`` seconds of playback are not counted. ``--busy N`` adds N processes
that spin on the CPU for the whole run, to imitate a loaded machine. The machine is shared: compare
variants only in interleaved runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import soundfile as sf
import zmq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.audio.capture import MicrophoneSource  # noqa: E402  (imports sounddevice lazily)
from bridge.audio.files import read_audio  # noqa: E402
from bridge.config import load_config  # noqa: E402
from bridge.face import build_face_solver  # noqa: E402
from bridge.frames import AnimationFrame, AudioBlock  # noqa: E402
from bridge.pipeline import Bridge  # noqa: E402
from bridge.transports import build_sinks  # noqa: E402
from bridge.upstream import build_model  # noqa: E402
from tests.integration.virtual_mic import pulse_virtual_mic  # noqa: E402

EXAMPLE = ROOT / "examples" / "hello.wav"
_MAX_CALLBACKS = 1 << 18


class ProbedMicrophone(MicrophoneSource):
    """The bridge's microphone source, plus timestamps of callbacks and of blocks the reader yields."""

    def __init__(self, *args: Any) -> None:
        self.cb_t = np.zeros(_MAX_CALLBACKS)
        self.cb_n = np.zeros(_MAX_CALLBACKS, dtype=np.int64)
        self.cb_pa_latency_s = np.zeros(_MAX_CALLBACKS)
        self.cb_entry_s = np.zeros(_MAX_CALLBACKS)
        self.n_cb = 0
        self.yields: list[tuple[float, float, int, float]] = []  # (t_yield, block.t_capture_s, samples, t_back)
        super().__init__(*args)

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        i = self.n_cb
        if i < _MAX_CALLBACKS:
            self.cb_t[i] = time.monotonic()
            self.cb_entry_s[i] = time.time() - time_info.currentTime
            self.cb_n[i] = frames
            self.cb_pa_latency_s[i] = time_info.currentTime - time_info.inputBufferAdcTime
            self.n_cb = i + 1
        super()._callback(indata, frames, time_info, status)

    def blocks(self) -> Iterator[AudioBlock]:
        for block in super().blocks():
            t_yield = time.monotonic()
            yield block
            self.yields.append((t_yield, block.t_capture_s, block.samples.shape[0], time.monotonic()))

    @property
    def portaudio_latency_s(self) -> float:
        return float(self._stream.latency)


def _stats(values: Any) -> dict[str, float]:
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return {"n": 0}
    return {
        "n": int(x.size), "mean": round(float(x.mean()), 3),
        **{f"p{q}": round(float(np.percentile(x, q)), 3) for q in (50, 95, 99)},
        "min": round(float(x.min()), 3), "max": round(float(x.max()), 3),
    }  # fmt: skip


def _pactl_latencies(env: dict[str, str]) -> dict[str, list[float]]:
    """PulseAudio's own latency figures (ms) for every record stream, playback stream and source."""
    out: dict[str, list[float]] = {}
    for kind in ("source-outputs", "sink-inputs", "sources"):
        text = subprocess.run(["pactl", "list", kind], env=env, capture_output=True, text=True).stdout
        for label, usec in re.findall(r"^\s*((?:Buffer |Source |Sink )?Latency): (\d+) usec", text, re.M):
            out.setdefault(f"{kind}: {label}", []).append(int(usec) / 1000)
    return out


def subscribe(endpoint: str, out: Path) -> None:
    """Child process: receive face frames until SIGTERM, then write (rx - tc) in ms per frame."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"face/")
    sub.connect(endpoint)
    rows: list[tuple[int, float, float]] = []
    while not stop.is_set():
        if sub.poll(100):
            raw = sub.recv()
            t_rx = time.monotonic()
            msg = msgpack.unpackb(raw.split(b"\0", 1)[1])
            rows.append((int(msg["seq"]), float(msg["tc"]), t_rx))
    sub.close(0)
    ctx.term()
    out.write_text(json.dumps(rows))


def _free_endpoint() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """One run: its own PulseAudio server, bridge, subscriber and player."""
    endpoint = _free_endpoint()
    with pulse_virtual_mic() as env, tempfile.TemporaryDirectory(prefix="mic-latency-") as tmp:
        os.environ.update(env)  # before PortAudio (sounddevice) is first imported
        bridge_env = {}
        if args.pulse_latency_msec is not None:
            bridge_env["PULSE_LATENCY_MSEC"] = str(args.pulse_latency_msec)
            os.environ.update(bridge_env)
        samples, rate_hz = read_audio(EXAMPLE)
        reps = int(np.ceil((args.warmup_s + args.seconds + 3) * rate_hz / samples.shape[0]))
        wav = Path(tmp) / "speech.wav"
        sf.write(str(wav), np.tile(samples, reps), rate_hz, subtype="PCM_16")
        sub_out = Path(tmp) / "sub.json"
        subscriber = subprocess.Popen(
            [sys.executable, __file__, "--subscriber", endpoint, str(sub_out)], cwd=ROOT,
            env={k: v for k, v in os.environ.items() if k != "PULSE_LATENCY_MSEC"},
        )  # fmt: skip
        overrides: dict[str, dict[str, Any]] = {
            "publish": {"zmq": [endpoint]},
            "output": {"fps": args.fps},
            "audio": {"input": "pulse", "block_ms": args.block_ms},
        }
        cfg = load_config(None, overrides)
        model = build_model(cfg.model)
        solver = build_face_solver(cfg.face)
        source = ProbedMicrophone(cfg.audio.input, cfg.audio.channel, cfg.audio.buffer_s, cfg.audio.block_ms)
        sinks = build_sinks(cfg.publish, cfg.output.subject)
        bridge = Bridge(cfg, source, model, solver, sinks)
        frames: list[tuple[float, float, float, int]] = []  # (t after send, tc, tp, seq)
        first = threading.Event()

        def on_frame(frame: AnimationFrame) -> None:
            frames.append((time.monotonic(), frame.t_capture_s, frame.t_publish_s, frame.seq))
            first.set()

        bridge.on_frame = on_frame
        window: dict[str, float] = {}
        pulse: dict[str, list[float]] = {}
        procs: list[subprocess.Popen[bytes]] = []

        def drive() -> None:
            try:
                if not first.wait(30):
                    return
                time.sleep(0.5)  # slow joiner: the subscriber connected while the model loaded
                procs.extend(subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy))
                play_env = {k: v for k, v in env.items() if k != "PULSE_LATENCY_MSEC"}
                procs.append(subprocess.Popen(["paplay", "--latency-msec=20", "--device=vmic", str(wav)], env=play_env))
                window["start"] = time.monotonic() + args.warmup_s
                window["end"] = window["start"] + args.seconds
                for k in range(4):  # PulseAudio's view, a few times across the window
                    time.sleep(max(0.0, window["start"] + k * args.seconds / 4 - time.monotonic()))
                    for key, vals in _pactl_latencies(env).items():
                        pulse.setdefault(key, []).extend(vals)
                time.sleep(max(0.0, window["end"] - time.monotonic()))
            finally:
                bridge.stop()

        driver = threading.Thread(target=drive, name="bench-driver", daemon=True)
        driver.start()
        try:
            bridge.run()
        finally:
            for p in procs:
                p.kill()
                p.wait()
            for sink in sinks:
                sink.close()
            time.sleep(0.3)  # let the subscriber drain
            subscriber.send_signal(signal.SIGTERM)
            subscriber.wait(timeout=10)
        driver.join(timeout=5)
        rx = json.loads(sub_out.read_text()) if sub_out.exists() else []

    t0, t1 = window["start"], window["end"]
    wire = [(t - tc) * 1000 for t, tc, _, _ in frames if t0 <= t <= t1]
    # The same from when PortAudio timestamped the callback that delivered the frame's audio: adds the
    # wait for the callback to start running Python (the GIL, scheduling), which tc cannot see.
    n = source.n_cb
    cb_t, cb_entry = source.cb_t[:n], source.cb_entry_s[:n]
    wire_pa = []
    for t, tc, _, _ in frames:
        i = int(np.searchsorted(cb_t, tc, side="right")) - 1
        if t0 <= t <= t1 and i >= 0:
            wire_pa.append((t - tc + max(0.0, cb_entry[i])) * 1000)
    in_window = {seq for t, _, _, seq in frames if t0 <= t <= t1}
    sub_ms = [(t_rx - tc) * 1000 for seq, tc, t_rx in rx if seq in in_window]
    cb_n = source.cb_n[:n]
    sel = (cb_t >= t0) & (cb_t <= t1)
    gaps_ms = np.diff(cb_t[sel]) * 1000
    sizes, counts = np.unique(cb_n[sel], return_counts=True)
    yields = [y for y in source.yields if t0 <= y[0] <= t1]
    return {
        "window_s": round(t1 - t0, 2),
        "fps": args.fps,
        "block_ms": args.block_ms,
        "busy_processes": args.busy,
        "pulse_latency_msec_env": args.pulse_latency_msec,
        "frames": len(wire),
        "frames_received": len(sub_ms),
        "wire_ms": _stats(wire),
        "subscriber_ms": _stats(sub_ms),
        "wire_from_portaudio_ms": _stats(wire_pa),
        "reader_delay_ms": _stats([(ty - tc) * 1000 for ty, tc, _, _ in yields]),
        "processing_ms": _stats([(tb - ty) * 1000 for ty, _, _, tb in yields]),
        "samples_per_read": _stats([k for _, _, k, _ in yields]),
        "callbacks": {
            "count": int(sel.sum()),
            "samples_per_callback": {str(int(s)): int(c) for s, c in zip(sizes, counts, strict=True)},
            "gap_ms": _stats(gaps_ms),
            "gaps_under_1ms": int((gaps_ms < 1).sum()),
            "gap_before_each_under_1ms": _stats(gaps_ms[:-1][gaps_ms[1:] < 1]),
        },
        "portaudio_input_latency_ms": round(source.portaudio_latency_s * 1000, 2),
        "portaudio_adc_to_callback_ms": _stats(source.cb_pa_latency_s[:n][sel] * 1000),
        "callback_entry_ms": _stats(cb_entry[sel] * 1000),
        "pulse": {k: _stats(v) for k, v in pulse.items()},
        "dropped_audio_s": source.dropped_s,
        "frames_skipped_late": bridge.status().frames_skipped_late,
        "sample_rate_hz": source.sample_rate_hz,
        "load_average": os.getloadavg(),
    }


def _summary(runs: list[dict[str, Any]]) -> str:
    """One line per run: the numbers docs/benchmarks.md quotes (ms)."""
    lines = ["run  wire p50/p95/p99/max  subscriber p99  from PortAudio p99  reader delay p50/p99  "
             "processing p99  callback entry p99  callback gap p50/p99/max, <1 ms  skipped  load"]  # fmt: skip
    for i, r in enumerate(runs):
        w, d, g = r["wire_ms"], r["reader_delay_ms"], r["callbacks"]
        lines.append(
            f"{i:3d}  {w['p50']:.1f}/{w['p95']:.1f}/{w['p99']:.1f}/{w['max']:.1f}  {r['subscriber_ms']['p99']:.1f}  "
            f"{r['wire_from_portaudio_ms']['p99']:.1f}  {d['p50']:.1f}/{d['p99']:.1f}  "
            f"{r['processing_ms']['p99']:.1f}  {r['callback_entry_ms']['p99']:.1f}  "
            f"{g['gap_ms']['p50']:.1f}/{g['gap_ms']['p99']:.1f}/{g['gap_ms']['max']:.1f}, {g['gaps_under_1ms']}  "
            f"{r['frames_skipped_late']}  {r['load_average'][0]:.1f}"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="measured playback per run (default 20)")
    ap.add_argument("--warmup-s", type=float, default=2.0, help="playback not counted at the start (default 2)")
    ap.add_argument("--fps", type=int, default=60, help="output frame rate (default 60, as run)")
    ap.add_argument("--block-ms", type=int, default=10, help="audio.block_ms (default 10, as run)")
    ap.add_argument("--busy", type=int, default=0, help="CPU-spinning processes during the run (default 0)")
    ap.add_argument("--pulse-latency-msec", type=int, help="set PULSE_LATENCY_MSEC for the bridge's stream")
    ap.add_argument("--runs", type=int, default=1, help="independent runs, each in a fresh process")
    ap.add_argument("--out", type=Path, help="write results as JSON here")
    ap.add_argument("--subscriber", nargs=2, metavar=("ENDPOINT", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.subscriber:
        subscribe(args.subscriber[0], Path(args.subscriber[1]))
        return
    if args.one:
        sys.stdout.write(json.dumps(measure(args)) + "\n")
        return
    child = ["--one", "--seconds", str(args.seconds), "--warmup-s", str(args.warmup_s), "--fps", str(args.fps),
             "--block-ms", str(args.block_ms), "--busy", str(args.busy)]  # fmt: skip
    if args.pulse_latency_msec is not None:
        child += ["--pulse-latency-msec", str(args.pulse_latency_msec)]
    runs = []
    for _ in range(args.runs):
        done = subprocess.run([sys.executable, __file__, *child], cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            raise SystemExit(done.returncode)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    results = {
        "machine": f"{os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}",
        "runs": runs,
    }
    text = json.dumps(results, indent=2)
    sys.stdout.write(text + "\n")
    sys.stderr.write(_summary(runs))
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
