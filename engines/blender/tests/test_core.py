"""The extension's host-free core, in plain Python: mapping, timing, smoothing, receiving, decoding."""

from __future__ import annotations

import ast
import json
import math
import socket
import struct
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from conftest import GOLDEN

# ----------------------------------------------------------------------------------------------
# packaging


def test_zip_has_manifest_at_root_and_vendored_decoder(ext_zip: Path) -> None:
    with zipfile.ZipFile(ext_zip) as zf:
        names = set(zf.namelist())
        manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
        vendored = zf.read("_vendor/avatar_wire.py")
    assert {"__init__.py", "core/mapping.py", "blender/registration.py"} <= names
    assert vendored == (Path(__file__).parents[3] / "engines" / "common" / "avatar_wire.py").read_bytes()
    assert not any("__pycache__" in n for n in names)
    assert manifest["schema_version"] == "1.0.0"
    assert manifest["type"] == "add-on"
    assert manifest["blender_version_min"] == "4.2.0"
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert "network" in manifest["permissions"]
    assert len(manifest["tagline"]) <= 64 and manifest["tagline"][-1].isalnum()
    assert ext_zip.name == f"{manifest['id']}-{manifest['version']}.zip"


def test_build_is_reproducible(build_module: ModuleType, tmp_path: Path) -> None:
    a = build_module.build(tmp_path / "a").read_bytes()
    b = build_module.build(tmp_path / "b").read_bytes()
    assert a == b


