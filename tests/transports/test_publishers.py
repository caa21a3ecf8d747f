"""Publishers against independent receivers: python-osc's server for OSC and VMC, a Live Link Face
reader written from schemas/livelinkface.md, and failure handling (vanished receivers, ports in use)."""

from __future__ import annotations

import logging
import math
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import msgpack
import numpy as np
import pytest
import zmq
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer

from bridge.config import PublishConfig
from bridge.errors import TransportError
from bridge.frames import ARKIT_NAMES, EMA_NAMES, JOINT_NAMES, VRM_PRESETS, AnimationFrame
from bridge.transports.golden import sample_frames
from bridge.transports.livelinkface import LiveLinkFacePublisher
from bridge.transports.messages import BridgeStatus
from bridge.transports.osc import OscPublisher
from bridge.transports.recorder import RecorderSink
from bridge.transports.sinks import build_control, build_sinks, log_send_counts
from bridge.transports.vmc import VmcPublisher
from bridge.transports.zeromq import ZmqPublisher


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class OscReceiver:
    """python-osc's own threaded UDP server recording (address, args) in arrival order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[Any]]] = []
        self._lock = threading.Lock()
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._on_message)
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _on_message(self, address: str, *args: Any) -> None:
        with self._lock:
            self.messages.append((address, list(args)))

    def wait_for(self, address: str, count: int, timeout_s: float = 5.0) -> list[list[Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                got = [a for addr, a in self.messages if addr == address]
            if len(got) >= count:
                return got
            time.sleep(0.01)
        raise AssertionError(f"only {len(got)} of {count} {address} messages arrived")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[OscReceiver]:
    r = OscReceiver()
    yield r
    r.close()


def _frames(n: int, subject: str = "avatar") -> list[AnimationFrame]:
    base = sample_frames()[1]
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        pose = replace(
            base.pose,
            blendshapes=rng.random(52, dtype=np.float32),
            joints=(rng.random(12, dtype=np.float32) - 0.5),
            vrm=rng.random(10, dtype=np.float32),
        )
        out.append(replace(base, seq=i, t_s=i / 60, subject=subject, pose=pose))
    return out


@pytest.mark.parametrize("bundle", [True, False])
def test_osc_reaches_python_osc_server_with_names_first(receiver: OscReceiver, bundle: bool) -> None:
    clock = FakeClock()
    pub = OscPublisher([f"127.0.0.1:{receiver.port}"], bundle=bundle, clock=clock)
    frames = _frames(5)
    for f in frames:
        pub.send(f)
        clock.now += 0.3  # names due again after 1 s: frames 0 and 4
    got = receiver.wait_for("/avatar/v1/frame", 5)
    names = receiver.wait_for("/avatar/v1/names", 2)
    pub.close()
    assert receiver.messages[0][0] == "/avatar/v1/names"
    assert len(names) == 2
    assert names[0] == ["avatar", *ARKIT_NAMES, *JOINT_NAMES, *(f"ema_{n}" for n in EMA_NAMES)]
    for f, args in zip(frames, sorted(got, key=lambda a: a[1]), strict=True):
        assert args[:5] == ["avatar", f.seq, pytest.approx(f.t_s, abs=1e-6), f.pose.viseme, f.pose.voice]
        assert args[5:57] == f.pose.blendshapes.tolist()
        assert args[57:69] == f.pose.joints.tolist()
    assert pub.stats.dropped == 0


def test_osc_reannounces_names_when_the_subject_changes(receiver: OscReceiver) -> None:
    clock = FakeClock()
    pub = OscPublisher([f"127.0.0.1:{receiver.port}"], clock=clock)
    pub.send(_frames(1)[0])
    pub.send(_frames(1, subject="other")[0])
    names = receiver.wait_for("/avatar/v1/names", 2)
    pub.close()
    assert [n[0] for n in names] == ["avatar", "other"]


def _bone_euler_check(q: list[float]) -> None:
    assert math.isclose(sum(x * x for x in q), 1.0, rel_tol=1e-5)


@pytest.mark.parametrize(("names", "bundle"), [("vrm0", True), ("perfectsync", True), ("both", False)])
def test_vmc_reaches_python_osc_server(receiver: OscReceiver, names: str, bundle: bool) -> None:
    pub = VmcPublisher([f"127.0.0.1:{receiver.port}"], names=names, bundle=bundle)
    frame = _frames(1)[0]
    pub.send(frame)
    receiver.wait_for("/VMC/Ext/Blend/Apply", 1)
    pub.close()
    order = [a for a, _ in receiver.messages]
    # UDP on loopback keeps order; Apply comes after every Val
    assert order.index("/VMC/Ext/Blend/Apply") == len(order) - 1
    vals = {a[0]: a[1] for addr, a in receiver.messages if addr == "/VMC/Ext/Blend/Val"}
    expected: dict[str, float] = {}
    if names in ("vrm0", "both"):
        expected |= dict(zip(VRM_PRESETS, frame.pose.vrm.tolist(), strict=True))
    if names in ("perfectsync", "both"):
        expected |= {n[0].upper() + n[1:]: v for n, v in zip(ARKIT_NAMES, frame.pose.blendshapes.tolist(), strict=True)}
    assert vals == expected
    bones = {a[0]: a[1:] for addr, a in receiver.messages if addr == "/VMC/Ext/Bone/Pos"}
    assert set(bones) == {"Neck", "Head", "Jaw", "LeftEye", "RightEye"}
    for b in bones.values():
        _bone_euler_check(b[3:])
    assert [a for addr, a in receiver.messages if addr == "/VMC/Ext/OK"] == [[1]]
    assert [a for addr, a in receiver.messages if addr == "/VMC/Ext/T"] == [[pytest.approx(frame.t_s, abs=1e-6)]]


def test_vmc_head_rotation_signs_in_unity_space(receiver: OscReceiver) -> None:
    frame = _frames(1)[0]
    joints = np.zeros(12, np.float32)
    joints[JOINT_NAMES.index("head_yaw_rad")] = 0.5  # subject turns to their left
    joints[JOINT_NAMES.index("jaw_open_rad")] = 0.2
    pub = VmcPublisher([f"127.0.0.1:{receiver.port}"])
    pub.send(replace(frame, pose=replace(frame.pose, joints=joints)))
    receiver.wait_for("/VMC/Ext/Blend/Apply", 1)
    pub.close()
    bones = {a[0]: a[4:] for addr, a in receiver.messages if addr == "/VMC/Ext/Bone/Pos"}
    head_x, head_y, head_z, head_w = bones["Head"]
    # turning left in Unity (left-handed, Y up) is a negative rotation about +Y: forward goes to -X
    assert head_y < 0 and head_x == pytest.approx(0, abs=1e-7) and head_z == pytest.approx(0, abs=1e-7)
    neck_y = bones["Neck"][1]
    total = 2 * math.asin(-head_y) + 2 * math.asin(-neck_y)
    assert total == pytest.approx(0.5, abs=1e-5)
    jaw_x = bones["Jaw"][0]
    assert 2 * math.asin(jaw_x) == pytest.approx(0.2, abs=1e-5)  # chin down = positive about +X


def read_llf(data: bytes) -> dict[str, Any]:
    """Live Link Face v6 reader from schemas/livelinkface.md (does not use the bridge's encoder)."""
    version = data[0]
    pos = 1
    names = []
    for _ in range(2):
        (n,) = struct.unpack_from(">i", data, pos)
        names.append(data[pos + 4 : pos + 4 + n].decode())
        pos += 4 + n
    frame_number, subframe, rate_num, rate_den = struct.unpack_from(">ifii", data, pos)
    count = data[pos + 16]
    values = struct.unpack_from(f">{count}f", data, pos + 17)
    return {"version": version, "device": names[0], "subject": names[1], "frame": frame_number,
            "subframe": subframe, "rate": (rate_num, rate_den), "values": values, "size": len(data)}  # fmt: skip


def test_livelinkface_packets_decode_with_an_independent_reader() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    pub = LiveLinkFacePublisher([f"127.0.0.1:{sock.getsockname()[1]}"])
    frames = _frames(3, subject="MetaHumanFace")
    for f in frames:
        pub.send(f)
    packets = [read_llf(sock.recv(2048)) for _ in frames]
    pub.close()
    sock.close()
    for f, p in zip(frames, packets, strict=True):
        assert p["version"] == 6 and p["subject"] == "MetaHumanFace" and p["device"] == "avatar-bridge"
        assert p["size"] == 270 + len("avatar-bridge") + len("MetaHumanFace")
        assert len(p["values"]) == 61
        assert list(p["values"][:52]) == f.pose.blendshapes.tolist()
        yaw = float(f.pose.joints[JOINT_NAMES.index("head_yaw_rad")])
        assert p["values"][52] == pytest.approx(yaw / (math.pi / 2), abs=1e-6)
        assert p["rate"] == (f.fps, 1)
        assert p["frame"] + p["subframe"] == pytest.approx(f.t_s * f.fps, abs=1e-4)
        assert all(-1.0 <= v <= 1.0 for v in p["values"])


def _closed_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_vanished_receiver_is_counted_and_logged_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    port = _closed_udp_port()
    pubs = [
        OscPublisher([f"127.0.0.1:{port}"]),
        VmcPublisher([f"127.0.0.1:{port}"]),
        LiveLinkFacePublisher([f"127.0.0.1:{port}"]),
    ]
    caplog.set_level(logging.WARNING, logger="bridge.transports.udp")
    for f in _frames(50):
        for p in pubs:
            p.send(f)  # never raises
        time.sleep(0.001)
    for p in pubs:
        assert p.stats.refused > 0, p.name
        p.close()
    refused = [r.getMessage() for r in caplog.records if "ECONNREFUSED" in r.getMessage()]
    first = [m for m in refused if "more in" not in m]
    assert 1 <= len(first) <= 3  # one per publisher within the 5 s interval
    # the repeats are not lost: each publisher's close reports their count
    assert len([m for m in refused if "more in" in m]) == len(first)


def test_with_nothing_listening_every_datagram_is_sent_and_the_refusals_are_counted_apart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With no receiver, each send met the previous datagram's ICMP refusal and was counted dropped
    without being sent: the end line read "25 sent, 25 dropped" for 50 datagrams that all met a port
    with nothing behind it."""
    port = _closed_udp_port()
    pub = LiveLinkFacePublisher([f"127.0.0.1:{port}"])  # one datagram per frame
    for f in _frames(50):
        pub.send(f)
    stats = pub.stats
    pub.close()
    assert (stats.sent, stats.dropped) == (50, 0)
    assert 0 < stats.refused < 50  # the last datagram's refusal comes after the last send
    caplog.set_level(logging.INFO, logger="bridge.transports.sinks")
    log_send_counts([pub])
    assert (
        f"livelinkface: 50 sent, 0 dropped; at least {stats.refused} of the sent were refused by the receiver "
        "(nothing listening)" in caplog.messages
    )


def test_a_receiver_that_starts_listening_gets_the_next_frame() -> None:
    """The first datagram after a receiver appeared met the refusal of the one before and was lost."""
    port = _closed_udp_port()
    pub = LiveLinkFacePublisher([f"127.0.0.1:{port}"])
    frames = _frames(6)
    for f in frames[:5]:
        pub.send(f)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", port))
        receiver.settimeout(5.0)
        pub.send(frames[5])
        assert len(receiver.recv(4096)) > 0
    assert pub.stats.sent == 6 and pub.stats.dropped == 0
    pub.close()


def test_unreachable_network_is_not_fatal() -> None:
    # TEST-NET-1 (RFC 5737) may or may not be routable here; either way send must not raise
    pub = LiveLinkFacePublisher(["192.0.2.1:11111"])
    for f in _frames(3):
        pub.send(f)
    assert pub.stats.sent + pub.stats.dropped == 3
    pub.close()


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_an_ipv4_endpoint_is_logged_as_given_not_in_its_ipv6_mapped_form(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bridge.transports.zeromq")
    pub = ZmqPublisher(["tcp://127.0.0.1:*"])
    try:
        (endpoint,) = pub.endpoints
        assert endpoint.startswith("tcp://127.0.0.1:") and f"ZeroMQ PUB bound to {endpoint}" in caplog.text
    finally:
        pub.close()


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_zmq_publisher_binds_ipv6_and_logs_the_bound_address(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bridge.transports.zeromq")
    pub = ZmqPublisher(["tcp://[::1]:*"])
    (endpoint,) = pub.endpoints
    assert endpoint.startswith("tcp://[::1]:") and not endpoint.endswith("*")
    assert f"ZeroMQ PUB bound to {endpoint}" in caplog.text
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.IPV6, 1)
    sub.setsockopt(zmq.SUBSCRIBE, b"face/")
    sub.connect(endpoint)
    frames = _frames(1)
    for _ in range(200):  # until the subscription has reached the publisher
        pub.send(frames[0])
        if sub.poll(20):
            break
    assert sub.recv().startswith(b"face/")
    sub.close(linger=0)
    pub.close()


def test_zmq_port_in_use_is_a_clear_transport_error() -> None:
    first = ZmqPublisher(["tcp://127.0.0.1:*"])
    endpoint = first._sock.getsockopt_string(zmq.LAST_ENDPOINT)
    with pytest.raises(TransportError, match="cannot bind .*Address already in use"):
        ZmqPublisher([endpoint])
    first.close()


def test_build_sinks_makes_every_publisher_and_cleans_up_on_failure(tmp_path: Any) -> None:
    busy = ZmqPublisher(["tcp://127.0.0.1:*"])
    endpoint = busy._sock.getsockopt_string(zmq.LAST_ENDPOINT)
    cfg = PublishConfig(
        zmq=("tcp://127.0.0.1:*",),
        osc=("127.0.0.1:9",),
        vmc=("127.0.0.1:39539",),
        livelinkface=("127.0.0.1:11111",),
        record=str(tmp_path / "rec.jsonl"),
    )
    sinks = build_sinks(cfg, "avatar")
    assert [s.name for s in sinks] == ["zmq", "osc", "vmc", "livelinkface", "record"]
    for s in sinks:
        s.send(_frames(1)[0])
        s.close()
    with pytest.raises(TransportError):
        build_sinks(replace(cfg, zmq=(endpoint,)), "avatar")
    with pytest.raises(TransportError, match="cannot open"):
        build_sinks(replace(cfg, zmq=(), record=str(tmp_path / "missing" / "x.jsonl")), "avatar")
    busy.close()


def test_recorder_writes_one_line_per_frame(tmp_path: Any) -> None:
    rec = RecorderSink(tmp_path / "r.jsonl")
    for f in _frames(4):
        rec.send(f)
    rec.close()
    assert len((tmp_path / "r.jsonl").read_bytes().splitlines()) == 5


def test_unresolvable_host_is_a_clear_transport_error() -> None:
    with pytest.raises(TransportError, match="cannot resolve host"):
        OscPublisher(["no-such-host.invalid:9000"])


def test_zmq_status_is_published_once_per_interval() -> None:
    clock = FakeClock()
    status = BridgeStatus("avatar", 60, 7, 0.0, 30.0, 0.5, "default", "happy", 0.5, False)
    pub = ZmqPublisher(["tcp://127.0.0.1:*"], status_source=lambda: status, clock=clock)
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"status/avatar\0")
    sub.setsockopt(zmq.RCVTIMEO, 2000)
    sub.connect(pub._sock.getsockopt_string(zmq.LAST_ENDPOINT))
    time.sleep(0.3)
    for f in _frames(10):  # 10 frames over 0.9 s, then 2 more after 1 s
        pub.send(f)
        clock.now += 0.1
    clock.now += 0.2
    pub.send(_frames(1)[0])
    pub.send(_frames(1)[0])
    got = []
    while sub.poll(300):
        got.append(msgpack.unpackb(sub.recv().partition(b"\0")[2]))
    sub.close(linger=0)
    pub.close()
    assert len(got) == 2
    assert got[0]["frames"] == 7 and got[0]["mood"] == "happy" and got[0]["v"] == 1


def test_build_control_starts_both_servers(tmp_path: Any) -> None:
    class Target:
        def __init__(self) -> None:
            self.muted = False

        def set_mood(self, mood: str, intensity: float, transition_s: float | None) -> None: ...

        def set_muted(self, muted: bool) -> None:
            self.muted = muted

        def calibrate(self) -> None: ...

        def set_subject(self, subject: str) -> None: ...

        def status(self) -> BridgeStatus:
            return BridgeStatus("avatar", 60, 0, 0.0, 0.0, 0.0, "m", "neutral", 0.0, self.muted)

    target = Target()
    servers = build_control(PublishConfig(control_osc=_closed_udp_port(), control_zmq="tcp://127.0.0.1:*"), target)
    assert [type(s).__name__ for s in servers] == ["OscControlServer", "ZmqControlServer"]
    req = zmq.Context.instance().socket(zmq.REQ)
    req.setsockopt(zmq.RCVTIMEO, 5000)
    req.connect(servers[1].endpoint)  # type: ignore[union-attr]
    req.send(msgpack.packb({"v": 1, "cmd": "mute", "muted": True}))
    assert msgpack.unpackb(req.recv()) == {"v": 1, "ok": True}
    req.close(linger=0)
    assert target.muted
    for s in servers:
        s.close()


def test_a_broadcast_address_is_a_target_like_any_other() -> None:
    """`--livelinkface 192.168.1.255:11111` (any Unreal on the LAN) had every send refused: no SO_BROADCAST."""
    from bridge.transports.udp import UdpTarget

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("0.0.0.0", 0))  # a broadcast reaches sockets bound to any address, not to 127.0.0.1
    receiver.settimeout(5.0)
    port = receiver.getsockname()[1]
    target = UdpTarget(f"127.255.255.255:{port}", "Live Link Face")  # loopback's own broadcast address
    target.send([b"frame"])
    assert receiver.recv(64) == b"frame"
    assert (target.sent, target.dropped) == (1, 0)
    target.close()
    receiver.close()
