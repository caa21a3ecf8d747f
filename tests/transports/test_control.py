"""Control channel over OSC and ZeroMQ: valid requests act, invalid ones change nothing, and a fuzz run
of thousands of random/mutated packets leaves state unchanged while frames keep flowing."""

from __future__ import annotations

import logging
import random
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import msgpack
import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonosc.osc_message import OscMessage

from bridge.errors import ConfigError, ProtocolError, TransportError
from bridge.transports.control import OscControlServer, ZmqControlServer, apply_request
from bridge.transports.encoding import (
    decode_control_osc,
    decode_control_zmq_reply,
    decode_control_zmq_request,
    encode_control_osc,
    encode_control_zmq_request,
    osc_message,
)
from bridge.transports.golden import CONTROL_SAMPLES, sample_frames
from bridge.transports.messages import BridgeStatus, SetMood, SetSubject
from bridge.transports.osc import OscPublisher

GOLDEN = Path(__file__).resolve().parents[2] / "schemas" / "golden"


class FakeTarget:
    """A thread-safe ControlTarget recording its state."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mood = ("neutral", 0.0, None)
        self.muted = False
        self.calibrations = 0
        self.subject = "avatar"

    def set_mood(self, mood: str, intensity: float, transition_s: float | None) -> None:
        with self._lock:
            self.mood = (mood, intensity, transition_s)

    def set_muted(self, muted: bool) -> None:
        with self._lock:
            self.muted = muted

    def calibrate(self) -> None:
        with self._lock:
            self.calibrations += 1

    def set_subject(self, subject: str) -> None:
        if subject == "reserved":
            raise ConfigError("subject: 'reserved' is taken")
        with self._lock:
            self.subject = subject

    def status(self) -> BridgeStatus:
        with self._lock:
            return BridgeStatus(self.subject, 60, 10, 0.0, 20.0, 0.5, "default", self.mood[0], self.mood[1], self.muted)

    def snapshot(self) -> tuple[object, ...]:
        with self._lock:
            return (self.mood, self.muted, self.calibrations, self.subject)


@pytest.fixture
def target() -> FakeTarget:
    return FakeTarget()


@pytest.fixture
def osc_server(target: FakeTarget) -> Iterator[OscControlServer]:
    server = OscControlServer(target, 0)
    server.start()
    yield server
    server.close()


@pytest.fixture
def zmq_server(target: FakeTarget) -> Iterator[ZmqControlServer]:
    server = ZmqControlServer(target, "tcp://127.0.0.1:*")
    server.start()
    yield server
    server.close()


def _wait(cond: object, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def _req(endpoint: str) -> zmq.Socket[bytes]:
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    return sock


# invalid packets for both transports: (description, OSC bytes)
INVALID_OSC = [
    ("unknown address", osc_message("/avatar/v1/control/exec", ("import os",))),
    ("unknown prefix", osc_message("/other/mood", ("happy", 0.5))),
    ("mood not in list", osc_message("/avatar/v1/control/mood", ("bored", 0.5))),
    ("intensity > 1", osc_message("/avatar/v1/control/mood", ("happy", 1.5))),
    ("intensity as string", osc_message("/avatar/v1/control/mood", ("happy", "0.5"))),
    ("transition too long", osc_message("/avatar/v1/control/mood", ("happy", 0.5, 99.0))),
    ("too many args", osc_message("/avatar/v1/control/mood", ("happy", 0.5, 1.0, 1.0))),
    ("mute 2", osc_message("/avatar/v1/control/mute", (2,))),
    ("mute string", osc_message("/avatar/v1/control/mute", ("yes",))),
    ("calibrate with args", osc_message("/avatar/v1/control/calibrate", (1,))),
    ("empty subject", osc_message("/avatar/v1/control/subject", ("",))),
    ("subject too long", osc_message("/avatar/v1/control/subject", ("x" * 65,))),
    ("subject control char", osc_message("/avatar/v1/control/subject", ("a\nb",))),
    ("oversized", osc_message("/avatar/v1/control/subject", ("x" * 2000,))),
    ("truncated", encode_control_osc(SetMood("happy", 0.5))[:-4]),
    ("misaligned", encode_control_osc(SetMood("happy", 0.5)) + b"\0"),
    ("trailing bytes", encode_control_osc(SetMood("happy", 0.5)) + b"\0\0\0\0"),
    ("nan", osc_message("/avatar/v1/control/mood", ("happy", float("nan")))),
    ("bundle", b"#bundle\0" + bytes(8) + struct.pack(">i", 24) + osc_message("/avatar/v1/control/calibrate", ())),
    ("empty", b""),
    ("bad tag", b"/avatar/v1/control/calibrate\0\0\0\0,d\0\0" + bytes(8)),
    ("not utf-8", b"/avatar/v1/control/subject\0\0,s\0\0\xff\xfe\0\0"),
]


def test_osc_decoder_rejects_every_invalid_packet() -> None:
    for what, data in INVALID_OSC:
        with pytest.raises(ProtocolError):
            decode_control_osc(data)
            pytest.fail(what)


INVALID_ZMQ = [
    {"v": 1, "cmd": "exec", "code": "__import__('os').system('true')"},
    {"v": 2, "cmd": "status"},
    {"v": True, "cmd": "status"},
    {"cmd": "status"},
    {"v": 1, "cmd": "mood", "mood": "happy"},
    {"v": 1, "cmd": "mood", "mood": "happy", "intensity": "1"},
    {"v": 1, "cmd": "mood", "mood": "happy", "intensity": True},
    {"v": 1, "cmd": "mood", "mood": "happy", "intensity": -0.1},
    {"v": 1, "cmd": "mood", "mood": "happy", "intensity": 0.5, "transition_s": -1},
    {"v": 1, "cmd": "mood", "mood": "happy", "intensity": 0.5, "transition_s": None},  # the schema says number
    {"v": 1, "cmd": "mute", "muted": 1},
    {"v": 1, "cmd": "subject", "subject": 7},
    {"v": 1, "cmd": "subject", "subject": "x" * 65},
    {"v": 1, "cmd": "status", "extra": 1},
    [1, "status"],
    "status",
]


def test_zmq_decoder_rejects_every_invalid_request() -> None:
    for obj in INVALID_ZMQ:
        with pytest.raises(ProtocolError):
            decode_control_zmq_request(msgpack.packb(obj))
    for raw in (b"", b"\xc1", b"\x81", b"\x82\xa1v\x01", msgpack.packb({"v": 1, "cmd": "status"}) + b"x", bytes(2000)):
        with pytest.raises(ProtocolError) as e:
            decode_control_zmq_request(raw)
        assert not str(e.value).endswith(": "), raw  # the reply says what is wrong


def test_osc_control_applies_valid_requests_and_answers_status(
    osc_server: OscControlServer, target: FakeTarget
) -> None:
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.settimeout(5.0)
    address = osc_server.address
    client.sendto((GOLDEN / "control_osc_mood_transition.bin").read_bytes(), address)
    client.sendto((GOLDEN / "control_osc_mute.bin").read_bytes(), address)
    client.sendto((GOLDEN / "control_osc_calibrate.bin").read_bytes(), address)
    client.sendto(osc_message("/avatar/v1/control/subject", ("Hero",)), address)
    _wait(lambda: target.subject == "Hero")
    assert target.snapshot() == (("sad", 1.0, 2.5), True, 1, "Hero")
    client.sendto(osc_message("/avatar/v1/control/mute", (False,)), address)  # T/F accepted too
    client.sendto((GOLDEN / "control_osc_status.bin").read_bytes(), address)
    reply = OscMessage(client.recv(2048))
    assert reply.address == "/avatar/v1/status"
    assert reply.params[0] == "Hero" and reply.params[7] == "sad" and reply.params[9] == 0
    client.close()


def test_osc_control_ignores_invalid_packets(osc_server: OscControlServer, target: FakeTarget) -> None:
    before = target.snapshot()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _, data in INVALID_OSC:
        client.sendto(data, osc_server.address)
    _wait(lambda: osc_server.rejected == len(INVALID_OSC))
    client.close()
    assert target.snapshot() == before
    assert osc_server.handled == 0


def test_a_fader_out_of_range_and_valid_requests_are_rate_limited_not_one_line_each(
    target: FakeTarget, caplog: pytest.LogCaptureFixture
) -> None:
    server = OscControlServer(target, 0)  # not started: handle() is driven directly
    caplog.set_level(logging.INFO, logger="bridge.transports.control")
    for i in range(180):  # a MIDI-range fader at 60 Hz, from changing sender ports
        server.handle(encode_control_osc(SetMood("happy", i / 180)), ("127.0.0.1", 9000))
        server.handle(osc_message("/avatar/v1/control/mood", ("happy", float(2 + i % 126))), ("127.0.0.1", 40000 + i))
    server.close()
    lines = [r.getMessage() for r in caplog.records]
    rejected = [m for m in lines if "rejected" in m]
    applied = [m for m in lines if m.startswith("control: SetMood")]
    assert len(rejected) == 2 and "(and 179 more in" in rejected[1], rejected  # the count is flushed on close
    assert len(applied) == 2 and "(and 179 more in" in applied[1], applied


def test_zmq_control_replies_to_valid_and_invalid_requests(zmq_server: ZmqControlServer, target: FakeTarget) -> None:
    sock = _req(zmq_server.endpoint)
    for _, request in CONTROL_SAMPLES:
        sock.send(encode_control_zmq_request(request))
        assert decode_control_zmq_reply(sock.recv()).ok
    assert target.snapshot()[1:] == (False, 1, "Zoë-ñ")  # the samples end with unmute, subject
    sock.send(encode_control_zmq_request(SetSubject("reserved")))  # valid, refused by the target
    reply = decode_control_zmq_reply(sock.recv())
    assert not reply.ok and reply.error is not None and "taken" in reply.error
    before = target.snapshot()
    for obj in INVALID_ZMQ:
        sock.send(msgpack.packb(obj))
        reply = decode_control_zmq_reply(sock.recv())
        assert not reply.ok and reply.error
    sock.send_multipart([b"a", b"b"])
    assert not decode_control_zmq_reply(sock.recv()).ok
    for size in (2000, 70_000, 1_000_000):  # every request is answered, not only those under 64 KiB
        sock.send(encode_control_zmq_request(SetMood("happy", 0.5)) + bytes(size))
        assert "exceeds" in (decode_control_zmq_reply(sock.recv()).error or "")
    assert target.snapshot() == before
    sock.send(msgpack.packb({"v": 1, "cmd": "status"}))
    status = decode_control_zmq_reply(sock.recv()).status
    assert status is not None and status.subject == "Zoë-ñ"
    sock.close()


def test_control_port_in_use_is_a_transport_error(osc_server: OscControlServer, target: FakeTarget) -> None:
    with pytest.raises(TransportError, match="cannot bind"):
        OscControlServer(target, osc_server.address[1])
    server = ZmqControlServer(target, "tcp://127.0.0.1:*")
    with pytest.raises(TransportError, match="cannot bind"):
        ZmqControlServer(target, server.endpoint)
    server.close()


def test_zmq_control_answers_over_ipv6_and_logs_the_bound_address(
    target: FakeTarget, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    caplog.set_level(logging.INFO, logger="bridge.transports.zeromq")
    server = ZmqControlServer(target, "tcp://[::1]:*")
    server.start()
    assert server.endpoint.startswith("tcp://[::1]:") and f"ZeroMQ control bound to {server.endpoint}" in caplog.text
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IPV6, 1)
    sock.connect(server.endpoint)
    sock.send(encode_control_zmq_request(SetMood("sad", 0.25)))
    assert decode_control_zmq_reply(sock.recv()).ok and target.mood == ("sad", 0.25, None)
    sock.close()
    server.close()


def test_network_text_reaches_the_log_escaped_never_raw(
    zmq_server: ZmqControlServer, osc_server: OscControlServer, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "x\n22:00:00 ERROR bridge.cli: FORGED\x1b[31m"
    caplog.set_level(logging.WARNING, logger="bridge.transports.control")
    sock = _req(zmq_server.endpoint)
    sock.send(msgpack.packb({"v": 1, "cmd": "calibrate", forged: 1}))
    assert "unknown keys 'x\\n22:00:00" in (decode_control_zmq_reply(sock.recv()).error or "")
    sock.close()
    osc_server.handle(osc_message("/avatar/v1/control/mood", (forged, 0.5)), ("127.0.0.1", 1))
    osc_server.handle(osc_message(forged.replace("x", "/x"), ()), ("127.0.0.1", 1))
    _wait(lambda: zmq_server.rejected == 1)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3 and not any("\n" in m or "\x1b" in m for m in messages), messages


def test_apply_request_reports_a_refusal_by_the_target(target: FakeTarget) -> None:
    reply = apply_request(target, SetSubject("reserved"))
    assert not reply.ok and target.subject == "avatar"


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=1100))
def test_decoders_raise_only_protocol_error_on_arbitrary_bytes(data: bytes) -> None:
    for decode in (decode_control_osc, decode_control_zmq_request):
        try:
            decode(data)
        except ProtocolError:
            pass


def _mutations(rng: random.Random, n: int) -> Iterator[bytes]:
    seeds = [(GOLDEN / f"control_osc_{name}.bin").read_bytes() for name, _ in CONTROL_SAMPLES]
    seeds += [(GOLDEN / f"control_zmq_request_{name}.bin").read_bytes() for name, _ in CONTROL_SAMPLES]
    for i in range(n):
        data = bytearray(rng.choice(seeds))
        kind = i % 5
        if kind == 0:
            data = bytearray(rng.randbytes(rng.randint(0, 1500)))
        elif kind == 1:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == 2:
            data = data[: rng.randrange(len(data))]
        elif kind == 3:
            data += rng.randbytes(rng.randint(1, 1200))
        else:
            pos = rng.randrange(len(data))
            data[pos:pos] = rng.randbytes(rng.randint(1, 8))
        yield bytes(data)


def _invalid_for(decode: object, data: bytes) -> bool:
    try:
        decode(data)  # type: ignore[operator]
    except ProtocolError:
        return True
    return False


def test_fuzz_both_endpoints_while_frames_keep_flowing(
    osc_server: OscControlServer, zmq_server: ZmqControlServer, target: FakeTarget
) -> None:
    rng = random.Random(5)
    packets = list(_mutations(rng, 4000))
    # send only what the decoders reject, so any state change would be a validation bypass
    osc_bad = [p for p in packets if _invalid_for(decode_control_osc, p)]
    zmq_bad = [p for p in packets if _invalid_for(decode_control_zmq_request, p)]
    assert len(osc_bad) > 3000 and len(zmq_bad) > 3000

    frame_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    frame_sock.bind(("127.0.0.1", 0))
    frame_sock.settimeout(0.2)
    frame_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    publisher = OscPublisher([f"127.0.0.1:{frame_sock.getsockname()[1]}"], bundle=False)
    stop = threading.Event()
    published = [0]

    def publish() -> None:
        frame = sample_frames()[1]
        while not stop.is_set():
            publisher.send(replace(frame, seq=published[0]))
            published[0] += 1
            time.sleep(0.005)

    received = [0]

    def receive() -> None:
        while not stop.is_set() or received[0] < published[0]:
            try:
                data = frame_sock.recv(4096)
            except TimeoutError:
                if stop.is_set():
                    return
                continue
            if data.startswith(b"/avatar/v1/frame"):
                received[0] += 1

    threads = [threading.Thread(target=publish), threading.Thread(target=receive)]
    for t in threads:
        t.start()
    before = target.snapshot()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    req = _req(zmq_server.endpoint)
    for i in range(max(len(osc_bad), len(zmq_bad))):
        if i < len(osc_bad) and osc_bad[i]:  # an empty datagram is legal UDP but ignored below
            client.sendto(osc_bad[i], osc_server.address)
        if i < len(zmq_bad):
            req.send(zmq_bad[i])
            assert not decode_control_zmq_reply(req.recv()).ok
        if i % 200 == 0:
            time.sleep(0.002)  # let the OSC server drain its socket buffer
    n_osc = sum(1 for p in osc_bad if p)
    _wait(lambda: osc_server.rejected == n_osc, timeout_s=20)
    frames_during_fuzz = published[0]
    stop.set()
    for t in threads:
        t.join(timeout=5)
    client.close()
    req.close()
    frame_sock.close()
    publisher.close()
    assert target.snapshot() == before
    assert osc_server.handled == 0 and zmq_server.handled == 0
    assert zmq_server.rejected == len(zmq_bad)
    assert frames_during_fuzz > 20 and received[0] == published[0]


def test_different_problems_without_a_field_each_get_their_line(
    target: FakeTarget, caplog: pytest.LogCaptureFixture
) -> None:
    """An oversized packet and a bundle shared one rate-limit key: the second kind was never logged."""
    server = OscControlServer(target, 0)  # not started: handle() is driven directly
    for i in range(3):
        server.handle(bytes(2000 + i), ("127.0.0.1", 9000))
        server.handle(b"#bundle\x00" + bytes(8), ("127.0.0.1", 9000))
    lines = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    server.close()
    assert len(lines) == 2 and "1024" in lines[0] and "bundle" in lines[1], lines
