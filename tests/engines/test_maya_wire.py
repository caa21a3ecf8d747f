"""engines/common/avatar_wire.py: OSC, Live Link Face and bake decoding, strict on malformed input."""

from __future__ import annotations

import json
import math
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge.frames import ARKIT_NAMES, EMA_NAMES, JOINT_NAMES, VISEMES

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "engines" / "common"))
import avatar_wire as w  # noqa: E402


def _msg(address: str, args: list[tuple[str, object]]) -> bytes:
    b = OscMessageBuilder(address)
    for tag, value in args:
        b.add_arg(value, tag)
    return bytes(b.build().dgram)


def _names_msg(subject: str, names: tuple[str, ...]) -> bytes:
    return _msg(w.ADDRESS_NAMES, [("s", subject)] + [("s", n) for n in names])


def _frame_msg(subject: str, seq: int, values: list[float], t: float = 1.25, viseme: str = "aa") -> bytes:
    head: list[tuple[str, object]] = [("s", subject), ("i", seq), ("f", t), ("s", viseme), ("f", 0.5)]
    return _msg(w.ADDRESS_FRAME, head + [("f", v) for v in values])


def _bundle(*elements: bytes) -> bytes:
    """An OSC bundle with timetag "immediately" around already-encoded elements."""
    body = b"".join(struct.pack(">i", len(e)) + e for e in elements)
    return b"#bundle\x00" + struct.pack(">Q", 1) + body


def test_channel_tables_match_bridge_frames() -> None:
    assert w.ARKIT_NAMES == ARKIT_NAMES
    assert w.JOINT_NAMES == JOINT_NAMES
    assert w.EMA_NAMES == EMA_NAMES
    assert w.VISEMES == VISEMES
    assert len(w.DEFAULT_CHANNELS) == 76
    assert w.DEFAULT_CHANNELS[-1] == "ema_td_y"


def test_frame_in_default_order_before_any_names() -> None:
    values = [i / 128 for i in range(76)]
    [frame] = w.AvatarDecoder().feed(_frame_msg("avatar", 3, values))
    assert (frame.subject, frame.seq, frame.viseme) == ("avatar", 3, "aa")
    assert frame.t_s == pytest.approx(1.25)
    assert frame.voice == pytest.approx(0.5)
    assert frame.get("jawOpen") == pytest.approx(values[17])
    assert frame.joints() == pytest.approx(values[52:64])
    assert frame.ema_mm() == pytest.approx(values[64:76])
    assert set(frame.blendshapes()) == set(ARKIT_NAMES)


def test_announced_names_reorder_values_per_subject() -> None:
    dec = w.AvatarDecoder()
    reordered = tuple(reversed(w.DEFAULT_CHANNELS))
    dec.feed(_names_msg("a", reordered))
    values = [float(i) for i in range(76)]
    [fa] = dec.feed(_frame_msg("a", 0, values))
    [fb] = dec.feed(_frame_msg("b", 0, values))
    assert fa.get("ema_td_y") == 0.0  # first value under subject a's announced order
    assert fb.get("ema_td_y") == 75.0  # subject b still uses the default order
    assert dec.subjects() == ["a"]
    assert dec.names_for("b") == w.DEFAULT_CHANNELS


def test_bundle_with_names_then_frame() -> None:
    names = ("jawOpen", "ema_li_y")
    packet = _bundle(_names_msg("s", names), _frame_msg("s", 9, [0.25, -3.5]))
    dec = w.AvatarDecoder()
    [frame] = dec.feed(packet)
    assert frame.as_dict() == {"jawOpen": 0.25, "ema_li_y": -3.5}
    assert frame.ema_mm()[1] == -3.5
    assert frame.joints() == [0.0] * 12


def test_nested_bundles_and_foreign_addresses() -> None:
    inner = _bundle(_msg("/VMC/Ext/OK", [("i", 1)]), _frame_msg("s", 1, [0.0] * 76))
    frames = w.AvatarDecoder().feed(_bundle(inner, _frame_msg("s", 2, [0.0] * 76)))
    assert [f.seq for f in frames] == [1, 2]


def test_all_osc_argument_types_decode() -> None:
    data = _msg(
        "/x",
        [("i", -2), ("f", 0.5), ("s", "hé"), ("d", 2.25), ("h", 1 << 40), ("b", b"abcde"), ("T", True),
         ("F", False), ("N", None)],
    )  # fmt: skip
    [m] = w.parse_osc_packet(data)
    assert m.address == "/x"
    assert m.tags == "ifsdhbTFN"
    assert m.args == (-2, 0.5, "hé", 2.25, 1 << 40, b"abcde", True, False, None)


def test_message_without_type_tags() -> None:
    assert w.parse_osc_message(b"/ping\x00\x00\x00").args == ()