def _imported_modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_and_package_import_need_no_bpy(core: ModuleType, staged: Path) -> None:
    for path in (staged / "core").glob("*.py"):
        assert not _imported_modules(ast.parse(path.read_text())) & {"bpy", "mathutils"}, path.name
    # The package's top level imports nothing at import time (register() imports the Blender layer).
    top = ast.parse((staged / "__init__.py").read_text())
    imports = [n for n in top.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert [getattr(n, "module", None) for n in imports] == ["__future__"]


# ----------------------------------------------------------------------------------------------
# mapping


def test_arkit_profile_drives_every_shape_key_and_default_bones(core: ModuleType, wire: ModuleType) -> None:
    m = core.mapping
    bones = ("jaw", "head", "eye.L", "eye.R", "tongue")
    roles = {"jaw": "jaw", "head": "head", "eye_l": "eye.L", "eye_r": "eye.R", "tongue": "tongue"}
    compiled = m.compile_profile(m.ARKIT_PROFILE, wire.DEFAULT_CHANNELS, ("Basis",) + wire.ARKIT_NAMES, bones, roles)
    assert compiled.missing == ()
    assert compiled.shape_targets == wire.ARKIT_NAMES
    values = [i / 100.0 for i in range(len(wire.DEFAULT_CHANNELS))]
    assert compiled.shape_values(values, 1.0) == pytest.approx(values[:52])
    eulers = compiled.bone_eulers(values, 1.0)
    idx = {n: i for i, n in enumerate(wire.DEFAULT_CHANNELS)}
    assert eulers["jaw"] == pytest.approx([values[idx["jaw_open_rad"]], 0.0, 0.0])
    assert eulers["head"] == pytest.approx(
        [-values[idx["head_pitch_rad"]], values[idx["head_yaw_rad"]], -values[idx["head_roll_rad"]]]
    )
    assert eulers["eye.L"] == pytest.approx([values[idx["eye_left_pitch_rad"]], 0.0, values[idx["eye_left_yaw_rad"]]])
    assert eulers["tongue"] == pytest.approx([0.35 * values[idx["tongue_tip_up"]], 0.0, 0.0])


def test_strength_scales_and_shapes_clamp_to_unit_range(core: ModuleType, wire: ModuleType) -> None:
    m = core.mapping
    compiled = m.compile_profile(m.ARKIT_PROFILE, wire.DEFAULT_CHANNELS, ("jawOpen", "mouthClose"), (), {})
    values = [0.0] * len(wire.DEFAULT_CHANNELS)
    values[wire.ARKIT_NAMES.index("jawOpen")] = 0.8
    values[wire.ARKIT_NAMES.index("mouthClose")] = -0.5
    assert compiled.shape_values(values, 0.5) == pytest.approx([0.4, 0.0])
    assert compiled.shape_values(values, 2.0) == pytest.approx([1.0, 0.0])


def test_missing_targets_are_listed_not_raised(core: ModuleType, wire: ModuleType) -> None:
    m = core.mapping
    compiled = m.compile_profile(
        m.ARKIT_PROFILE, wire.DEFAULT_CHANNELS, ("jawOpen",), ("head",), {"jaw": "Jaw_01", "eye_l": ""}
    )
    assert compiled.shape_targets == ("jawOpen",)
    assert "shape key eyeBlinkLeft" in compiled.missing
    assert len([x for x in compiled.missing if x.startswith("shape key")]) == 51
    assert "bone Jaw_01" in compiled.missing
    assert not any("eye_l" in x for x in compiled.missing), "a role mapped to '' is simply not driven"
    assert {b for b, _ in compiled.bone_targets} == {"head"}


def test_vrm_profile_accepts_0x_and_1_0_names(core: ModuleType, wire: ModuleType) -> None:
    m = core.mapping
    idx = {n: i for i, n in enumerate(wire.DEFAULT_CHANNELS)}
    values = [0.0] * len(wire.DEFAULT_CHANNELS)
    values[idx["jawOpen"]] = 0.6
    values[idx["eyeBlinkLeft"]] = 1.0
    vrm0 = m.compile_profile(m.VRM_PROFILE, wire.DEFAULT_CHANNELS, ("A", "Blink", "Blink_L"), (), {})
    vrm1 = m.compile_profile(m.VRM_PROFILE, wire.DEFAULT_CHANNELS, ("aa", "blink", "blinkLeft"), (), {})
    assert vrm0.shape_targets == ("A", "Blink", "Blink_L")
    assert vrm1.shape_targets == ("aa", "blink", "blinkLeft")
    assert vrm0.shape_values(values, 1.0) == pytest.approx([0.6, 0.5, 1.0])
    assert vrm1.shape_values(values, 1.0) == pytest.approx([0.6, 0.5, 1.0])


def test_custom_table_parses_weights_bones_and_comments(core: ModuleType, wire: ModuleType) -> None:
    m = core.mapping
    table = """
    # my rig
    MouthOpen = jawOpen*0.8 + mouthFunnel*0.2   # weighted
    Smile = mouthSmileLeft*0.5+mouthSmileRight*.5
    Frown = mouthFrownLeft * -1e-1
    @Jaw_Bone.x = jaw_open_rad*1.5
    @head.Y = head_yaw_rad
    """
    profile = m.parse_table(table)
    assert [r.target for r in profile.shapes] == ["MouthOpen", "Smile", "Frown"]
    assert profile.shapes[0].terms == (m.Term("jawOpen", 0.8), m.Term("mouthFunnel", 0.2))
    assert profile.shapes[2].terms == (m.Term("mouthFrownLeft", -0.1),)
    assert profile.bones == (
        m.BoneRule("Jaw_Bone", 0, (m.Term("jaw_open_rad", 1.5),)),
        m.BoneRule("head", 1, (m.Term("head_yaw_rad", 1.0),)),
    )
    idx = {n: i for i, n in enumerate(wire.DEFAULT_CHANNELS)}
    values = [0.0] * len(wire.DEFAULT_CHANNELS)
    values[idx["jawOpen"]], values[idx["mouthFunnel"]], values[idx["jaw_open_rad"]] = 0.5, 1.0, 0.2
    compiled = m.compile_profile(profile, wire.DEFAULT_CHANNELS, ("MouthOpen",), ("Jaw_Bone",), {})
    assert compiled.shape_values(values, 1.0) == pytest.approx([0.6])
    assert compiled.bone_eulers(values, 1.0) == {"Jaw_Bone": pytest.approx([0.3, 0.0, 0.0])}


def test_unknown_channel_in_table_is_reported(core: ModuleType, wire: ModuleType) -> None:
    m = core.mapping
    profile = m.parse_table("MouthOpen = jawOpne")
    compiled = m.compile_profile(profile, wire.DEFAULT_CHANNELS, ("MouthOpen",), (), {})
    assert compiled.shape_targets == ()
    assert compiled.missing == ("channel jawOpne",)


@pytest.mark.parametrize(
    "table, fragment",
    [
        ("jawOpen", "line 1"),
        ("\n\nA = jawOpen*x", "line 3"),
        ("@jaw = jaw_open_rad", "bone target"),
        ("@jaw.w = jaw_open_rad", "bone target"),
        ("# only a comment", "no rules"),
    ],
    ids=["no equals sign", "bad weight", "bone without axis", "bone with bad axis", "empty table"],
)
def test_bad_custom_tables_name_the_problem(core: ModuleType, table: str, fragment: str) -> None:
    with pytest.raises(core.mapping.MappingError, match=fragment):
        core.mapping.parse_table(table)


# ----------------------------------------------------------------------------------------------
# timing


@pytest.mark.parametrize(
    "fps, fps_base, start, t_s, frame",
    [
        (24, 1.0, 1.0, 0.0, 1.0),
        (24, 1.0, 1.0, 1.0, 25.0),
        (30, 1.001, 0.0, 1.001, 30.0),
        (60, 1.0, 101.0, 0.5, 131.0),
        (25, 1.0, 1.0, -0.2, -4.0),
    ],
    ids=["24fps t0", "24fps 1s", "29.97fps", "60fps offset start", "before start"],
)
def test_time_frame_round_trip(
    core: ModuleType, fps: int, fps_base: float, start: float, t_s: float, frame: float
) -> None:
    cfg = core.timing.FrameConfig(fps, fps_base, start)
    assert core.timing.time_to_frame(t_s, cfg) == pytest.approx(frame)
    assert core.timing.frame_to_time(frame, cfg) == pytest.approx(t_s)


def test_nearest_frame_rounds_halves_up(core: ModuleType) -> None:
    cfg = core.timing.FrameConfig(10, 1.0, 0.0)
    assert [core.timing.nearest_frame(t, cfg) for t in (0.049, 0.05, 0.25, -0.05, -0.051)] == [0, 1, 3, 0, -1]


def test_key_picker_keeps_the_closest_sample_per_frame(core: ModuleType) -> None:
    t = core.timing
    picker = t.KeyPicker(t.FrameConfig(24, 1.0, 1.0))
    # 50 fps samples into a 24 fps scene land on frames 1.0, 1.48, 1.96, 2.44, 2.92, 3.40, 3.88.
    chosen = [picker.offer(i / 50.0) for i in range(7)]
    assert chosen == [1, None, 2, None, 3, None, 4]
    assert picker.offer(1.0 / 24.0) == 2, "a later sample exactly on frame 2 replaces the one 0.04 away"
    assert picker.offer(1.0 / 24.0) is None
    assert picker.frames == [1, 2, 3, 4]


def test_pick_keys_matches_the_key_picker(core: ModuleType) -> None:
    t = core.timing
    cfg = t.FrameConfig(30, 1.001, 1.0)
    times = [i / 60.0 for i in range(200)]
    picks = t.pick_keys(times, cfg)
    picker = t.KeyPicker(cfg)
    winners: dict[int, int] = {}
    for i, ts in enumerate(times):
        frame = picker.offer(ts)
        if frame is not None:
            winners[frame] = i
    assert picks == winners
    assert list(picks) == sorted(picks)
    for frame, i in picks.items():
        assert abs(t.time_to_frame(times[i], cfg) - frame) <= 0.5


# ----------------------------------------------------------------------------------------------
# smoothing


def test_smoother_zero_time_constant_passes_through(core: ModuleType) -> None:
    s = core.smoothing.Smoother(0.0)
    assert s.step([0.0, 1.0], 0.0) == [0.0, 1.0]
    assert s.step([1.0, 0.0], 0.1) == [1.0, 0.0]


def test_smoother_follows_a_step_by_time_not_calls(core: ModuleType) -> None:
    fine = core.smoothing.Smoother(0.1)
    coarse = core.smoothing.Smoother(0.1)
    fine.step([0.0], 0.0)
    coarse.step([0.0], 0.0)
    for i in range(1, 11):
        out_fine = fine.step([1.0], i * 0.01)
    out_coarse = coarse.step([1.0], 0.1)
    expected = 1.0 - math.exp(-1.0)
    assert out_fine[0] == pytest.approx(expected, abs=1e-9)
    assert out_coarse[0] == pytest.approx(expected, abs=1e-9)


def test_smoother_restarts_after_a_gap_or_time_going_back(core: ModuleType) -> None:
    s = core.smoothing.Smoother(0.1)
    s.step([0.0], 5.0)
    assert s.step([1.0], 6.0) == [1.0]
    assert s.step([0.0], 0.0) == [0.0]


# ----------------------------------------------------------------------------------------------
# receiving and decoding


def _osc_string(s: str) -> bytes:
    raw = s.encode() + b"\0"
    return raw + b"\0" * (-len(raw) % 4)


def osc_frame(wire: ModuleType, seq: int, t_s: float, values: list[float], subject: str = "avatar") -> bytes:
    tags = ",sifsf" + "f" * len(values)
    body = _osc_string(subject) + struct.pack(">if", seq, t_s) + _osc_string("aa") + struct.pack(">f", 0.5)
    body += struct.pack(f">{len(values)}f", *values)
    return _osc_string(wire.ADDRESS_FRAME) + _osc_string(tags) + body


def test_receiver_drains_without_blocking(core: ModuleType) -> None:
    rx = core.receiver.UdpReceiver("127.0.0.1", 0)
    try:
        assert rx.drain() == []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for i in range(5):
                tx.sendto(bytes([i]) * 4, ("127.0.0.1", rx.port))
        got: list[bytes] = []
        for _ in range(100):
            got += rx.drain()
            if len(got) == 5:
                break
        assert got == [bytes([i]) * 4 for i in range(5)]
    finally:
        rx.close()


@pytest.mark.parametrize(
    "host, loopback",
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("192.168.1.5", False)],
)
def test_is_loopback(core: ModuleType, host: str, loopback: bool) -> None:
    assert core.receiver.is_loopback(host) is loopback


