"""avatar_wire against every golden file in schemas/golden/ whose protocol it decodes."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

from bridge.face.solver import JAW_RAD_AT_FULL_OPEN
from bridge.frames import ARKIT_NAMES, EMA_NAMES, JOINT_NAMES

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "schemas" / "golden"
sys.path.insert(0, str(ROOT / "engines" / "common"))
import avatar_wire as w  # noqa: E402

if not (GOLDEN / "manifest.json").is_file():
    pytest.skip("schemas/golden/manifest.json not generated yet", allow_module_level=True)

MANIFEST: dict[str, Any] = json.loads((GOLDEN / "manifest.json").read_text(encoding="utf-8"))
FILES: list[dict[str, Any]] = MANIFEST["files"]
OSC = ("osc-frame", "osc-names", "osc-bundle", "osc-status", "control-osc")
ZMQ = ("zmq-face", "zmq-ema", "zmq-status")


def _entries(*protocols: str) -> list[Any]:
    return [pytest.param(e, id=e["file"]) for e in FILES if e["protocol"] in protocols]


def _data(entry: dict[str, Any]) -> bytes:
    return (GOLDEN / entry["file"]).read_bytes()


def _f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def _expect_message(msg: w.OscMessage, decoded: dict[str, Any]) -> None:
    assert msg.address == decoded["address"]
    assert "," + msg.tags == decoded["types"]
    assert list(msg.args) == decoded["args"]  # float32 values compare exactly


def test_manifest_covers_the_wire_formats_this_decoder_reads() -> None:
    protocols = {e["protocol"] for e in FILES}
    assert {"osc-frame", "osc-names", "osc-bundle", "livelinkface", "zmq-face"} <= protocols
    assert MANIFEST["osc_channel_names"] == list(w.DEFAULT_CHANNELS)
    assert MANIFEST["livelinkface_curve_names"] == list(w.LLF_NAMES)


@pytest.mark.parametrize("entry", _entries(*OSC))
def test_osc_golden_messages(entry: dict[str, Any]) -> None:
    data = _data(entry)
    assert len(data) == entry["bytes"]
    messages = w.parse_osc_packet(data)
    decoded = entry["decoded"]
    expected = decoded["elements"] if "elements" in decoded else [decoded]
    assert len(messages) == len(expected)
    for msg, exp in zip(messages, expected, strict=True):
        _expect_message(msg, exp)


def _expect_frame(frame: w.Frame, sample: dict[str, Any]) -> None:
    assert frame.subject == sample["subject"]
    assert frame.seq == sample["seq"]
    assert frame.t_s == _f32(sample["t_s"])
    assert frame.viseme == sample["viseme"]
    assert frame.voice == _f32(sample["voice"])
    assert frame.blendshapes() == {n: _f32(sample["blendshapes"][n]) for n in ARKIT_NAMES}
    assert frame.joints() == [_f32(sample["joints"][n]) for n in JOINT_NAMES]
    assert frame.ema_mm() == [_f32(sample["ema"][n]) for n in EMA_NAMES]


@pytest.mark.parametrize("entry", _entries("osc-frame", "osc-bundle"))
def test_osc_golden_frames_decode_to_the_sample(entry: dict[str, Any]) -> None:
    dec = w.AvatarDecoder()
    [frame] = dec.feed(_data(entry))
    _expect_frame(frame, MANIFEST["samples"][entry["sample"]])
    assert frame.names == w.DEFAULT_CHANNELS


@pytest.mark.parametrize("entry", _entries("osc-names"))
def test_osc_golden_names_are_remembered(entry: dict[str, Any]) -> None:
    dec = w.AvatarDecoder()
    assert dec.feed(_data(entry)) == []
    subject = entry["decoded"]["args"][0]
    assert dec.subjects() == [subject]
    assert dec.names_for(subject) == tuple(MANIFEST["osc_channel_names"])


@pytest.mark.parametrize("entry", _entries("livelinkface"))
def test_livelinkface_golden(entry: dict[str, Any]) -> None:
    pkt = w.parse_livelinkface(_data(entry))
    d = entry["decoded"]
    assert (pkt.device_id, pkt.subject, pkt.frame_number, pkt.subframe) == (
        d["device_id"],
        d["subject"],
        d["frame_number"],
        d["subframe"],
    )
    assert [pkt.rate_num, pkt.rate_den] == d["rate"]
    assert dict(zip(w.LLF_NAMES, pkt.values, strict=True)) == d["values"]


@pytest.mark.parametrize("entry", _entries("livelinkface"))
def test_livelinkface_golden_gives_the_samples_head_eye_and_jaw_angles(entry: dict[str, Any]) -> None:
    # Rigs with head, eye and jaw bones follow on this wire too; its angles are float32, scaled to -1..1.
    # The jaw hinge is not on this wire: it follows jawOpen the way the bridge's solver makes it.
    frame = w.parse_livelinkface(_data(entry)).to_frame()
    sample = MANIFEST["samples"][entry["sample"]]
    for name, _, _ in w.LLF_JOINTS:
        assert frame.get(name, default=99.0) == pytest.approx(sample["joints"][name], abs=1e-6), name
    jaw_open = _f32(sample["blendshapes"]["jawOpen"])
    assert frame.get("jaw_open_rad", default=99.0) == pytest.approx(JAW_RAD_AT_FULL_OPEN * jaw_open, abs=1e-6)
    assert w.JAW_RAD_AT_FULL_OPEN == JAW_RAD_AT_FULL_OPEN


@pytest.mark.parametrize("entry", _entries(*ZMQ, "control-zmq-request", "control-zmq-reply"))
def test_zmq_golden_payloads(entry: dict[str, Any]) -> None:
    data = _data(entry)
    decoded = entry["decoded"]
    if "topic" in decoded:
        topic, payload = w.parse_zmq_message(data)
        assert topic == decoded["topic"]
        assert payload == decoded["payload"]
    else:  # control channel: a bare msgpack map
        assert w.unpack_msgpack(data) == decoded


@pytest.mark.parametrize("entry", _entries("zmq-face"))
def test_zmq_golden_face_frames(entry: dict[str, Any]) -> None:
    _, payload = w.parse_zmq_message(_data(entry))
    _expect_frame(w.frame_from_zmq_face(payload), MANIFEST["samples"][entry["sample"]])


def _datagrams(blob: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(blob):
        (size,) = struct.unpack_from(">I", blob, pos)
        out.append(blob[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return out


@pytest.mark.parametrize("entry", _entries("vmc"))
def test_vmc_golden_datagrams_parse_as_osc(entry: dict[str, Any]) -> None:
    dgrams = _datagrams(_data(entry))
    decoded = entry["decoded"]
    assert len(dgrams) == decoded["datagrams"]
    messages = [m for d in dgrams for m in w.parse_osc_packet(d)]
    blend = {m.args[0]: m.args[1] for m in messages if m.address == "/VMC/Ext/Blend/Val"}
    assert blend == decoded["blend"]
    bones = {m.args[0]: list(m.args[1:]) for m in messages if m.address == "/VMC/Ext/Bone/Pos"}
    assert bones == {k: v["pos"] + v["rot_xyzw"] for k, v in decoded["bones"].items()}


def _bundle_boundaries(data: bytes) -> set[int]:
    """Cuts that leave a shorter but valid bundle: after the header and after each element."""
    cuts, pos = {16}, 16
    while pos < len(data):
        pos += 4 + struct.unpack_from(">i", data, pos)[0]
        cuts.add(pos)
    return cuts


@pytest.mark.parametrize("entry", _entries(*OSC, "livelinkface", *ZMQ))
def test_every_truncation_of_a_golden_file_raises_wire_error(entry: dict[str, Any]) -> None:
    data = _data(entry)
    valid: set[int] = set()
    if data.startswith(b"#bundle"):
        valid = _bundle_boundaries(data)
    elif entry["protocol"] in ("osc-status", "control-osc"):
        valid = {(data.index(b"\x00") + 4) & ~3}  # OSC 1.0: a bare address is a message without args
    for cut in range(len(data)):
        if cut in valid:
            assert w.AvatarDecoder().feed(data[:cut]) == []
            continue
        with pytest.raises(w.WireError):
            if entry["protocol"] == "livelinkface":
                w.parse_livelinkface(data[:cut])
            elif entry["protocol"] in ZMQ:
                w.parse_zmq_message(data[:cut])
            else:
                w.AvatarDecoder().feed(data[:cut])
