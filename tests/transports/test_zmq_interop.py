"""ZeroMQ publisher against subscribers in a separate process (pyzmq + msgpack only)."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import jsonschema
import zmq

from bridge.transports.golden import sample_frames
from bridge.transports.zeromq import ZmqPublisher

SUBSCRIBER = Path(__file__).with_name("zmq_subscriber.py")
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _publisher() -> tuple[ZmqPublisher, str]:
    pub = ZmqPublisher(["tcp://127.0.0.1:*"])
    return pub, pub._sock.getsockopt_string(zmq.LAST_ENDPOINT)


def _spawn(endpoint: str, topic: str, mode: str, arg: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(SUBSCRIBER), endpoint, topic, mode, arg],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_subscriber_in_another_process_gets_every_frame_in_order() -> None:
    pub, endpoint = _publisher()
    n = 200
    proc = _spawn(endpoint, "face/avatar", "all", str(n))
    frame = sample_frames()[1]
    frame = replace(frame, subject="avatar")
    assert proc.stdout is not None
    # slow joiner: repeat seq 0 until the subscriber has it
    deadline = time.monotonic() + 10
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    while time.monotonic() < deadline:
        pub.send(replace(frame, seq=0))
        if sel.select(timeout=0.02):
            assert proc.stdout.readline().strip() == "subscribed"
            break
    for seq in range(1, n):
        pub.send(replace(frame, seq=seq))
        time.sleep(0.001)
    out, _ = proc.communicate(timeout=20)
    pub.close()
    assert json.loads(out) == list(range(n))


def test_conflate_subscriber_gets_only_the_newest_frame_and_it_matches_the_schema() -> None:
    pub, endpoint = _publisher()
    proc = _spawn(endpoint, "face/avatar", "conflate", "0")
    frame = replace(sample_frames()[1], subject="avatar")
    time.sleep(0.5)  # let the subscription reach the publisher
    other = replace(frame, subject="avatar2")
    for seq in range(100):
        pub.send(replace(frame, seq=seq))
        pub.send(replace(other, seq=1000 + seq))  # prefix-similar topic must not leak through
        time.sleep(0.001)  # a paced stream, as the bridge sends (a burst may overflow the send queue)
    time.sleep(0.3)
    out, _ = proc.communicate("go\n", timeout=20)
    pub.close()
    got = json.loads(out)
    assert got["_topic"] == "face/avatar"
    assert got["seq"] == 99
    del got["_topic"]
    schema = json.loads((SCHEMAS / "zmq-face.v1.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(got, schema)


def test_a_stalled_subscriber_loses_frames_for_itself_only() -> None:
    pub, endpoint = _publisher()
    ctx = zmq.Context.instance()
    stalled = ctx.socket(zmq.SUB)
    stalled.setsockopt(zmq.RCVHWM, 1)
    stalled.setsockopt(zmq.RCVBUF, 4096)
    stalled.setsockopt(zmq.SUBSCRIBE, b"face/avatar\0")
    stalled.connect(endpoint)
    reader = ctx.socket(zmq.SUB)
    reader.setsockopt(zmq.RCVHWM, 100000)
    reader.setsockopt(zmq.SUBSCRIBE, b"face/avatar\0")
    reader.connect(endpoint)
    time.sleep(0.5)
    frame = replace(sample_frames()[1], subject="avatar")
    n = 2000
    got = 0
    t0 = time.perf_counter()
    for seq in range(n):
        pub.send(replace(frame, seq=seq))  # never blocks, even with a subscriber that never reads
        while reader.poll(0):
            reader.recv()
            got += 1
        time.sleep(0.0005)  # 2 kHz, well above any output rate
    send_s = time.perf_counter() - t0
    while reader.poll(1000):
        reader.recv()
        got += 1
    pub.close()
    stalled.close(linger=0)
    reader.close(linger=0)
    # the subscriber that never reads costs the others nothing (on loopback the kernel's TCP buffers
    # absorb 2,000 frames, so whether the stalled one itself lost frames is not asserted here)
    assert got == n
    assert send_s < 30


def test_a_huge_subscription_is_refused_and_the_others_keep_their_frames() -> None:
    """A 50 MB subscription from one peer stalled every frame for 3 s and grew the bridge by 2 GB."""
    pub, endpoint = _publisher()
    # The hostile peer runs apart: libzmq's own client side can crash once it is cut off mid-subscription.
    hostile = subprocess.Popen(
        [sys.executable, "-c", _HOSTILE_SUBSCRIBER, endpoint], stdout=subprocess.PIPE, text=True
    )
    ctx = zmq.Context.instance()
    reader = ctx.socket(zmq.SUB)
    reader.setsockopt(zmq.SUBSCRIBE, b"face/avatar\0")
    reader.connect(endpoint)
    assert hostile.stdout is not None and hostile.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    frame = replace(sample_frames()[1], subject="avatar")
    for seq in range(50):
        pub.send(replace(frame, seq=seq))
        time.sleep(0.002)
    got = 0
    while reader.poll(1000):
        reader.recv()
        got += 1
    hostile_out, _ = hostile.communicate(timeout=30)
    pub.close()
    reader.close(linger=0)
    assert got == 50 and hostile_out.strip() == "received 0"


_HOSTILE_SUBSCRIBER = """
import os, sys, time, zmq
sock = zmq.Context().socket(zmq.SUB)
sock.setsockopt(zmq.SUBSCRIBE, b"face/" + b"x" * 4_000_000)
sock.setsockopt(zmq.SUBSCRIBE, b"")  # would receive every frame if the peer were kept
sock.connect(sys.argv[1])
print("ready", flush=True)
n, t_end = 0, time.monotonic() + 2.0
while time.monotonic() < t_end:
    if sock.poll(100):
        sock.recv()
        n += 1
print("received", n, flush=True)
os._exit(0)  # no libzmq teardown
"""