def test_stream_counts_and_survives_malformed_packets(core: ModuleType, wire: ModuleType) -> None:
    stream = core.stream.PacketStream("OSC")
    good = osc_frame(wire, 7, 1.25, [0.25] * 76)
    bad = [b"", b"garbage", good[:-4], good[:40], b"#bundle\0" + b"\0" * 8 + b"\0\0\0\x05abcde", b"\xff" * 64]
    frames = stream.decode(bad + [good], now_s=10.0)
    assert [(f.seq, f.t_s) for f in frames] == [(7, 1.25)]
    assert stream.malformed == len(bad)
    assert stream.packets == len(bad) + 1
    assert stream.last_error
    assert stream.frames_per_s(10.5) == 1.0
    assert stream.frames_per_s(11.5) == 0.0
    assert stream.last_frame_age_s(10.25) == pytest.approx(0.25)


def test_stream_counts_frames_lost_between_sequence_numbers(core: ModuleType, wire: ModuleType) -> None:
    stream = core.stream.PacketStream("OSC")
    seqs = [0, 1, 2, 5, 6, 10, 3, 4]  # 2 + 3 lost, then the sender restarted at 3
    stream.decode([osc_frame(wire, seq, seq / 60, [0.0] * 76) for seq in seqs], now_s=1.0)
    stream.decode([osc_frame(wire, 9, 0.0, [0.0] * 76, subject="other")], now_s=1.0)  # per subject
    assert stream.lost == 5


