"""Golden wire files: deterministic sample frames encoded for every protocol, plus a JSON manifest.

``python -m bridge.transports.golden --write`` regenerates schemas/golden/; ``--check`` exits 1 when
any file differs from what the encoders produce now. Engine adapters decode the same files.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bridge.frames import (
    ARKIT_NAMES,
    EMA_NAMES,
    JOINT_NAMES,
    VISEMES,
    VRM_PRESETS,
    AnimationFrame,
    FacePose,
    RigChannels,
)
from bridge.transports import encoding as enc
from bridge.transports.messages import (
    BridgeStatus,
    Calibrate,
    ControlReply,
    ControlRequest,
    QueryStatus,
    SetMood,
    SetMuted,
    SetSubject,
)

log = logging.getLogger(__name__)

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "schemas" / "golden"
LONG_SUBJECT = "Subject_with_a_long_name_exactly_64_bytes_long_ABCDEFGHIJKLMNOPQ"
UNICODE_SUBJECT = "Zoë-ñ"


def _pose(
    bs: np.ndarray[Any, Any],
    joints: Sequence[float] | np.ndarray[Any, Any],
    ema: Sequence[float] | np.ndarray[Any, Any],
    viseme: str,
    voice: float,
    mood: str,
    intensity: float,
) -> FacePose:
    vis = np.zeros(len(VISEMES), np.float32)
    vis[VISEMES.index(viseme)] = 1.0
    vrm = np.asarray([(i + 1) / 16 for i in range(len(VRM_PRESETS))], np.float32)
    return FacePose(
        blendshapes=np.asarray(bs, np.float32),
        joints=np.asarray(joints, np.float32),
        ema=np.asarray(ema, np.float32),
        visemes=vis,
        vrm=vrm,
        viseme=viseme,
        voice=voice,
        mood=mood,
        mood_intensity=intensity,
    )


def sample_frames() -> list[AnimationFrame]:
    """Three frames: rest (all zeros), a busy frame (0 and 1, negative joints, 64-byte subject), and
    one with non-dyadic values, -0.0 and a non-ASCII subject."""
    rest = AnimationFrame(
        seq=0,
        t_s=0.0,
        t_capture_s=1000.0,
        t_publish_s=1000.0078125,
        fps=60,
        subject="avatar",
        pose=_pose(np.zeros(52), [0.0] * 12, [0.0] * 12, "sil", 0.0, "neutral", 0.0),
    )
    busy = AnimationFrame(
        seq=1,
        t_s=0.5,
        t_capture_s=1000.5,
        t_publish_s=1000.515625,
        fps=60,
        subject=LONG_SUBJECT,
        pose=_pose(
            np.asarray([(i * 5 % 17) / 16 for i in range(52)]),
            [0.25, -0.5, 0.125, -0.0625, 0.375, -0.25, -0.375, 0.25, -1.0, 1.0, -0.5, 1.0],
            [-3.5, 2.25, -1.0, 0.5, 0.0, -7.75, 12.5, -2.0, 1.5, -0.25, 4.0, -6.0],
            "aa",
            1.0,
            "happy",
            0.75,
        ),
    )
    odd = AnimationFrame(
        seq=123456,
        t_s=2057.76,
        t_capture_s=3057.123456789,
        t_publish_s=3057.129876543,
        fps=100,
        subject=UNICODE_SUBJECT,
        pose=_pose(
            np.asarray([0.1 * (i % 11) if i % 2 else 1.0 - 0.01 * i for i in range(52)]),
            [0.3, 0.1, -0.2, -0.0, -0.05, 0.02, 0.05, -0.02, 0.7, -0.3, 0.1, 0.42],
            [0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, -1.1, 1.2, -1.3],
            "E",
            0.333,
            "surprised",
            0.1,
        ),
    )
    return [rest, busy, odd]


def viseme_frames() -> list[AnimationFrame]:
    """One frame per viseme, so every viseme string appears on the wire."""
    base = sample_frames()[1]
    return [
        AnimationFrame(
            seq=100 + i,
            t_s=1.0 + i / 60,
            t_capture_s=base.t_capture_s,
            t_publish_s=base.t_publish_s,
            fps=60,
            subject="avatar",
            pose=_pose(base.pose.blendshapes, base.pose.joints, base.pose.ema, v, 0.5, "neutral", 0.0),
        )
        for i, v in enumerate(VISEMES)
    ]


def rig_frames() -> list[AnimationFrame]:
    """The busy frame with rig-profile channels: a value below 0, one above 1, a non-ASCII name."""
    rig = RigChannels(
        profile="sample",
        names=("jaw_open", "mouth_smile_l", "mouth_smile_r", "brow_angle", "Fcl_MTH_A", "Zunge_hoch_ü"),
        values=np.asarray([0.625, 0.0, 1.0, -0.25, 1.5, 0.1], np.float32),
    )
    return [dataclasses.replace(sample_frames()[1], rig=rig)]


SAMPLE_STATUS = BridgeStatus(
    subject="avatar",
    fps=60,
    frames=3600,
    dropped_audio_s=0.0,
    latency_ms=42.5,
    vad=0.75,
    model="default",
    mood="happy",
    mood_intensity=0.5,
    muted=False,
)

CONTROL_SAMPLES: list[tuple[str, ControlRequest]] = [
    ("mood", SetMood("happy", 0.75)),
    ("mood_transition", SetMood("sad", 1.0, 2.5)),
    ("mute", SetMuted(True)),
    ("unmute", SetMuted(False)),
    ("calibrate", Calibrate()),
    ("subject", SetSubject(UNICODE_SUBJECT)),
    ("status", QueryStatus()),
]

REPLY_SAMPLES: list[tuple[str, ControlReply]] = [
    ("ok", ControlReply(ok=True)),
    ("error", ControlReply(ok=False, error="mood: must be one of neutral, happy, sad, angry, disgusted, "
                                           "afraid, surprised, got 'bored'")),
    ("status", ControlReply(ok=True, status=SAMPLE_STATUS)),
]  # fmt: skip


# --------------------------------------------------------------------------------- decoded (expected)


def _num(x: float) -> float:
    return float(np.float32(x))


def _osc_decoded(address: str, args: Sequence[object]) -> dict[str, Any]:
    tags = "," + "".join(
        ("T" if a else "F")
        if isinstance(a, bool)
        else "s"
        if isinstance(a, str)
        else "i"
        if isinstance(a, int)
        else "f"
        for a in args
    )
    return {
        "address": address,
        "types": tags,
        "args": [_num(a) if isinstance(a, float) else a for a in args],
    }


def _osc_frame_decoded(f: AnimationFrame) -> dict[str, Any]:
    values = enc.osc_frame_values(f.pose)
    return _osc_decoded(
        enc.OSC_FRAME_ADDRESS,
        [f.subject, f.seq % (1 << 31), float(f.t_s), f.pose.viseme, float(f.pose.voice)] + [float(v) for v in values],
    ) | {"values_by_name": dict(zip(enc.OSC_CHANNEL_NAMES, values, strict=True))}


def _osc_names_decoded(subject: str) -> dict[str, Any]:
    return _osc_decoded(enc.OSC_NAMES_ADDRESS, [subject, *enc.OSC_CHANNEL_NAMES])


def _zmq_decoded(topic: bytes, items: Sequence[tuple[str, object, bool]]) -> dict[str, Any]:
    payload = {k: (v if f64 else _jsonable(v)) for k, v, f64 in items}
    return {"topic": topic[:-1].decode(), "payload": payload}


def _jsonable(v: object) -> Any:
    if isinstance(v, float):
        return _num(v)
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


def _by_name(names: Sequence[str], values: np.ndarray[Any, Any]) -> dict[str, float]:
    return dict(zip(names, np.asarray(values, np.float32).tolist(), strict=True))


def _vmc_decoded(datagrams: Sequence[bytes], frame: AnimationFrame, names: str, bundle: bool) -> dict[str, Any]:
    head, vals, apply = enc.vmc_messages(frame, names)
    rotations = enc.vmc_bone_rotations(frame.pose.joints)
    return {
        "datagrams": len(datagrams),
        "bundled": bundle,
        "bones": {
            b: {"pos": [_num(x) for x in enc.VMC_BONE_OFFSETS_M[b]], "rot_xyzw": [_num(x) for x in rotations[b]]}
            for b in enc.VMC_BONES
        },
        "blend": {n: _num(v) for n, v in enc.vmc_blend_values(frame.pose, names)},
        "ok": 1,
        "t": _num(frame.t_s),
        "messages_in_order": ["Bone/Pos"] * len(enc.VMC_BONES)
        + ["OK", "T"]
        + ["Blend/Val"] * len(vals)
        + ["Blend/Apply"],
        "messages_total": len(head) + len(vals) + len(apply),
    }


def _llf_decoded(f: AnimationFrame) -> dict[str, Any]:
    number, sub, num, den = enc.llf_frame_time(f.t_s, f.fps)
    values = enc.llf_values(f)
    return {
        "version": enc.LLF_VERSION,
        "device_id": enc.LLF_DEFAULT_DEVICE_ID,
        "subject": f.subject,
        "frame_number": number,
        "subframe": sub,
        "rate": [num, den],
        "count": len(values),
        "values": dict(zip(enc.LLF_CURVE_NAMES, values, strict=True)),
    }


def _frame_source(f: AnimationFrame) -> dict[str, Any]:
    p = f.pose
    return {
        "seq": f.seq,
        "t_s": f.t_s,
        "t_capture_s": f.t_capture_s,
        "t_publish_s": f.t_publish_s,
        "fps": f.fps,
        "subject": f.subject,
        "blendshapes": _by_name(ARKIT_NAMES, p.blendshapes),
        "joints": _by_name(JOINT_NAMES, p.joints),
        "ema": _by_name(EMA_NAMES, p.ema),
        "vrm": _by_name(VRM_PRESETS, p.vrm),
        "viseme": p.viseme,
        "voice": _num(p.voice),
        "mood": p.mood,
        "mood_intensity": _num(p.mood_intensity),
    } | ({} if f.rig is None else {"rig": _by_name(f.rig.names, f.rig.values)})


# ---------------------------------------------------------------------------------------------- build


@dataclass(frozen=True, slots=True)
class GoldenFile:
    """One golden file: its bytes and its manifest entry."""

    name: str
    protocol: str
    container: str  # "raw": one message; "datagrams": uint32 BE length + bytes, repeated
    data: bytes
    decoded: dict[str, Any]
    sample: str | None = None


def pack_datagrams(datagrams: Sequence[bytes]) -> bytes:
    """The ``datagrams`` container: each datagram prefixed by its uint32 big-endian length."""
    return b"".join(struct.pack(">I", len(d)) + d for d in datagrams)


def build() -> list[GoldenFile]:
    """Every golden file, in manifest order."""
    out: list[GoldenFile] = []
    samples = sample_frames()

    def add(name: str, protocol: str, data: bytes, decoded: dict[str, Any], sample: str | None,
            container: str = "raw") -> None:  # fmt: skip
        out.append(GoldenFile(name, protocol, container, data, decoded, sample))

    for i, f in enumerate(samples):
        s = f"frame{i}"
        add(
            f"zmq_face_{i}.bin",
            "zmq-face",
            enc.encode_zmq_face(f),
            _zmq_decoded(enc.zmq_topic("face", f.subject), enc.zmq_face_payload(f)),
            s,
        )
        add(
            f"zmq_ema_{i}.bin",
            "zmq-ema",
            enc.encode_zmq_ema(f),
            _zmq_decoded(enc.zmq_topic("ema", f.subject), enc.zmq_ema_payload(f)),
            s,
        )
        add(f"osc_names_{i}.bin", "osc-names", enc.encode_osc_names(f.subject), _osc_names_decoded(f.subject), s)
        add(f"osc_frame_{i}.bin", "osc-frame", enc.encode_osc_frame(f), _osc_frame_decoded(f), s)
        add(
            f"osc_bundle_{i}.bin",
            "osc-bundle",
            enc.encode_osc_packet(f, names=True, bundle=True)[0],
            {"timetag": enc.OSC_IMMEDIATELY, "elements": [_osc_names_decoded(f.subject), _osc_frame_decoded(f)]},
            s,
        )
        for names in enc.VMC_NAME_MODES:
            for bundle in (True, False):
                dgrams = enc.encode_vmc_frame(f, names, bundle=bundle)
                kind = "bundled" if bundle else "unbundled"
                add(
                    f"vmc_{names}_{kind}_{i}.dgrams",
                    "vmc",
                    pack_datagrams(dgrams),
                    _vmc_decoded(dgrams, f, names, bundle),
                    s,
                    "datagrams",
                )
        add(f"livelinkface_{i}.bin", "livelinkface", enc.encode_livelinkface(f), _llf_decoded(f), s)
    for i, f in enumerate(viseme_frames()):
        s = f"viseme{i:02d}"
        add(
            f"visemes/zmq_face_{i:02d}_{f.pose.viseme}.bin",
            "zmq-face",
            enc.encode_zmq_face(f),
            _zmq_decoded(enc.zmq_topic("face", f.subject), enc.zmq_face_payload(f)),
            s,
        )
        add(
            f"visemes/osc_frame_{i:02d}_{f.pose.viseme}.bin",
            "osc-frame",
            enc.encode_osc_frame(f),
            _osc_frame_decoded(f),
            s,
        )
    for i, f in enumerate(rig_frames()):
        add(
            f"zmq_face_rig_{i}.bin",
            "zmq-face",
            enc.encode_zmq_face(f),
            _zmq_decoded(enc.zmq_topic("face", f.subject), enc.zmq_face_payload(f)),
            f"rig{i}",
        )
    add(
        "zmq_status.bin",
        "zmq-status",
        enc.encode_zmq_status(SAMPLE_STATUS),
        _zmq_decoded(enc.zmq_topic("status", SAMPLE_STATUS.subject), enc.zmq_status_payload(SAMPLE_STATUS)),
        None,
    )
    add(
        "osc_status.bin",
        "osc-status",
        enc.encode_osc_status(SAMPLE_STATUS),
        _osc_decoded(
            enc.OSC_STATUS_ADDRESS,
            [v if not isinstance(v, bool) else int(v) for _, v in enc.status_fields(SAMPLE_STATUS)],
        ),
        None,
    )
    for name, req in CONTROL_SAMPLES:
        add(
            f"control_zmq_request_{name}.bin",
            "control-zmq-request",
            enc.encode_control_zmq_request(req),
            _jsonable(enc.control_request_fields(req)),
            None,
        )
        add(f"control_osc_{name}.bin", "control-osc", enc.encode_control_osc(req), _control_osc_decoded(req), None)
    for name, rep in REPLY_SAMPLES:
        add(
            f"control_zmq_reply_{name}.bin",
            "control-zmq-reply",
            enc.encode_control_zmq_reply(rep),
            _jsonable(enc.control_reply_fields(rep)),
            None,
        )
    return out


def _control_osc_decoded(req: ControlRequest) -> dict[str, Any]:
    fields = enc.control_request_fields(req)
    cmd = str(fields.pop("cmd"))
    fields.pop("v")
    args: list[object] = [int(v) if isinstance(v, bool) else v for v in fields.values()]
    return _osc_decoded(enc.CONTROL_PREFIX + cmd, args)


def manifest(files: Sequence[GoldenFile]) -> dict[str, Any]:
    """The manifest: what each file holds, plus the sample frames' source values."""
    return {
        "schema_version": enc.SCHEMA_VERSION,
        "note": "Floats are the float32 values on the wire (exact after casting to float32), except the "
        "ZeroMQ tc/tp times which are float64. 'datagrams' files are repeated [uint32 BE length][datagram].",
        "osc_channel_names": list(enc.OSC_CHANNEL_NAMES),
        "livelinkface_curve_names": list(enc.LLF_CURVE_NAMES),
        "samples": {f"frame{i}": _frame_source(f) for i, f in enumerate(sample_frames())}
        | {f"viseme{i:02d}": _frame_source(f) for i, f in enumerate(viseme_frames())}
        | {f"rig{i}": _frame_source(f) for i, f in enumerate(rig_frames())},
        "files": [
            {
                "file": g.name,
                "protocol": g.protocol,
                "container": g.container,
                "bytes": len(g.data),
                "sample": g.sample,
                "decoded": g.decoded,
            }
            for g in files
        ],
    }