_GOOD = _frame_msg("s", 1, [0.0] * 76)


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"/ab",
        b"noslash\x00",
        b"/a\x00\x00,i\x00\x00",  # int with no bytes
        b"/a\x00\x00,q\x00\x00\x00\x00\x00\x00",  # unknown tag
        b"/a\x00\x00,s\x00\x00abcd",  # string without NUL
        b"/a\x00\x01",  # non-zero padding
        b"/a\x00\x00,b\x00\x00\x00\x00\x00\x10",  # blob longer than the packet
        b"/a\x00\x00,b\x00\x00\xff\xff\xff\xff",  # negative blob size
        b"/a\x00\x00\xff\xfe\x00\x00",  # type tags without a comma
        b"/\xff\xfe\x00",  # address not UTF-8
        _GOOD[:-4],
        _GOOD + b"\x00\x00\x00\x00",
        b"#bundle\x00" + b"\x00" * 4,  # short header
        b"#bundle\x00" + b"\x00" * 8 + b"\x00\x00\x00\x06" + b"/a\x00\x00\x00\x00",  # size not x4
        b"#bundle\x00" + b"\x00" * 8 + b"\x00\x00\x01\x00" + b"/a\x00\x00",  # element past the end
        b"#bundle\x00" + b"\x00" * 8 + b"\x00\x00\x00\x00",  # zero-size element
        _frame_msg("s", 1, [0.0] * 75),  # wrong value count for the default order
        _frame_msg("s", 1, [math.nan] + [0.0] * 75),  # non-finite value
        _msg(w.ADDRESS_FRAME, [("s", "s"), ("f", 1.0), ("f", 0.0), ("s", "aa"), ("f", 0.0)]),  # float seq
        _msg(w.ADDRESS_FRAME, [("s", "s"), ("i", 1)]),  # too few args
        _msg(w.ADDRESS_FRAME, [("i", 1), ("i", 1), ("f", 0.0), ("s", "aa"), ("f", 0.0)]),  # int subject
        _msg(w.ADDRESS_NAMES, [("s", "s")]),  # names without names
        _names_msg("s", ("jawOpen", "jawOpen")),  # duplicate name
        _names_msg("s", ("jawOpen", "")),  # empty name
    ],
)
def test_malformed_packets_raise_wire_error(packet: bytes) -> None:
    with pytest.raises(w.WireError):
        w.AvatarDecoder().feed(packet)


def test_deeply_nested_bundle_is_rejected() -> None:
    packet = _GOOD
    for _ in range(9):
        packet = _bundle(packet)
    with pytest.raises(w.WireError, match="nested"):
        w.AvatarDecoder().feed(packet)


def test_decoder_survives_garbage_between_good_packets() -> None:
    dec = w.AvatarDecoder()
    assert len(dec.feed(_GOOD)) == 1
    with pytest.raises(w.WireError):
        dec.feed(_GOOD[:17])
    assert len(dec.feed(_GOOD)) == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_wire_error(data: bytes) -> None:
    try:
        w.AvatarDecoder().feed(data)
    except w.WireError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(_GOOD) - 1), st.integers(min_value=0, max_value=255))
def test_corrupted_frame_bytes_raise_only_wire_error(index: int, value: int) -> None:
    data = bytearray(_bundle(_names_msg("s", w.DEFAULT_CHANNELS), _GOOD))
    data[index] = value
    try:
        w.AvatarDecoder().feed(bytes(data))
    except w.WireError:
        pass


# Live Link Face v6 ---------------------------------------------------------------------------


def _llf(device: bytes = b"dev", subject: bytes = b"avatar", count: int = 61, version: int = 6) -> bytes:
    values = [i / 100 for i in range(count)]
    return (
        bytes([version])
        + struct.pack(">i", len(device))
        + device
        + struct.pack(">i", len(subject))
        + subject
        + struct.pack(">ifii", 120, 0.5, 60, 1)
        + bytes([count])
        + struct.pack(f">{count}f", *values)
    )


def test_livelinkface_v6_decodes() -> None:
    data = _llf()
    assert len(data) == 270 + 3 + 6  # protocols.md: total = 270 + Ld + Ls
    pkt = w.parse_livelinkface(data)
    assert (pkt.device_id, pkt.subject) == ("dev", "avatar")
    assert (pkt.frame_number, pkt.rate_num, pkt.rate_den) == (120, 60, 1)
    assert pkt.time_s() == pytest.approx(120.5 / 60)
    assert pkt.values[17] == pytest.approx(0.17)
    frame = pkt.to_frame(seq=4)
    assert frame.get("jawOpen") == pytest.approx(0.17)
    assert frame.get("HeadYaw") == pytest.approx(0.52)
    assert w.LLF_NAMES[17] == "JawOpen"