def test_a_jump_too_big_for_a_network_loss_is_counted_afresh(core: ModuleType, wire: ModuleType) -> None:
    """A forged or restarted sender jumping to a huge seq made the panel show millions of lost frames."""
    stream = core.stream.PacketStream("OSC")
    seqs = [0, 1, 2_000_000_000, 2_000_000_003, 2_000_006_004]  # 2 lost after the jump; then 6000
    stream.decode([osc_frame(wire, seq, 0.0, [0.0] * 76) for seq in seqs], now_s=1.0)
    assert stream.lost == 2 + core.stream.MAX_GAP_FRAMES


def test_stream_remembers_a_bounded_number_of_subjects(core: ModuleType, wire: ModuleType) -> None:
    """Each made-up subject was remembered for good: a sender could grow Blender's memory without end."""
    stream = core.stream.PacketStream("OSC")
    frames = [osc_frame(wire, 1, 0.0, [0.0] * 76, subject=f"s{i}") for i in range(wire.MAX_SUBJECTS + 10)]
    assert len(stream.decode(frames, now_s=1.0)) == wire.MAX_SUBJECTS + 10
    assert len(stream._last_seq) == wire.MAX_SUBJECTS and "s0" not in stream._last_seq
    stream.decode([osc_frame(wire, 5, 0.0, [0.0] * 76, subject=f"s{wire.MAX_SUBJECTS + 9}")], now_s=1.0)
    assert stream.lost == 3  # the subjects still remembered still count their gaps


def test_stream_counts_messages_of_another_protocol(core: ModuleType, wire: ModuleType) -> None:
    stream = core.stream.PacketStream("OSC")
    vmc = _osc_string("/VMC/Ext/Blend/Val") + _osc_string(",sf") + _osc_string("A") + struct.pack(">f", 0.5)
    assert stream.decode([vmc, vmc], now_s=1.0) == []
    assert (stream.foreign, stream.malformed, stream.frames) == (2, 0, 0)


