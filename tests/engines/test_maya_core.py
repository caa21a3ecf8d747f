"""The Maya receiver's host-free core: mapping, rest pose, timing, hand-off, live receive."""

from __future__ import annotations

import importlib.util
import json
import math
import socket
import sys
import time
from pathlib import Path

import msgpack
import pytest
import zmq
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "engines" / "maya"))
from avatar_bridge_maya import mapping, receiver, timing  # noqa: E402
from avatar_bridge_maya.avatar_wire import DEFAULT_CHANNELS, AvatarDecoder, Frame  # noqa: E402


class DictScene(mapping.SceneQuery):
    """A scene made of dictionaries."""

    def __init__(self, values: dict[str, float], blendshapes: dict[str, list[str]], linear: str = "cm") -> None:
        self.values = values
        self.blendshapes = blendshapes
        self.locked: set[str] = set()
        self.linear = linear
        self.angle = "deg"

    def exists(self, node: str) -> bool:
        return node in self.blendshapes or any(p.split(".")[0] == node for p in self.values)

    def blendshape_nodes(self) -> list[str]:
        return list(self.blendshapes)

    def weight_aliases(self, node: str) -> list[str]:
        return self.blendshapes[node]

    def settable(self, plug: str) -> bool:
        return plug not in self.locked

    def get(self, plug: str) -> float:
        return self.values[plug]

    def linear_unit(self) -> str:
        return self.linear

    def angle_unit(self) -> str:
        return self.angle


def _frame(values: dict[str, float], t_s: float = 0.0, seq: int = 0) -> Frame:
    names = tuple(values)
    return Frame("avatar", seq, t_s, "aa", 1.0, names, tuple(values[n] for n in names))


def _rig(linear: str = "cm") -> DictScene:
    values = {"jaw.rotateX": 5.0, "head.rotateY": -10.0, "head.rotateX": 0.0, "head.rotateZ": 0.0}
    for part, (z, y) in {"li": (1.0, -2.0), "ul": (3.0, 4.0), "ll": (2.5, -1.0), "tt": (0, 0), "tb": (0, 0)}.items():
        values[f"{part}Handle.translateZ"] = z
        values[f"{part}Handle.translateY"] = y
    return DictScene(values, {"face_bs": ["jawOpen", "MouthSmileLeft", "weird"], "teeth_bs": ["jawOpen"]}, linear)


def test_blendshapes_by_alias_case_insensitive_on_every_node() -> None:
    plan = mapping.build_plan(mapping.load_config(), _rig())
    plugs = {d.plug: d.channel for d in plan.drives if d.offset == 0.0 and "_bs." in d.plug}
    assert plugs == {"face_bs.jawOpen": "jawOpen", "face_bs.MouthSmileLeft": "mouthSmileLeft",
                     "teeth_bs.jawOpen": "jawOpen"}  # fmt: skip
    values = dict(plan.evaluate(_frame({"jawOpen": 0.75, "mouthSmileLeft": 0.25})))
    assert values["face_bs.jawOpen"] == 0.75
    assert values["teeth_bs.jawOpen"] == 0.75
    assert values["face_bs.MouthSmileLeft"] == 0.25


def test_user_mapping_renames_skips_and_scales(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"blendshape_nodes": ["face_bs"], "aliases": {"jawOpen": None,
                    "mouthSmileLeft": "weird"}, "blendshape_scale": 2.0}), encoding="utf-8")  # fmt: skip
    plan = mapping.build_plan(mapping.load_config(str(path)), _rig())
    bs = {d.plug: (d.channel, d.scale) for d in plan.drives if "_bs." in d.plug}
    assert bs == {"face_bs.weird": ("mouthSmileLeft", 2.0)}


