"""Fan-out benchmark (issue 5): one ZeroMQ PUB with 4 subscribers plus OSC to 2 receivers, on loopback.

Publishes frames at a fixed rate (default 100 Hz for 60 s) through ZmqPublisher and OscPublisher
exactly as the live bridge does. Receivers are separate processes: 4 ZeroMQ SUB sockets (no conflate,
so every frame counts) and 2 UDP sockets parsing OSC bundles with python-osc. Reports frames lost per
receiver, the publish cost per frame (both publishers' ``send``, encoding included: wall time mean,
p50, p99, max, and the publishing thread's CPU time), and CPU time of the publisher process (all its
threads, including libzmq's I/O thread) and of the receivers.

Usage: ``nice -n 10 .venv/bin/python bench/fanout.py [--rate-hz 100] [--duration-s 60] [--out r.json]``.
Numbers are measured, not asserted; docs/benchmarks.md ("Fan-out") reports them with the machine named.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import platform
import resource
import socket
import sys
import time
from dataclasses import replace
from multiprocessing.synchronize import Event
from typing import Any

import numpy as np

from bridge.transports.golden import sample_frames
from bridge.transports.osc import OscPublisher
from bridge.transports.zeromq import ZmqPublisher

log = logging.getLogger("bench.fanout")

FIRST_SEQ = 1_000_000  # measured frames; lower seqs are warm-up frames for the slow joiners
SUBJECT = "avatar"


def zmq_receiver(endpoint: str, n: int, ready: Event, out: Any) -> None:
    import msgpack
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, f"face/{SUBJECT}".encode() + b"\0")
    sock.setsockopt(zmq.RCVTIMEO, 3000)
    sock.connect(endpoint)
    seen: set[int] = set()
    try:
        while True:
            seq = msgpack.unpackb(sock.recv().partition(b"\0")[2], raw=False)["seq"]
            ready.set()
            if seq >= FIRST_SEQ:
                seen.add(seq)
                if seq == FIRST_SEQ + n - 1:
                    break
    except zmq.Again:
        pass
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put(("zmq", len(seen), usage.ru_utime + usage.ru_stime))
    sock.close(linger=0)
    ctx.term()


def osc_receiver(sock: socket.socket, n: int, ready: Event, out: Any) -> None:
    from pythonosc.osc_packet import OscPacket

    sock.settimeout(3.0)
    seen: set[int] = set()
    try:
        while True:
            for timed in OscPacket(sock.recv(65536)).messages:
                if timed.message.address == "/avatar/v1/frame":
                    seq = timed.message.params[1]
                    ready.set()
                    if seq >= FIRST_SEQ:
                        seen.add(seq)
            if FIRST_SEQ + n - 1 in seen:
                break
    except TimeoutError:
        pass
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put(("osc", len(seen), usage.ru_utime + usage.ru_stime))


def run(rate_hz: float, duration_s: float, n_zmq: int, n_osc: int) -> dict[str, Any]:
    n = int(rate_hz * duration_s)
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    zpub = ZmqPublisher(["tcp://127.0.0.1:*"])
    endpoint = zpub._sock.getsockopt_string(__import__("zmq").LAST_ENDPOINT)
    socks = []
    for _ in range(n_osc):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    opub = OscPublisher([f"127.0.0.1:{s.getsockname()[1]}" for s in socks], bundle=True)
    readies = [ctx.Event() for _ in range(n_zmq + n_osc)]
    procs = [ctx.Process(target=zmq_receiver, args=(endpoint, n, readies[i], out)) for i in range(n_zmq)]
    procs += [ctx.Process(target=osc_receiver, args=(s, n, readies[n_zmq + i], out)) for i, s in enumerate(socks)]
    for p in procs:
        p.start()
    base = replace(sample_frames()[1], subject=SUBJECT)
    rng = np.random.default_rng(0)
    warm = 0
    while not all(e.is_set() for e in readies):  # slow joiners: warm up until every receiver has a frame
        zpub.send(replace(base, seq=warm))
        opub.send(replace(base, seq=warm))
        warm += 1
        time.sleep(0.01)
        if warm > 3000:
            raise RuntimeError("receivers did not start")
    poses = [
        replace(base.pose, blendshapes=rng.random(52, dtype=np.float32), joints=rng.random(12, dtype=np.float32))
        for _ in range(64)
    ]
    costs = np.empty(n)
    cpu_costs = np.empty(n)
    period = 1.0 / rate_hz
    cpu0 = time.process_time()
    t0 = time.monotonic()
    for i in range(n):
        target = t0 + i * period
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        now = time.monotonic()
        frame = replace(base, seq=FIRST_SEQ + i, t_s=i * period, t_publish_s=now, pose=poses[i % 64])
        c0, u0 = time.perf_counter(), time.thread_time()
        zpub.send(frame)
        opub.send(frame)
        costs[i] = time.perf_counter() - c0
        cpu_costs[i] = time.thread_time() - u0
    wall = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    results = [out.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    zpub.close()
    opub.close()
    return {
        "machine": f"{platform.system()} {platform.release()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "load_avg": os.getloadavg(),
        "rate_hz": rate_hz,
        "duration_s": duration_s,
        "frames": n,
        "wall_s": round(wall, 3),
        "lost": {kind: [n - got for k, got, _ in results if k == kind] for kind in ("zmq", "osc")},
        "publish_ms": {
            "mean": round(float(costs.mean() * 1000), 4),
            "p50": round(float(np.percentile(costs, 50) * 1000), 4),
            "p99": round(float(np.percentile(costs, 99) * 1000), 4),
            "max": round(float(costs.max() * 1000), 4),
        },
        "publish_cpu_ms": {
            "mean": round(float(cpu_costs.mean() * 1000), 4),
            "p99": round(float(np.percentile(cpu_costs, 99) * 1000), 4),
        },
        "publisher_cpu_pct": round(100 * cpu / wall, 2),
        "receiver_cpu_s": {kind: [round(c, 2) for k, _, c in results if k == kind] for kind in ("zmq", "osc")},
        "zmq_stats": [zpub.stats.sent, zpub.stats.dropped],
        "osc_stats": [opub.stats.sent, opub.stats.dropped],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate-hz", type=float, default=100.0)
    parser.add_argument("--duration-s", type=float, default=60.0)
    parser.add_argument("--zmq-subscribers", type=int, default=4)
    parser.add_argument("--osc-receivers", type=int, default=2)
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    res = run(args.rate_hz, args.duration_s, args.zmq_subscribers, args.osc_receivers)
    text = json.dumps(res, indent=2)
    sys.stdout.write(text + "\n")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
