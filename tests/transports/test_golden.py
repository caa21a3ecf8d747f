"""Golden wire files: the encoders reproduce them byte for byte, and independent decoders (msgpack,
python-osc, struct written from the published layout) read back what the manifest says."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import msgpack
import pytest
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_packet import OscPacket

from bridge.transports import golden
from bridge.transports.encoding import decode_control_osc, decode_control_zmq_reply, decode_control_zmq_request

GOLDEN = Path(__file__).resolve().parents[2] / "schemas" / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text(encoding="utf-8"))
FILES = {f["file"]: f for f in MANIFEST["files"]}


def _by_protocol(protocol: str) -> list[dict[str, Any]]:
    return [f for f in MANIFEST["files"] if f["protocol"] == protocol]


def _read(entry: dict[str, Any]) -> bytes:
    data = (GOLDEN / entry["file"]).read_bytes()
    assert len(data) == entry["bytes"]
    return data


def _datagrams(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


def _tags(dgram: bytes) -> str:
    # Independent of the encoder: skip the padded address, read the padded type-tag string.
    end = dgram.index(b"\0")
    start = (end // 4 + 1) * 4
    return dgram[start : dgram.index(b"\0", start)].decode()


def _osc(dgram: bytes) -> dict[str, Any]:
    msg = OscMessage(dgram)
    return {"address": msg.address, "types": _tags(dgram), "args": list(msg.params)}


def test_encoders_reproduce_every_golden_file_byte_for_byte(tmp_path: Path) -> None:
    assert golden.check(GOLDEN) == []
    # and the check can fail: a regenerated folder with one flipped byte is reported
    golden.write(tmp_path)
    victim = tmp_path / "livelinkface_1.bin"
    data = bytearray(victim.read_bytes())
    data[-1] ^= 1
    victim.write_bytes(bytes(data))
    assert golden.check(tmp_path) == ["livelinkface_1.bin"]


def test_manifest_lists_every_file_and_every_viseme_appears() -> None:
    on_disk = {str(p.relative_to(GOLDEN)) for p in GOLDEN.rglob("*") if p.is_file()} - {"manifest.json"}
    assert on_disk == set(FILES)
    visemes = {f["decoded"]["payload"]["viseme"] for f in _by_protocol("zmq-face")}
    assert visemes == {"sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou"}
    protocols = {f["protocol"] for f in MANIFEST["files"]}
    assert {"zmq-face", "zmq-ema", "zmq-status", "osc-names", "osc-frame", "osc-bundle", "vmc", "livelinkface",
            "control-zmq-request", "control-zmq-reply", "control-osc"} <= protocols  # fmt: skip


@pytest.mark.parametrize("protocol", ["zmq-face", "zmq-ema", "zmq-status"])
def test_zmq_golden_decodes_with_plain_msgpack(protocol: str) -> None:
    for entry in _by_protocol(protocol):
        data = _read(entry)
        topic, sep, payload = data.partition(b"\0")
        assert sep and topic.decode() == entry["decoded"]["topic"]
        assert msgpack.unpackb(payload, raw=False) == entry["decoded"]["payload"]
        assert len(data) < 1024


def test_zmq_face_floats_are_float32_except_times() -> None:
    payload = _read(FILES["zmq_face_2.bin"]).partition(b"\0")[2]
    # msgpack markers: 0xcb float64, 0xca float32, 0xdc array16; keys are fixstr (0xa0 + length)
    for key in (b"tc", b"tp"):
        assert payload[payload.index(b"\xa2" + key) + 3] == 0xCB
    for key in (b"t", b"voice", b"mood_intensity"):
        assert bytes([0xA0 + len(key)]) + key + b"\xca" in payload
    pos = payload.index(b"\xa2bs") + 3
    assert payload[pos : pos + 3] == b"\xdc\x00\x34"
    assert all(payload[pos + 3 + 5 * i] == 0xCA for i in range(52))


@pytest.mark.parametrize("protocol", ["osc-names", "osc-frame", "osc-status", "control-osc"])
def test_osc_golden_decodes_with_python_osc(protocol: str) -> None:
    for entry in _by_protocol(protocol):
        decoded = _osc(_read(entry))
        expected = {k: entry["decoded"][k] for k in ("address", "types", "args")}
        assert decoded == expected, entry["file"]


def test_osc_frame_values_follow_announced_names() -> None:
    names = _osc(_read(FILES["osc_names_1.bin"]))["args"]
    frame = _osc(_read(FILES["osc_frame_1.bin"]))["args"]
    assert names[0] == frame[0] == golden.LONG_SUBJECT
    values = dict(zip(names[1:], frame[5:], strict=True))
    src = MANIFEST["samples"]["frame1"]
    assert values["jawOpen"] == src["blendshapes"]["jawOpen"]
    assert values["head_yaw_rad"] == src["joints"]["head_yaw_rad"] == -0.5
    assert values["ema_td_y"] == src["ema"]["td_y"] == -6.0


def test_osc_bundle_decodes_with_python_osc() -> None:
    for entry in _by_protocol("osc-bundle"):
        bundle = OscBundle(_read(entry))
        assert bundle.dgram[8:16] == b"\0\0\0\0\0\0\0\1"  # timetag "immediately"
        assert [_osc(m.dgram) for m in bundle] == [
            {k: e[k] for k in ("address", "types", "args")} for e in entry["decoded"]["elements"]
        ]


def test_vmc_golden_decodes_with_python_osc() -> None:
    for entry in _by_protocol("vmc"):
        dgrams = _datagrams(_read(entry))
        want = entry["decoded"]
        assert len(dgrams) == want["datagrams"]
        messages: list[OscMessage] = []
        for d in dgrams:
            assert len(d) <= 1400
            assert d.startswith(b"#bundle") == want["bundled"]
            messages += [m.message for m in OscPacket(d).messages]
        order = [m.address.removeprefix("/VMC/Ext/") for m in messages]
        assert order == want["messages_in_order"]
        bones = {m.params[0]: m.params[1:] for m in messages if m.address == "/VMC/Ext/Bone/Pos"}
        assert {b: {"pos": v[:3], "rot_xyzw": v[3:]} for b, v in bones.items()} == want["bones"]
        for b in bones.values():
            assert math.isclose(sum(x * x for x in b[3:]), 1.0, rel_tol=1e-5)
        blend = {m.params[0]: m.params[1] for m in messages if m.address == "/VMC/Ext/Blend/Val"}
        assert blend == want["blend"]
        ok = next(m for m in messages if m.address == "/VMC/Ext/OK")
        assert ok.params == [1] and _tags(ok.dgram) == ",i"
        t = next(m for m in messages if m.address == "/VMC/Ext/T")
        assert t.params == [want["t"]] and _tags(t.dgram) == ",f"
        assert all(_tags(m.dgram) == ",sf" for m in messages if m.address == "/VMC/Ext/Blend/Val")


def _decode_llf(data: bytes) -> dict[str, Any]:
    """Live Link Face v6 reader written from schemas/livelinkface.md (big-endian, length-prefixed strings)."""
    pos = 0
    (version,) = struct.unpack_from(">B", data, pos)
    pos += 1
    strings = []
    for _ in range(2):
        (n,) = struct.unpack_from(">i", data, pos)
        strings.append(data[pos + 4 : pos + 4 + n].decode())
        pos += 4 + n
    frame_number, subframe, num, den = struct.unpack_from(">ifii", data, pos)
    pos += 16
    (count,) = struct.unpack_from(">B", data, pos)
    pos += 1
    values = struct.unpack_from(f">{count}f", data, pos)
    assert pos + 4 * count == len(data)
    return {
        "version": version,
        "device_id": strings[0],
        "subject": strings[1],
        "frame_number": frame_number,
        "subframe": subframe,
        "rate": [num, den],
        "count": count,
        "values": list(values),
    }


def test_livelinkface_golden_decodes_with_an_independent_reader() -> None:
    for entry in _by_protocol("livelinkface"):
        data = _read(entry)
        got = _decode_llf(data)
        want = dict(entry["decoded"])
        assert got["values"] == list(want.pop("values").values())
        got.pop("values")
        assert got == want
        assert len(data) == 270 + len(got["device_id"].encode()) + len(got["subject"].encode())
    frame1 = _decode_llf(_read(FILES["livelinkface_1.bin"]))
    # head yaw -0.5 rad -> -0.5 / (pi/2); eye yaw 0.375 rad -> -0.375 / (pi/2), the app's sign; eye roll is 0
    assert frame1["values"][52] == pytest.approx(-0.5 / (math.pi / 2), abs=1e-7)
    assert frame1["values"][55] == pytest.approx(-0.375 / (math.pi / 2), abs=1e-7)
    assert frame1["values"][57] == 0.0


def test_control_golden_decodes_and_validates() -> None:
    for name, request in golden.CONTROL_SAMPLES:
        zmq_data = _read(FILES[f"control_zmq_request_{name}.bin"])
        assert msgpack.unpackb(zmq_data, raw=False) == FILES[f"control_zmq_request_{name}.bin"]["decoded"]
        assert decode_control_zmq_request(zmq_data) == request
        assert decode_control_osc(_read(FILES[f"control_osc_{name}.bin"])) == request
    for name, reply in golden.REPLY_SAMPLES:
        data = _read(FILES[f"control_zmq_reply_{name}.bin"])
        assert msgpack.unpackb(data, raw=False) == FILES[f"control_zmq_reply_{name}.bin"]["decoded"]
        assert decode_control_zmq_reply(data) == reply