def _manifest_bytes(files: Sequence[GoldenFile]) -> bytes:
    return (json.dumps(manifest(files), indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode()


def write(directory: Path) -> int:
    """Write every golden file and the manifest; returns the number of files."""
    files = build()
    for g in files:
        path = directory / g.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(g.data)
    (directory / "manifest.json").write_bytes(_manifest_bytes(files))
    return len(files) + 1


def check(directory: Path) -> list[str]:
    """Names of golden files that are missing or differ from the current encoders."""
    files = build()
    wanted: list[tuple[str, bytes]] = [(g.name, g.data) for g in files]
    wanted.append(("manifest.json", _manifest_bytes(files)))
    bad = []
    for name, data in wanted:
        path = directory / name
        if not path.is_file() or path.read_bytes() != data:
            bad.append(name)
    return bad


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = log.info) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge.transports.golden", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate the golden files")
    mode.add_argument("--check", action="store_true", help="exit 1 if any golden file differs")
    parser.add_argument("--dir", type=Path, default=GOLDEN_DIR, help="golden folder (default: schemas/golden)")
    args = parser.parse_args(argv)
    if args.write:
        out(f"wrote {write(args.dir)} files to {args.dir}")
        return 0
    bad = check(args.dir)
    for name in bad:
        out(f"differs: {name}")
    out(f"{'FAIL' if bad else 'OK'}: {len(bad)} of {len(build()) + 1} golden files differ")
    return 1 if bad else 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