def test_articulators_add_the_rigs_rest_translation_in_scene_units() -> None:
    rig = _rig("cm")
    plan = mapping.build_plan(mapping.load_config(), rig)
    ema = {"ema_li_x": 10.0, "ema_li_y": -5.0, "ema_ul_x": 0.0, "ema_ul_y": 2.0}
    values = dict(plan.evaluate(_frame(ema)))
    assert values["liHandle.translateZ"] == pytest.approx(1.0 + 1.0)  # rest 1 cm + 10 mm
    assert values["liHandle.translateY"] == pytest.approx(-2.0 - 0.5)
    assert values["ulHandle.translateY"] == pytest.approx(4.0 + 0.2)
    assert values["ulHandle.translateZ"] == pytest.approx(3.0)  # zero EMA = the rig's own rest
    mm = dict(mapping.build_plan(mapping.load_config(), _rig("mm")).evaluate(_frame(ema)))
    assert mm["liHandle.translateZ"] == pytest.approx(1.0 + 10.0)


def test_joints_convert_radians_to_scene_angle_units_around_rest() -> None:
    rig = _rig()
    plan = mapping.build_plan(mapping.load_config(), rig)
    values = dict(plan.evaluate(_frame({"jaw_open_rad": 0.5, "head_yaw_rad": math.pi / 2, "head_pitch_rad": 0.1})))
    assert values["jaw.rotateX"] == pytest.approx(5.0 + math.degrees(0.5))
    assert values["head.rotateY"] == pytest.approx(-10.0 + 90.0)
    assert values["head.rotateX"] == pytest.approx(-math.degrees(0.1))  # pitch up tips the face up: -X
    rig.angle = "rad"
    values = dict(mapping.build_plan(mapping.load_config(), rig).evaluate(_frame({"jaw_open_rad": 0.5})))
    assert values["jaw.rotateX"] == pytest.approx(5.0 + 0.5)


def test_missing_and_locked_plugs_are_listed_not_driven() -> None:
    rig = _rig()
    rig.locked.add("head.rotateZ")
    plan = mapping.build_plan(mapping.load_config(), rig)
    plugs = {d.plug for d in plan.drives}
    assert "head.rotateZ" not in plugs
    assert "head.rotateY" in plugs
    missing = " | ".join(plan.missing)
    assert "head.rotateZ (locked or driven)" in missing
    assert "td articulator" in missing  # the rig has no tdHandle
    assert "eye_left_yaw_rad joint" in missing


def test_rest_restores_the_values_read_at_build_time() -> None:
    rig = _rig()
    plan = mapping.build_plan(mapping.load_config(), rig)
    rest = dict(plan.rest())
    assert rest["liHandle.translateY"] == -2.0
    assert rest["face_bs.jawOpen"] == 0.0
    assert dict(plan.evaluate(_frame({}))) == rest  # an all-zero frame is the rest pose


@pytest.mark.parametrize(
    "user",
    [{"bogus": 1}, {"aliases": {"notArkit": "x"}}, {"aliases": {"jawOpen": 3}}, {"joints": [{"channel": "x"}]},
     {"articulators": [{"name": "zz", "nodes": ["a"]}]}, {"blendshape_scale": "big"}, [1]],
    ids=["unknown key", "bad arkit name", "bad alias", "joint without attr", "bad articulator", "bad scale",
         "not an object"],
)  # fmt: skip
def test_bad_mapping_files_name_the_field(tmp_path: Path, user: object) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps(user), encoding="utf-8")
    with pytest.raises(mapping.MappingError):
        mapping.load_config(str(path))


def test_save_config_roundtrips(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    mapping.save_config(mapping.load_config(), str(path))
    assert mapping.load_config(str(path)) == mapping.load_config()


# timing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "fps"),
    [("film", 24.0), ("ntsc", 30.0), ("pal", 25.0), ("ntscf", 60.0), ("game", 15.0), ("23.976fps", 23.976),
     ("29.97df", 29.97), ("120fps", 120.0), ("hour", 1 / 3600), ("min", 1 / 60), ("ntscField", 60.0)],
)  # fmt: skip
def test_fps_from_maya_time_units(unit: str, fps: float) -> None:
    assert timing.fps_from_time_unit(unit) == fps


def test_unknown_time_unit_raises() -> None:
    with pytest.raises(ValueError, match="time unit"):
        timing.fps_from_time_unit("fortnight")


def test_scene_clock_maps_audio_time_to_frames() -> None:
    clock = timing.SceneClock(24.0, start_frame=101.0, t0_s=2.0)
    assert clock.frame(2.0) == 101.0
    assert clock.frame(3.0) == 125.0
    assert clock.time_s(125.0) == 3.0