def test_unknown_protocol_is_refused(core: ModuleType) -> None:
    with pytest.raises(ValueError, match="protocol"):
        core.stream.PacketStream("VMC")


# ----------------------------------------------------------------------------------------------
# golden bytes from schemas/golden


def _golden_manifest() -> dict[str, object]:
    path = GOLDEN / "manifest.json"
    if not path.is_file():
        pytest.skip(f"golden files not found at {GOLDEN}")
    return json.loads(path.read_text())


def test_golden_osc_and_livelinkface_decode_to_the_manifest_values(core: ModuleType, wire: ModuleType) -> None:
    manifest = _golden_manifest()
    checked = 0
    for entry in manifest["files"]:  # type: ignore[union-attr]
        protocol = entry["protocol"]
        if protocol not in ("osc-frame", "osc-bundle", "osc-names", "osc-status", "livelinkface"):
            continue
        stream = core.stream.PacketStream("LLF" if protocol == "livelinkface" else "OSC")
        frames = stream.decode([(GOLDEN / entry["file"]).read_bytes()], now_s=0.0)
        assert stream.malformed == 0, (entry["file"], stream.last_error)
        decoded = entry["decoded"]
        if protocol in ("osc-names", "osc-status"):
            assert frames == []
        elif protocol == "livelinkface":
            (frame,) = frames
            assert frame.subject == decoded["subject"]
            expected = [decoded["values"][n] for n in manifest["livelinkface_curve_names"]]
            assert list(frame.values[: len(expected)]) == expected  # then the joints they imply
            num, den = decoded["rate"]
            assert frame.t_s == pytest.approx((decoded["frame_number"] + decoded["subframe"]) * den / num)
        else:
            message = decoded if protocol == "osc-frame" else decoded["elements"][-1]
            (frame,) = frames
            args = message["args"]
            assert (frame.subject, frame.seq, frame.t_s, frame.viseme, frame.voice) == tuple(args[:5])
            assert list(frame.values) == args[5:]
            assert list(frame.names) == manifest["osc_channel_names"]
        checked += 1
    assert checked >= 12


def test_the_first_subject_heard_is_followed_and_the_others_counted(core: ModuleType, wire: ModuleType) -> None:
    """Two bridges on one port drove the rig with both faces by turns and broke the take."""
    stream = core.stream.PacketStream("OSC")
    subjects = core.subjects.SubjectFilter()
    packets = [osc_frame(wire, i, i / 60, [0.0] * 76, subject=("alice", "bob")[i % 2]) for i in range(10)]
    kept = subjects.keep(stream.decode(packets, now_s=1.0), now_s=1.0)
    assert [f.subject for f in kept] == ["alice"] * 5 and subjects.following == "alice"
    assert subjects.ignored == {"bob": 5}
    bob = [osc_frame(wire, 20 + i, i / 60, [0.0] * 76, subject="bob") for i in range(3)]
    assert subjects.keep(stream.decode(bob, now_s=1.5), now_s=1.5) == []  # alice only paused
    kept = subjects.keep(stream.decode(bob, now_s=2.1), now_s=2.1)  # alice silent 1.1 s: a new bridge
    assert [f.subject for f in kept] == ["bob"] * 3 and subjects.following == "bob"
    kept = subjects.keep(stream.decode(packets, now_s=2.2), now_s=2.2, wanted="alice")  # the user picks one
    assert [f.subject for f in kept] == ["alice"] * 5 and subjects.ignored == {"bob": 5}
    many = [osc_frame(wire, 1, 0.0, [0.0] * 76, subject=f"s{i}") for i in range(wire.MAX_SUBJECTS + 10)]
    subjects.keep(stream.decode(many, now_s=9.0), now_s=9.0, wanted="alice")
    assert len(subjects.ignored) == wire.MAX_SUBJECTS  # a sender making up subjects is bounded


def test_a_lone_time_far_ahead_is_a_stray_and_a_real_jump_is_not(core: ModuleType) -> None:
    gate = core.timing.StrayGate(max_jump_s=60.0)
    times = [0.0, 0.5, 1.0, 100_000.0, 1.5, 2.0, 0.0, 0.5, 500.0, 500.1, 500.2]
    assert [gate.accept(t) for t in times] == [True, True, True, False, True, True, True, True, False, True, True]
    assert gate.dropped == 2
