"""Live-path benchmarks of issue 2: latency, compute per hop, bake speed, start-up time, memory.

Run pinned to one core, e.g. `taskset -c 0 .venv/bin/python bench/live.py [--out results.json]`.
Numbers are measured, not asserted; docs/benchmarks.md reports them with the machine named.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgpack
import numpy as np
import zmq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.audio.files import FileSource, read_audio  # noqa: E402
from bridge.config import Config, load_config  # noqa: E402
from bridge.face import build_face_solver  # noqa: E402
from bridge.model import load_model  # noqa: E402
from bridge.pipeline import Articulator, Bridge, render_offline  # noqa: E402
from bridge.transports import build_sinks  # noqa: E402

log = logging.getLogger("bench.live")
EXAMPLE = ROOT / "examples" / "hello.wav"


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def compute_per_hop(cfg: Config, samples: np.ndarray, rate_hz: int) -> dict[str, float]:
    """Model + VAD + face solver cost of each 10 ms hop, one thread."""
    model = load_model(cfg.model)
    solver = build_face_solver(cfg.face)
    art = Articulator(model, cfg.vad, rate_hz)
    hop = rate_hz // 100
    from bridge.frames import AudioBlock

    costs_ms = []
    for _ in range(3):  # repeat the clip so timings cover a few thousand hops
        for start in range(0, samples.shape[0] - hop, hop):
            block = AudioBlock(samples[start : start + hop], rate_hz, 0.0, start / rate_hz)
            t0 = time.perf_counter()
            for frame in art.process(block):
                solver.process(frame)
            costs_ms.append((time.perf_counter() - t0) * 1000)
    return {"hops": len(costs_ms), "mean_ms": float(np.mean(costs_ms)), "p50_ms": _pct(costs_ms, 50),
            "p99_ms": _pct(costs_ms, 99), "max_ms": float(np.max(costs_ms))}


def audio_to_wire(cfg: Config) -> dict[str, float]:
    """Real-time playback of the example; latency from hop complete to the frame leaving the ZeroMQ socket
    (measured after the send returns), and as seen by a subscriber on loopback."""
    endpoint = "tcp://127.0.0.1:5599"
    cfg = load_config(None, {"publish": {"zmq": [endpoint]}, "output": {"fps": 100}})
    model = load_model(cfg.model)
    solver = build_face_solver(cfg.face)
    source = FileSource(EXAMPLE, None, 10, realtime=True)
    sinks = build_sinks(cfg.publish, cfg.output.subject)
    bridge = Bridge(cfg, source, model, solver, sinks)
    wire_ms: list[float] = []
    rx_ms: list[float] = []

    def on_frame(frame: object) -> None:
        wire_ms.append((time.monotonic() - frame.t_capture_s) * 1000)  # type: ignore[attr-defined]

    bridge.on_frame = on_frame
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"face/")
    sub.connect(endpoint)
    stop = threading.Event()

    def receive() -> None:
        while not stop.is_set():
            if sub.poll(50):
                msg = msgpack.unpackb(sub.recv().split(b"\0", 1)[1])
                rx_ms.append((time.monotonic() - msg["tc"]) * 1000)

    rx = threading.Thread(target=receive)
    rx.start()
    time.sleep(0.3)  # slow-joiner: let the subscription reach the publisher
    bridge.run()
    stop.set()
    rx.join()
    sub.close(0)
    for s in sinks:
        s.close()
    look_ms = model.lookahead_s * 1000
    return {
        "frames": len(wire_ms), "lookahead_ms": look_ms,
        "wire_p50_ms": _pct(wire_ms, 50), "wire_p99_ms": _pct(wire_ms, 99),
        "total_p99_ms": _pct(wire_ms, 99) + look_ms,
        "subscriber_p50_ms": _pct(rx_ms, 50) if rx_ms else float("nan"),
        "subscriber_p99_ms": _pct(rx_ms, 99) if rx_ms else float("nan"),
    }


def bake_speed(cfg: Config, samples: np.ndarray, rate_hz: int) -> dict[str, float]:
    x = np.tile(samples, 8)  # about a minute of audio
    render_offline(x[: rate_hz], rate_hz, cfg)  # warm-up (weights load, caches)
    t0 = time.perf_counter()
    frames = render_offline(x, rate_hz, cfg)
    wall_s = time.perf_counter() - t0
    audio_s = x.shape[0] / rate_hz
    return {"audio_s": audio_s, "wall_s": wall_s, "x_realtime": audio_s / wall_s, "frames": len(frames)}


def startup_and_memory() -> dict[str, float]:
    """`avatar-bridge run` as a user starts it: process launch to first frame received; peak RSS."""
    endpoint = "tcp://127.0.0.1:5598"
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"face/")
    sub.connect(endpoint)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "run", "--input", str(EXAMPLE), "--zmq", endpoint, "--no-status"],
        cwd=ROOT, stderr=subprocess.DEVNULL,
    )
    first_s = float("nan")
    peak_kb = 0
    while proc.poll() is None:
        if np.isnan(first_s) and sub.poll(5):
            sub.recv()
            first_s = time.monotonic() - t0
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak_kb = max(peak_kb, int(status.split("VmHWM:")[1].split()[0]))
        except (OSError, IndexError):
            pass
        time.sleep(0.02 if np.isnan(first_s) else 0.2)
    sub.close(0)
    return {"start_to_first_frame_s": first_s, "peak_rss_mb": peak_kb / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, help="write results as JSON here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cfg = load_config(None, {"publish": {"zmq": []}})
    samples, rate_hz = read_audio(EXAMPLE)
    results = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.platform()}",
        "compute_per_hop": compute_per_hop(cfg, samples, rate_hz),
        "audio_to_wire": audio_to_wire(cfg),
        "bake": bake_speed(cfg, samples, rate_hz),
        "run": startup_and_memory(),
    }
    text = json.dumps(results, indent=2)
    sys.stdout.write(text + "\n")
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