def test_resample_60hz_take_onto_24fps_frames_interpolates() -> None:
    times = [i / 60 for i in range(61)]  # one second at 60 Hz, value = t
    rows = [[t] for t in times]
    keys = timing.resample(times, rows, timing.SceneClock(24.0, 1.0))
    assert [f for f, _ in keys] == list(range(1, 26))
    for f, (v,) in keys:
        assert v == pytest.approx((f - 1) / 24)


def test_resample_sorts_reordered_and_duplicate_samples() -> None:
    keys = timing.resample([0.5, 0.0, 1.0, 0.5], [[9.0], [0.0], [2.0], [1.0]], timing.SceneClock(2.0, 0.0))
    assert keys == [(0, [0.0]), (1, [1.0]), (2, [2.0])]  # the later duplicate at 0.5 s wins


def test_resample_single_sample_and_empty() -> None:
    assert timing.resample([0.3], [[1.0]], timing.SceneClock(10.0, 0.0)) == [(3, [1.0])]
    assert timing.resample([], [], timing.SceneClock(10.0, 0.0)) == []


def test_resample_keys_samples_that_fall_between_two_frames() -> None:
    # 10 ms apart at 24 fps: no whole frame lies between them; the nearer one is keyed on its frame.
    assert timing.resample([0.01, 0.02], [[1.0], [2.0]], timing.SceneClock(24.0, 1.0)) == [(1, [1.0])]


def test_resample_does_not_fill_a_long_gap() -> None:
    # One stray time 2000 s on must not key every frame up to it: only its own frame.
    times = [i / 24 for i in range(25)] + [2000.0]
    keys = timing.resample(times, [[t] for t in times], timing.SceneClock(24.0, 1.0))
    assert [f for f, _ in keys] == [*range(1, 26), 1 + 2000 * 24]


def test_join_restarts_moves_a_second_run_after_the_first() -> None:
    run = [i / 60 for i in range(60)]
    times, restarts = timing.join_restarts([2.0 + t for t in run] + run)
    assert restarts == 1
    assert times[:60] == [2.0 + t for t in run]
    assert times[60] == pytest.approx(2.0 + 59 / 60 + 1 / 60)
    assert times[60:] == pytest.approx([times[60] + t for t in run])
    reordered = [0.0, 0.05, 0.0333, 0.0667]  # UDP reordering is not a restart
    assert timing.join_restarts(reordered) == (reordered, 0)


def test_drop_strays_leaves_out_a_lone_time_far_ahead_and_keeps_a_real_jump() -> None:
    times = [0.0, 0.5, 1.0, 100_000.0, 1.5, 2.0, 500.0, 500.1, 500.2]
    assert timing.drop_strays(times) == [0, 1, 2, 4, 5, 6, 7, 8]
    assert timing.drop_strays([]) == [] and timing.drop_strays([9e6]) == [0]


def test_thin_keys_drops_only_the_middle_of_holds() -> None:
    keys = [(0, 0.0), (1, 0.0), (2, 0.0), (3, 1.0), (4, 1.0), (5, 1.0), (6, 0.5)]
    assert timing.thin_keys(keys) == [(0, 0.0), (2, 0.0), (3, 1.0), (5, 1.0), (6, 0.5)]
    assert timing.thin_keys([(0, 1.0), (1, 1.0)]) == [(0, 1.0), (1, 1.0)]


# hand-off --------------------------------------------------------------------------------------


def test_scheduler_keeps_at_most_one_apply_pending() -> None:
    queue: list[object] = []
    runs: list[int] = []
    sched = receiver.CoalescingScheduler(queue.append, lambda: runs.append(1))
    assert sched.request()
    assert not sched.request()
    assert len(queue) == 1
    queue.pop()()  # type: ignore[operator]
    assert runs == [1]
    assert sched.request()  # pending cleared by the run
    assert len(queue) == 1


def test_hub_hands_over_newest_once_and_records_everything() -> None:
    hub = receiver.FrameHub()
    hub.push(_frame({}, seq=1))
    hub.start_recording()
    for seq in (2, 3):
        hub.push(_frame({}, seq=seq))
    newest = hub.take_newest()
    assert newest is not None and newest.seq == 3
    assert hub.take_newest() is None
    assert [f.seq for f in hub.stop_recording()] == [2, 3]
    assert not hub.recording
    assert hub.stop_recording() == []


