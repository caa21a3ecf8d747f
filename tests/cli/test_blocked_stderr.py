"""A stderr nobody reads never stops the frame stream, even while the control channel is flooded."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import zmq

from bridge.transports.encoding import encode_control_osc
from bridge.transports.messages import SetMood
from tests.conftest import EXAMPLE_WAV, ROOT, write_wav

DURATION_S = 10


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_frames_keep_flowing_and_duration_is_honoured_with_stderr_unread(tmp_path: Path) -> None:
    samples, rate_hz = sf.read(str(EXAMPLE_WAV), dtype="float32")
    wav = write_wav(tmp_path / "long.wav", np.concatenate([samples, samples]), rate_hz)
    control_port, zmq_port, dead_port = (_free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_STREAM),
                                         _free_port(socket.SOCK_DGRAM))  # fmt: skip
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"face/")
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(f"tcp://127.0.0.1:{zmq_port}")
    # Debug level: every mood request logs a line, so the 64 KiB pipe fills within a second. The
    # dead --osc target makes the processing thread itself log (ECONNREFUSED, every 5 s).
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "--log-level", "debug", "run", "--input", str(wav), "--no-status",
         "--duration", str(DURATION_S), "--control-osc", str(control_port), "--zmq", f"tcp://127.0.0.1:{zmq_port}",
         "--osc", f"127.0.0.1:{dead_port}"],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert sub.poll(60_000), "no frame from the bridge"
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        seqs: list[int] = []

        def drain() -> None:
            while sub.poll(0):
                seqs.append(int.from_bytes(sub.recv()[-4:], "big"))  # any per-frame value counts

        flood_end = time.monotonic() + 7.0  # past the processing thread's second warning, 5 s in
        i = 0
        while time.monotonic() < flood_end:
            client.sendto(encode_control_osc(SetMood("happy", (i % 100) / 100, None)), ("127.0.0.1", control_port))
            i += 1
            if i % 50 == 0:
                drain()
                time.sleep(0.002)
        client.close()
        drain()
        during = len(seqs)
        code = proc.wait(timeout=40)  # --duration honoured: without the fix it never exits
        drain()
        while sub.poll(500):
            drain()
        assert code == 0
        assert len(seqs) > during + 30, f"{during} frames during the flood, {len(seqs)} in all"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
        sub.close()
