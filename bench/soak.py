"""Soak benchmark: one live `avatar-bridge run` for a long time, with the traffic of a streaming session.

The bridge reads raw PCM on stdin (``examples/hello.wav`` and 3 s of silence, looped, fed in real time)
and publishes on ZeroMQ, OSC, VMC and Live Link Face (nobody listens on that one, as when Unreal is
closed). Meanwhile a ZeroMQ subscriber counts face frames and sequence gaps; a control client sets a
mood every 2 s, toggles mute every 30 s and asks for status every 5 s; the OSC and VMC receivers close
for 10 s of every minute and open again (a VTuber app restarted); the bridge's RSS and CPU time are
sampled every 10 s. Reports RSS over time, frames per minute, gaps, control round trips, how soon each
reopened receiver gets datagrams, and the bridge's log lines by level.

Usage: ``.venv/bin/python bench/soak.py [--duration-s 1200] [--out r.json]`` (ports 48xxx on loopback).
Numbers are measured, not asserted; docs/benchmarks.md ("Soak") reports them with the machine named.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
import wave
from collections import Counter
from pathlib import Path
from typing import Any

import msgpack
import zmq

ROOT = Path(__file__).resolve().parents[1]
ZMQ_EP, CONTROL_EP, OSC_PORT, VMC_PORT, LLF_PORT = "tcp://127.0.0.1:48555", "tcp://127.0.0.1:48556", 48900, 48539, 48111
CHUNK_S = 0.02
MOODS = (("happy", 1.0), ("sad", 0.35), ("angry", 0.8), ("surprised", 0.4), ("neutral", 0.0))


def feed(proc: subprocess.Popen[bytes], duration_s: float, started: threading.Event) -> None:
    """hello.wav + 3 s of silence, looped, s16le 16 kHz mono, in 20 ms chunks against a deadline."""
    with wave.open(str(ROOT / "examples" / "hello.wav")) as w:
        loop = w.readframes(w.getnframes()) + bytes(2 * 16000 * 3)
    chunk = int(16000 * CHUNK_S) * 2
    loop += bytes(-len(loop) % chunk)  # whole chunks, so stream time keeps to wall time
    started.wait(60)
    assert proc.stdin is not None
    t0, n = time.monotonic(), 0
    while n * CHUNK_S < duration_s:
        time.sleep(max(0.0, t0 + n * CHUNK_S - time.monotonic()))
        start = (n * chunk) % len(loop)
        proc.stdin.write(loop[start : start + chunk])
        proc.stdin.flush()
        n += 1
    proc.stdin.close()


def subscribe(stop: threading.Event, out: dict[str, Any]) -> None:
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"face/avatar\0")
    sock.setsockopt(zmq.RCVHWM, 100_000)
    sock.connect(ZMQ_EP)
    per_minute: Counter[int] = Counter()
    last, gaps, t0 = None, 0, None
    while not stop.is_set():
        if not sock.poll(200):
            continue
        seq = msgpack.unpackb(sock.recv().partition(b"\0")[2])["seq"]
        t0 = t0 if t0 is not None else time.monotonic()
        per_minute[int((time.monotonic() - t0) // 60)] += 1
        gaps += last is not None and seq != last + 1
        last = seq
    sock.close(linger=0)
    out.update(frames_per_minute=[per_minute[m] for m in sorted(per_minute)], seq_gaps=gaps, last_seq=last)


def control(stop: threading.Event, out: dict[str, Any]) -> None:
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.RCVTIMEO, 3000)
    sock.connect(CONTROL_EP)
    ok, failed, rtt_ms, tick, muted = 0, 0, [], 0, False
    while not stop.wait(1.0):
        requests = []
        if tick % 2 == 0:
            mood, intensity = MOODS[(tick // 2) % len(MOODS)]
            requests.append({"v": 1, "cmd": "mood", "mood": mood, "intensity": intensity})
        if tick % 30 == 15:
            muted = not muted
            requests.append({"v": 1, "cmd": "mute", "muted": muted})
        if tick % 5 == 1:
            requests.append({"v": 1, "cmd": "status"})
        for request in requests:
            t = time.monotonic()
            try:
                sock.send(msgpack.packb(request))
                reply = msgpack.unpackb(sock.recv())
            except zmq.Again:
                failed += 1
                sock.close(linger=0)
                sock = zmq.Context.instance().socket(zmq.REQ)
                sock.setsockopt(zmq.RCVTIMEO, 3000)
                sock.connect(CONTROL_EP)
                continue
            rtt_ms.append(1000 * (time.monotonic() - t))
            ok += bool(reply.get("ok"))
            failed += not reply.get("ok")
        tick += 1
    sock.close(linger=0)
    rtt_ms.sort()
    out.update(control_ok=ok, control_failed=failed,
               control_rtt_ms_p50=rtt_ms[len(rtt_ms) // 2] if rtt_ms else None,
               control_rtt_ms_max=rtt_ms[-1] if rtt_ms else None)  # fmt: skip


def flapping_receivers(stop: threading.Event, out: dict[str, Any]) -> None:
    """OSC and VMC receivers closed for 10 s of every minute (VMC at :00, OSC at :30)."""
    offsets = {"osc": (OSC_PORT, 30.0), "vmc": (VMC_PORT, 0.0)}
    socks: dict[str, socket.socket | None] = dict.fromkeys(offsets)
    opened_at: dict[str, float] = {}
    first_ms: dict[str, list[float]] = {name: [] for name in offsets}
    t0 = time.monotonic()
    while not stop.is_set():
        now = time.monotonic() - t0
        for name, (port, offset) in offsets.items():
            want = (now - offset) % 60.0 >= 10.0
            rx = socks[name]
            if want and rx is None:
                rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                rx.bind(("127.0.0.1", port))
                rx.setblocking(False)
                socks[name], opened_at[name] = rx, now
            elif not want and rx is not None:
                rx.close()
                socks[name] = rx = None
            while rx is not None:
                try:
                    rx.recv(65535)
                except BlockingIOError:
                    break
                if name in opened_at:  # the first datagram since this receiver opened
                    first_ms[name].append(1000 * (time.monotonic() - t0 - opened_at.pop(name)))
        time.sleep(0.005)
    for rx in socks.values():
        if rx is not None:
            rx.close()
    out.update(reopen_first_datagram_ms={n: [round(v, 1) for v in vs[1:]] for n, vs in first_ms.items()})


def sample(pid: int, stop: threading.Event, out: dict[str, Any]) -> None:
    tick_hz = os.sysconf("SC_CLK_TCK")
    rows = []
    t0 = time.monotonic()
    while not stop.wait(10.0):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            break
        fields = {line.split(":")[0]: line.split(":")[1].split() for line in status.splitlines()}
        cpu_s = (int(stat[11]) + int(stat[12])) / tick_hz
        rss_mib = round(int(fields["VmRSS"][0]) / 1024, 2)
        rows.append({"t_s": round(time.monotonic() - t0), "rss_mib": rss_mib, "threads": int(fields["Threads"][0]),
                     "cpu_s": cpu_s})  # fmt: skip
    out.update(samples=rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration-s", type=float, default=1200.0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    cmd = [sys.executable, "-m", "bridge", "--log-format", "json", "run", "--input", "-", "--no-status",
           "--zmq", ZMQ_EP, "--osc", f"127.0.0.1:{OSC_PORT}", "--vmc", f"127.0.0.1:{VMC_PORT}",
           "--livelinkface", f"127.0.0.1:{LLF_PORT}", "--control-zmq", CONTROL_EP]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    started, stop = threading.Event(), threading.Event()
    results: dict[str, Any] = {"machine": platform.platform(), "cpus": os.cpu_count(), "duration_s": args.duration_s}
    levels: Counter[str] = Counter()

    def read_log() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            event = json.loads(line)
            levels[event["level"]] += 1
            if event.get("event") == "stream_started":
                started.set()

    threads = [threading.Thread(target=read_log), threading.Thread(target=subscribe, args=(stop, results)),
               threading.Thread(target=control, args=(stop, results)),
               threading.Thread(target=flapping_receivers, args=(stop, results)),
               threading.Thread(target=sample, args=(proc.pid, stop, results))]  # fmt: skip
    for t in threads:
        t.start()
    feed(proc, args.duration_s, started)
    results["bridge_exit"] = proc.wait(timeout=60)
    stop.set()
    for t in threads:
        t.join()
    results["log_lines_by_level"] = dict(levels)
    text = json.dumps(results, indent=1)
    sys.stdout.write(text + "\n")
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