@pytest.mark.parametrize(
    "data",
    [_llf(version=5), _llf(count=52), _llf()[:-1], _llf() + b"\x00", b"\x06\xff\xff\xff\xff", b""],
    ids=["version 5", "52 values", "truncated", "trailing byte", "negative length", "empty"],
)
def test_livelinkface_malformed(data: bytes) -> None:
    with pytest.raises(w.WireError):
        w.parse_livelinkface(data)


# bake JSON Lines -----------------------------------------------------------------------------


def _bake_line(t: float, jaw: float) -> dict[str, object]:
    shapes = dict.fromkeys(ARKIT_NAMES, 0.0)
    shapes["jawOpen"] = jaw
    return {"t": t, "blendshapes": shapes, "ema": [float(i) for i in range(12)], "viseme": "aa", "voice": 1.0}


def test_load_bake_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    lines = [json.dumps(_bake_line(i / 60, i / 10)) for i in range(3)]
    path.write_text("\n".join(lines[:2]) + "\n\n" + lines[2] + "\n", encoding="utf-8")
    frames = w.load_bake_jsonl(str(path))
    assert [f.seq for f in frames] == [0, 1, 2]
    assert frames[2].t_s == pytest.approx(2 / 60)
    assert frames[2].get("jawOpen") == pytest.approx(0.2)
    assert frames[1].ema_mm() == [float(i) for i in range(12)]
    assert frames[0].viseme == "aa"


@pytest.mark.parametrize(
    "line",
    ["[1, 2]", "{not json", '{"t": 0}', '{"t": "x", "blendshapes": {}}',
     '{"t": 0, "blendshapes": {}, "ema": [1]}', '{"t": 0, "blendshapes": {"jawOpen": null}}',
     '{"t": 0, "blendshapes": {}, "joints": {"jaw_open_rad": 1e300}}'],
)  # fmt: skip
def test_bake_malformed_line_names_the_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_bake_line(0.0, 0.0)) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(w.WireError, match="line 2"):
        w.load_bake_jsonl(str(path))


def test_a_bake_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    path.write_text("\ufeff" + json.dumps(_bake_line(0.0, 0.3)) + "\n", encoding="utf-8")
    assert w.load_bake_jsonl(str(path))[0].get("jawOpen") == pytest.approx(0.3)