# live receive ----------------------------------------------------------------------------------


class _Collector:
    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def __call__(self, frame: Frame) -> None:
        self.frames.append(frame)

    def wait_for(self, n: int, timeout_s: float = 5.0) -> None:  # generous: 2 shared cores
        deadline = time.monotonic() + timeout_s
        while len(self.frames) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.frames) >= n, f"got {len(self.frames)} of {n} frames"


def _osc_frame(seq: int) -> OscMessage:
    b = OscMessageBuilder("/avatar/v1/frame")
    for tag, value in [("s", "avatar"), ("i", seq), ("f", seq / 60), ("s", "aa"), ("f", 1.0)]:
        b.add_arg(value, tag)
    for name in DEFAULT_CHANNELS:
        b.add_arg(0.5 if name == "jawOpen" else 0.0, "f")
    return b.build()


def test_udp_loopback_from_python_osc_survives_garbage() -> None:
    got = _Collector()
    rx = receiver.UdpReceiver(got, port=0)
    rx.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
            raw.sendto(b"garbage!", rx.address)
        client = SimpleUDPClient("127.0.0.1", rx.address[1])
        client.send_message("/avatar/v1/unrelated", [1, 2.0, "x"])
        for seq in range(3):
            client.send(_osc_frame(seq))
        got.wait_for(3)
    finally:
        rx.stop()
    assert [f.seq for f in got.frames] == [0, 1, 2]
    assert got.frames[0].get("jawOpen") == 0.5
    assert rx.errors == 1
    assert rx.packets == 5
    assert not rx.alive


def test_udp_port_in_use_raises_receiver_error() -> None:
    rx = receiver.UdpReceiver(lambda f: None, port=0)
    try:
        with pytest.raises(receiver.ReceiverError, match="cannot listen"):
            receiver.UdpReceiver(lambda f: None, port=rx.address[1])
    finally:
        rx.stop()


def test_zmq_loopback_from_a_bridge_style_publisher() -> None:
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    got = _Collector()
    rx = receiver.ZmqReceiver(got, f"tcp://127.0.0.1:{port}", subject="avatar")
    rx.start()
    payload = {"v": 1, "seq": 0, "t": 0.0, "subject": "avatar", "bs": [0.5] * 52, "joints": [0.0] * 12,
               "ema": [1.0] * 12, "viseme": "oh", "voice": 1.0}  # fmt: skip
    try:
        deadline = time.monotonic() + 5.0
        while not got.frames and time.monotonic() < deadline:  # PUB/SUB slow joiner: resend until seen
            pub.send(b"face/avatar2\x00" + msgpack.packb({**payload, "subject": "avatar2"}))
            pub.send(b"face/avatar\x00" + msgpack.packb(payload, use_single_float=True))
            time.sleep(0.02)
    finally:
        rx.stop()
        pub.close()
        ctx.term()
    assert got.frames, "no frame over ZeroMQ"
    assert {f.subject for f in got.frames} == {"avatar"}  # "face/avatar\0" does not match avatar2
    assert got.frames[0].ema_mm() == [1.0] * 12
    assert got.frames[0].viseme == "oh"


def test_smoke_scripts_own_osc_encoder_matches_the_decoder() -> None:
    # engines/maya/smoke_test.py imports maya only when run; loaded under a unique module name.
    path = Path(__file__).resolve().parents[2] / "engines" / "maya" / "smoke_test.py"
    spec = importlib.util.spec_from_file_location("avatar_bridge_maya_smoke_test", path)
    assert spec is not None and spec.loader is not None
    smoke_test = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(smoke_test)

    values = [i / 100 for i in range(76)]
    [frame] = AvatarDecoder().feed(smoke_test._osc_frame(7, 0.5, values, subject="Zoë"))
    assert (frame.subject, frame.seq, frame.t_s, frame.viseme) == ("Zoë", 7, 0.5, "aa")
    assert frame.values == pytest.approx(values)