def test_a_recording_is_named_as_one_not_as_a_bad_bake(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    path.write_text('{"format": "avatar-bridge-record", "v": 1}\n', encoding="utf-8")
    with pytest.raises(w.WireError, match="a recording made by `avatar-bridge run --record`, not a bake file"):
        w.load_bake_jsonl(str(path))


@pytest.mark.parametrize(
    "data", [b"\x1f\x8b\x08\x00binary", '{"t": 0, "subject": "caf\u00e9"}'.encode("latin-1"),
             '{"t": 0}'.encode("utf-16")],
    ids=["gzip", "latin-1", "utf-16"],
)  # fmt: skip
def test_bake_that_is_not_utf8_is_a_wire_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "line.jsonl"
    path.write_bytes(data)
    with pytest.raises(w.WireError, match="not UTF-8"):
        w.load_bake_jsonl(str(path))


# msgpack / ZeroMQ ----------------------------------------------------------------------------


def test_msgpack_types_roundtrip_through_the_reference_packer() -> None:
    import msgpack

    obj = {"a": [1, -1, -33, 200, 70000, 1 << 40, -(1 << 40), 0.5, None, True, False, b"\x00\x01"], "s": "é" * 40}
    assert w.unpack_msgpack(msgpack.packb(obj, use_bin_type=True, use_single_float=True)) == obj
    big = {"l": list(range(70000)), "m": {str(i): i for i in range(70000)}, "t": "x" * 70000}
    assert w.unpack_msgpack(msgpack.packb(big, use_bin_type=True)) == big


@pytest.mark.parametrize(
    "data",
    [b"", b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xc1", b"\xd4\x01\x00", b"\x91", b"\x01\x02",
     b"\xa2\xff\xfe", b"\x81\x90\x01", b"\x91" * 40 + b"\x01"],
    ids=["empty", "huge array", "huge map", "reserved byte", "ext", "short array", "trailing", "bad utf-8",
         "list key", "too deep"],
)  # fmt: skip
def test_msgpack_malformed(data: bytes) -> None:
    with pytest.raises(w.WireError):
        w.unpack_msgpack(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_msgpack_random_bytes_raise_only_wire_error(data: bytes) -> None:
    try:
        w.unpack_msgpack(data)
    except w.WireError:
        pass


def test_absurd_finite_values_are_refused_on_every_wire(tmp_path: Path) -> None:
    """A joint of 1e30 rad is finite but gives a rig NaN rotations: refused like NaN, live and baked."""
    import msgpack

    huge = 1e30
    with pytest.raises(w.WireError, match="out of range"):
        w.AvatarDecoder().feed(_frame_msg("s", 1, [0.0] * 52 + [huge] + [0.0] * 23))
    face = {"v": 1, "seq": 1, "t": 0.5, "subject": "a", "bs": [0.0] * 52, "joints": [huge] + [0.0] * 11,
            "ema": [0.0] * 12, "viseme": "aa", "voice": 1.0}  # fmt: skip
    with pytest.raises(w.WireError, match="out of range"):
        w.frame_from_zmq_face(w.parse_zmq_message(b"face/a\x00" + msgpack.packb(face))[1])
    llf = bytearray(_llf())
    struct.pack_into(">f", llf, len(llf) - 4, huge)
    with pytest.raises(w.WireError, match="out of range"):
        w.parse_livelinkface(bytes(llf))
    line = _bake_line(0.0, 0.0)
    line["blendshapes"]["jawOpen"] = huge  # type: ignore[index]
    with pytest.raises(w.WireError, match="out of range"):
        w.parse_bake_line(json.dumps(line))
    # The bridge's own extremes still decode: a stream's time is not a channel and may be large.
    assert w.AvatarDecoder().feed(_frame_msg("s", 1, [1000.0] * 76, t=1e6))[0].t_s == 1e6


def test_times_and_sizes_a_rig_cannot_use_are_refused(tmp_path: Path) -> None:
    """QA: t = 1e307 overflowed Blender's and Maya's frame numbers (the live timer died, a Maya take
    was lost); a 400-digit integer or arrays nested 100 000 deep escaped as OverflowError/RecursionError."""
    for t in (-1.0, 1e8):
        with pytest.raises(w.WireError, match="frame t .* out of range"):
            w.AvatarDecoder().feed(_frame_msg("s", 1, [0.0] * 76, t=t))
        with pytest.raises(w.WireError, match="out of range"):
            w.parse_bake_line(json.dumps({"t": t, "blendshapes": {}}))
    with pytest.raises(w.WireError, match="frame voice"):
        w.AvatarDecoder().feed(_msg(w.ADDRESS_FRAME, [("s", "s"), ("i", 1), ("f", 0.0), ("s", "aa"), ("f", 1e30)]
                                    + [("f", 0.0)] * 76))  # fmt: skip
    late = bytearray(_llf())
    struct.pack_into(">i", late, 1 + 4 + 3 + 4 + 6, -120)  # a negative frame number
    with pytest.raises(w.WireError, match="Live Link Face frame time"):
        w.parse_livelinkface(bytes(late))
    for line in ('{"t": 0, "blendshapes": {"jawOpen": 1' + "0" * 400 + "}}", "[" * 100_000,
                 '{"t": 0, "blendshapes": {"jawOpen": 0.1}, "joints": {"jawOpen": 0.5}}'):  # fmt: skip
        with pytest.raises(w.WireError):
            w.parse_bake_line(line)


def test_a_sender_cannot_grow_a_receivers_memory() -> None:
    decoder = w.AvatarDecoder()
    for i in range(w.MAX_SUBJECTS + 5):
        decoder.feed(_names_msg(f"s{i}", ("jawOpen",)))
    assert len(decoder.subjects()) == w.MAX_SUBJECTS and "s0" not in decoder.subjects()
    decoder.feed(_names_msg("s5", ("jawOpen",)))  # announced again: now the most recent
    decoder.feed(_names_msg("new", ("jawOpen",)))
    assert "s5" in decoder.subjects() and "s6" not in decoder.subjects()
    with pytest.raises(w.WireError, match="announces 1025 channels"):
        decoder.feed(_names_msg("big", tuple(f"c{i}" for i in range(w.MAX_CHANNELS + 1))))


def test_zmq_face_rejects_wrong_version_and_sizes() -> None:
    import msgpack

    good = {"v": 1, "seq": 1, "t": 0.5, "subject": "a", "bs": [0.0] * 52, "joints": [0.0] * 12, "ema": [0.0] * 12,
            "viseme": "aa", "voice": 1.0}  # fmt: skip
    topic, payload = w.parse_zmq_message(b"face/a\x00" + msgpack.packb(good))
    assert topic == "face/a"
    assert w.frame_from_zmq_face(payload).viseme == "aa"
    for bad in ({"v": 2}, {"bs": [0.0] * 51}, {"seq": 1.5}, {"ema": None}):
        with pytest.raises(w.WireError):
            w.frame_from_zmq_face({**good, **bad})
    with pytest.raises(w.WireError, match="NUL"):
        w.parse_zmq_message(b"face/a")
