"""Every wire layout the bridge speaks: ZeroMQ/msgpack, OSC, VMC, Live Link Face, control messages, recordings.

The only module that knows byte layouts; publishers and the control channel call these functions.
The layouts are specified in schemas/ (README.md, vmc.md, livelinkface.md, control.md) and pinned by
the golden files in schemas/golden/ (``python -m bridge.transports.golden --check``).
"""

from __future__ import annotations

import functools
import json
import math
import struct
import threading
from collections.abc import Sequence
from typing import Any

import msgpack
import numpy as np

from bridge.config import OUTPUT_FPS
from bridge.errors import ProtocolError
from bridge.frames import (
    ARKIT_NAMES,
    EMA_NAMES,
    JOINT_NAMES,
    MOODS,
    VISEMES,
    VRM_PRESETS,
    AnimationFrame,
    FacePose,
    RigChannels,
    subject_problem,
)
from bridge.transports.messages import (
    MAX_CONTROL_BYTES,
    MAX_TRANSITION_S,
    BridgeStatus,
    Calibrate,
    ControlReply,
    ControlRequest,
    QueryStatus,
    SetMood,
    SetMuted,
    SetSubject,
)

SCHEMA_VERSION = 1

# ---------------------------------------------------------------------------------------------- ZeroMQ

ZMQ_STREAMS = ("face", "ema", "status")
TOPIC_END = b"\0"


def zmq_topic(stream: str, subject: str) -> bytes:
    """The topic prefix of a stream, including the terminating NUL (subscribe to exactly this)."""
    return f"{stream}/{subject}".encode() + TOPIC_END


def _f32_list(values: np.ndarray[Any, Any]) -> list[float]:
    # Python floats holding float32 values pack exactly as msgpack float32.
    out: list[float] = np.asarray(values, dtype=np.float32).tolist()
    return out


def _f32(value: float) -> float:
    return float(np.float32(value))


def _pack_f32(obj: object) -> bytes:
    return bytes(msgpack.packb(obj, use_bin_type=True, use_single_float=True))


class _Packers(threading.local):
    """Per-thread msgpack packers (a Packer is not thread-safe; creating one per value is slow)."""

    def __init__(self) -> None:
        self.f32 = msgpack.Packer(use_bin_type=True, use_single_float=True)
        self.f64 = msgpack.Packer(use_bin_type=True, use_single_float=False)


_PACKERS = _Packers()


def _array_header_bytes(n: int) -> int:
    return 1 if n < 16 else 3 if n < 65536 else 5


def _pack_map(items: Sequence[tuple[str, object, bool]]) -> bytes:
    """A msgpack map in the given key order; the bool marks values packed as float64.

    Runs of keys and values with the same float width are packed as one msgpack array whose header
    is then cut off (an array's body is its elements back to back): few calls, same bytes.
    """
    p = _PACKERS
    parts = [p.f32.pack_map_header(len(items))]
    run: list[object] = []
    run_f64 = False
    for key, value, f64 in items:
        if f64 != run_f64 and run:
            parts.append((p.f64 if run_f64 else p.f32).pack(run)[_array_header_bytes(len(run)) :])
            run = []
        run_f64 = f64
        run += (key, value)
    parts.append((p.f64 if run_f64 else p.f32).pack(run)[_array_header_bytes(len(run)) :])
    return b"".join(parts)


def zmq_face_payload(frame: AnimationFrame) -> list[tuple[str, object, bool]]:
    """The ``face/<subject>`` map as (key, value, is_float64) in wire order."""
    pose = frame.pose
    return [
        ("v", SCHEMA_VERSION, False),
        ("seq", frame.seq, False),
        ("t", float(frame.t_s), False),
        ("tc", float(frame.t_capture_s), True),
        ("tp", float(frame.t_publish_s), True),
        ("fps", frame.fps, False),
        ("subject", frame.subject, False),
        ("bs", _f32_list(pose.blendshapes), False),
        ("joints", _f32_list(pose.joints), False),
        ("ema", _f32_list(pose.ema), False),
        ("viseme", pose.viseme, False),
        ("voice", float(pose.voice), False),
        ("mood", pose.mood, False),
        ("mood_intensity", float(pose.mood_intensity), False),
    ] + _rig_item(frame)


def _rig_item(frame: AnimationFrame) -> list[tuple[str, object, bool]]:
    # A map, not names + values arrays: a profile's channel set is the user's, so the names travel
    # with their values and a receiver reads msg["rig"]["jaw_open"] without knowing the profile.
    if frame.rig is None:
        return []
    return [("rig", dict(zip(frame.rig.names, _f32_list(frame.rig.values), strict=True)), False)]


def zmq_ema_payload(frame: AnimationFrame) -> list[tuple[str, object, bool]]:
    """The ``ema/<subject>`` map as (key, value, is_float64) in wire order."""
    return [
        ("v", SCHEMA_VERSION, False),
        ("seq", frame.seq, False),
        ("t", float(frame.t_s), False),
        ("ema", _f32_list(frame.pose.ema), False),
    ]


def status_fields(status: BridgeStatus) -> list[tuple[str, object]]:
    """A status snapshot as (key, value) in wire order (ZeroMQ status topic and control replies)."""
    return [
        ("subject", status.subject),
        ("fps", status.fps),
        ("frames", status.frames),
        ("dropped_audio_s", float(status.dropped_audio_s)),
        ("latency_ms", float(status.latency_ms)),
        ("vad", float(status.vad)),
        ("model", status.model),
        ("mood", status.mood),
        ("mood_intensity", float(status.mood_intensity)),
        ("muted", bool(status.muted)),
    ]


def zmq_status_payload(status: BridgeStatus) -> list[tuple[str, object, bool]]:
    """The ``status/<subject>`` map as (key, value, is_float64) in wire order."""
    return [("v", SCHEMA_VERSION, False)] + [(k, v, False) for k, v in status_fields(status)]


def encode_zmq_face(frame: AnimationFrame) -> bytes:
    """One single-frame ZeroMQ message: ``face/<subject>\\0`` + msgpack payload."""
    return zmq_topic("face", frame.subject) + _pack_map(zmq_face_payload(frame))


def encode_zmq_ema(frame: AnimationFrame) -> bytes:
    """One single-frame ZeroMQ message: ``ema/<subject>\\0`` + msgpack payload."""
    return zmq_topic("ema", frame.subject) + _pack_map(zmq_ema_payload(frame))


def encode_zmq_status(status: BridgeStatus) -> bytes:
    """One single-frame ZeroMQ message: ``status/<subject>\\0`` + msgpack payload."""
    return zmq_topic("status", status.subject) + _pack_map(zmq_status_payload(status))


def split_zmq_message(data: bytes) -> tuple[str, bytes]:
    """Split a ZeroMQ message into its topic (without the NUL) and msgpack payload.

    Raises:
        ProtocolError: no NUL separator or a topic that is not UTF-8.
    """
    topic, sep, payload = data.partition(TOPIC_END)
    if not sep:
        raise ProtocolError("ZeroMQ message has no NUL after the topic")
    try:
        return topic.decode(), payload
    except UnicodeDecodeError as e:
        raise ProtocolError("ZeroMQ topic is not UTF-8") from e


# ------------------------------------------------------------------------------------------------- OSC

OSC_NAMES_ADDRESS = "/avatar/v1/names"
OSC_FRAME_ADDRESS = "/avatar/v1/frame"
OSC_STATUS_ADDRESS = "/avatar/v1/status"
OSC_CHANNEL_NAMES: tuple[str, ...] = ARKIT_NAMES + JOINT_NAMES + tuple(f"ema_{n}" for n in EMA_NAMES)
# Timetag 1 means "immediately" (OSC 1.0).
OSC_IMMEDIATELY = 1
_BUNDLE_HEAD = b"#bundle\0"


def _osc_string(text: str) -> bytes:
    raw = text.encode()
    return raw + b"\0" * (4 - len(raw) % 4)


def osc_message(address: str, args: Sequence[str | int | float | bool]) -> bytes:
    """An OSC 1.0 message; str -> s, bool -> T/F, int -> i (int32), float -> f (float32)."""
    tags = [","]
    body = []
    for arg in args:
        if isinstance(arg, bool):
            tags.append("T" if arg else "F")
        elif isinstance(arg, str):
            tags.append("s")
            body.append(_osc_string(arg))
        elif isinstance(arg, int):
            tags.append("i")
            body.append(struct.pack(">i", arg))
        else:
            tags.append("f")
            body.append(struct.pack(">f", arg))
    return _osc_string(address) + _osc_string("".join(tags)) + b"".join(body)


def osc_bundle(elements: Sequence[bytes], timetag: int = OSC_IMMEDIATELY) -> bytes:
    """An OSC bundle of already encoded messages (or bundles)."""
    parts = [_BUNDLE_HEAD, struct.pack(">Q", timetag)]
    for element in elements:
        parts.append(struct.pack(">i", len(element)))
        parts.append(element)
    return b"".join(parts)


def osc_bundle_size(element_sizes: Sequence[int]) -> int:
    """Bytes of a bundle holding elements of these sizes."""
    return 16 + sum(4 + n for n in element_sizes)


@functools.lru_cache(maxsize=16)
def encode_osc_names(subject: str) -> bytes:
    """``/avatar/v1/names ,s+s*76``: subject, then the names of the frame's 76 values."""
    return osc_message(OSC_NAMES_ADDRESS, (subject, *OSC_CHANNEL_NAMES))


_OSC_FRAME_HEAD = _osc_string(OSC_FRAME_ADDRESS) + _osc_string(",sifsf" + "f" * len(OSC_CHANNEL_NAMES))
_OSC_SEQ_T = struct.Struct(">if")
_OSC_VOICE = struct.Struct(">f")


_OSC_VALUES = struct.Struct(f">{len(OSC_CHANNEL_NAMES)}f")


def osc_frame_values(pose: FacePose) -> list[float]:
    """The 76 values of ``/avatar/v1/frame`` in OSC_CHANNEL_NAMES order (float32-exact floats)."""
    return _f32_list(pose.blendshapes) + _f32_list(pose.joints) + _f32_list(pose.ema)


def encode_osc_frame(frame: AnimationFrame) -> bytes:
    """``/avatar/v1/frame ,sifsf+f*76``: subject, seq (int32, wraps), t, viseme, voice, 76 values."""
    pose = frame.pose
    return b"".join(
        (
            _OSC_FRAME_HEAD,
            _osc_string(frame.subject),
            _OSC_SEQ_T.pack(_wrap_i32(frame.seq), frame.t_s),
            _osc_string(pose.viseme),
            _OSC_VOICE.pack(pose.voice),
            _OSC_VALUES.pack(*osc_frame_values(pose)),
        )
    )


def encode_osc_packet(frame: AnimationFrame, *, names: bool, bundle: bool) -> list[bytes]:
    """The datagrams of one frame on our OSC address space, names first when they are due."""
    messages = ([encode_osc_names(frame.subject)] if names else []) + [encode_osc_frame(frame)]
    return [osc_bundle(messages)] if bundle else messages


def _wrap_i32(n: int) -> int:
    return n % (1 << 31)


# ------------------------------------------------------------------------------------------------- VMC

VMC_NAME_MODES = ("vrm0", "perfectsync", "both")
VMC_MAX_DATAGRAM_BYTES = 1400
VMC_PERFORMER_PORT = 39539
VMC_ASSISTANT_PORT = 39540
PERFECT_SYNC_NAMES: tuple[str, ...] = tuple(n[0].upper() + n[1:] for n in ARKIT_NAMES)

# Approximate local rest offsets of a VRM humanoid (metres, Unity axes: +x right, +y up, +z forward).
# Receivers driving normalized VRM bones use only the rotation; the offsets keep position-syncing
# receivers from collapsing the bones onto their parents.
VMC_BONE_OFFSETS_M: dict[str, tuple[float, float, float]] = {
    "Neck": (0.0, 0.1, 0.0),
    "Head": (0.0, 0.08, 0.0),
    "Jaw": (0.0, -0.02, 0.03),
    "LeftEye": (-0.031, 0.06, 0.07),
    "RightEye": (0.031, 0.06, 0.07),
}
VMC_BONES = tuple(VMC_BONE_OFFSETS_M)
# The head rotation is split between Neck and Head so the chain adds up to the full rotation.
VMC_NECK_SHARE = 0.4

_J = {n: i for i, n in enumerate(JOINT_NAMES)}


def unity_quaternion(pitch_down_rad: float, yaw_right_rad: float, roll_rad: float) -> tuple[float, ...]:
    """Unity ``Quaternion.Euler`` (x, y, z, w) from radians about Unity's X, Y, Z axes (Z, X, Y order)."""
    hx, hy, hz = pitch_down_rad / 2, yaw_right_rad / 2, roll_rad / 2
    cx, sx = math.cos(hx), math.sin(hx)
    cy, sy = math.cos(hy), math.sin(hy)
    cz, sz = math.cos(hz), math.sin(hz)
    # q = qY * qX * qZ (Unity applies Z, then X, then Y).
    return (
        cy * sx * cz + sy * cx * sz,
        sy * cx * cz - cy * sx * sz,
        cy * cx * sz - sy * sx * cz,
        cy * cx * cz + sy * sx * sz,
    )


def vmc_bone_rotations(joints: np.ndarray[Any, Any]) -> dict[str, tuple[float, ...]]:
    """Unity local rotations of Neck, Head, Jaw, LeftEye, RightEye from the bridge's joint channels.

    Bridge yaw turns to the subject's left and pitch looks up; in Unity's left-handed frame that is a
    negative rotation about +Y and about +X. Roll to the subject's left is positive about +Z, and an
    opening jaw is positive about +X (chin down).
    """
    j = [float(x) for x in joints]
    yaw, pitch, roll = j[_J["head_yaw_rad"]], j[_J["head_pitch_rad"]], j[_J["head_roll_rad"]]
    neck, head = VMC_NECK_SHARE, 1.0 - VMC_NECK_SHARE
    return {
        "Neck": unity_quaternion(-pitch * neck, -yaw * neck, roll * neck),
        "Head": unity_quaternion(-pitch * head, -yaw * head, roll * head),
        "Jaw": unity_quaternion(j[_J["jaw_open_rad"]], 0.0, 0.0),
        "LeftEye": unity_quaternion(-j[_J["eye_left_pitch_rad"]], -j[_J["eye_left_yaw_rad"]], 0.0),
        "RightEye": unity_quaternion(-j[_J["eye_right_pitch_rad"]], -j[_J["eye_right_yaw_rad"]], 0.0),
    }


def vmc_blend_values(pose: FacePose, names: str) -> list[tuple[str, float]]:
    """Blend/Val (name, value) pairs: VRM0 presets, Perfect Sync ARKit names, or both (VRM0 first)."""
    if names not in VMC_NAME_MODES:
        raise ValueError(f"unknown VMC name mode {names!r}")
    out: list[tuple[str, float]] = []
    if names in ("vrm0", "both"):
        out += zip(VRM_PRESETS, np.asarray(pose.vrm, dtype=np.float32).tolist(), strict=True)
    if names in ("perfectsync", "both"):
        out += zip(PERFECT_SYNC_NAMES, np.asarray(pose.blendshapes, dtype=np.float32).tolist(), strict=True)
    return out


_VMC_BONE_HEAD = {b: _osc_string("/VMC/Ext/Bone/Pos") + _osc_string(",sfffffff") + _osc_string(b) for b in VMC_BONES}
_VMC_VAL_HEAD = _osc_string("/VMC/Ext/Blend/Val") + _osc_string(",sf")
_VMC_VAL_NAME = {n: _osc_string(n) for n in VRM_PRESETS + PERFECT_SYNC_NAMES}
_VMC_OK = _osc_string("/VMC/Ext/OK") + _osc_string(",i") + struct.pack(">i", 1)
_VMC_T_HEAD = _osc_string("/VMC/Ext/T") + _osc_string(",f")
_VMC_APPLY = _osc_string("/VMC/Ext/Blend/Apply") + _osc_string(",")
_F7 = struct.Struct(">7f")
_F1 = struct.Struct(">f")


def vmc_messages(frame: AnimationFrame, names: str) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """One frame's VMC messages: (bones + OK + T, Blend/Vals, [Blend/Apply]).

    Built from precomputed OSC prefixes; byte-identical to ``osc_message`` with the same arguments.
    """
    rotations = vmc_bone_rotations(frame.pose.joints)
    head = [_VMC_BONE_HEAD[b] + _F7.pack(*VMC_BONE_OFFSETS_M[b], *rotations[b]) for b in VMC_BONES]
    head.append(_VMC_OK)
    head.append(_VMC_T_HEAD + _F1.pack(frame.t_s))
    vals = [_VMC_VAL_HEAD + _VMC_VAL_NAME[n] + _F1.pack(v) for n, v in vmc_blend_values(frame.pose, names)]
    return head, vals, [_VMC_APPLY]


def encode_vmc_frame(
    frame: AnimationFrame, names: str, *, bundle: bool, max_datagram_bytes: int = VMC_MAX_DATAGRAM_BYTES
) -> list[bytes]:
    """The datagrams of one VMC frame, in send order.

    Bundled: one bundle of Bone/Pos + OK + T, then Blend/Vals packed greedily into bundles of at most
    ``max_datagram_bytes`` with Blend/Apply in the last one. Unbundled: every message on its own,
    Bones, OK, T, Vals, Apply.
    """
    head, vals, apply = vmc_messages(frame, names)
    if not bundle:
        return head + vals + apply
    datagrams = [osc_bundle(head)]
    group: list[bytes] = []
    size = osc_bundle_size([])
    for msg in vals + apply:
        if group and size + 4 + len(msg) > max_datagram_bytes:
            datagrams.append(osc_bundle(group))
            group, size = [], osc_bundle_size([])
        group.append(msg)
        size += 4 + len(msg)
    datagrams.append(osc_bundle(group))
    return datagrams


# -------------------------------------------------------------------------------------- Live Link Face

LLF_VERSION = 6
LLF_PORT = 11111
LLF_CURVE_NAMES: tuple[str, ...] = PERFECT_SYNC_NAMES + (
    "HeadYaw", "HeadPitch", "HeadRoll",
    "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)  # fmt: skip
# Head and eye angles are sent as -1..1 with 1 = 90 degrees (PyLiveLinkFace's documented range).
LLF_ANGLE_FULL_SCALE_RAD = math.pi / 2
LLF_DEFAULT_DEVICE_ID = "avatar-bridge"
LLF_MAX_NAME_BYTES = 64
_LLF_TIME = struct.Struct(">ifii")
_LLF_FLOATS = struct.Struct(">61f")


def llf_values(frame: AnimationFrame) -> list[float]:
    """The 61 Live Link Face values in EARFaceBlendShape order (float32-rounded)."""
    j = np.asarray(frame.pose.joints, dtype=np.float64)
    # Eye angles take the app's signs, the opposite of the bridge's (in its recordings, looking up
    # and looking to the subject's left give negative pitch and yaw); head angles keep the bridge's.
    angles = np.array(
        [
            j[_J["head_yaw_rad"]], j[_J["head_pitch_rad"]], j[_J["head_roll_rad"]],
            -j[_J["eye_left_yaw_rad"]], -j[_J["eye_left_pitch_rad"]], 0.0,
            -j[_J["eye_right_yaw_rad"]], -j[_J["eye_right_pitch_rad"]], 0.0,
        ]
    )  # fmt: skip
    scaled = np.clip(angles / LLF_ANGLE_FULL_SCALE_RAD, -1.0, 1.0)
    return list(np.concatenate((np.asarray(frame.pose.blendshapes, np.float64), scaled)).astype(np.float32).tolist())


def llf_frame_time(t_s: float, fps: int) -> tuple[int, float, int, int]:
    """FQualifiedFrameTime (FrameNumber, SubFrame in [0, 1), Rate numerator, Rate denominator)."""
    # Rounded to 1 us so that 2057.76 s at 100 fps is frame 205776, not 205776 + 3e-11.
    position = round(t_s * fps, 6)
    number = math.floor(position)
    sub = min(_f32(position - number), 0.99999994)
    return _wrap_i32(number), sub, fps, 1


def _llf_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">i", len(raw)) + raw


def encode_livelinkface(frame: AnimationFrame, device_id: str = LLF_DEFAULT_DEVICE_ID) -> bytes:
    """A Live Link Face packet, version 6, big-endian (270 + len(device_id) + len(subject) bytes).

    Raises:
        ValueError: empty or longer than 64-byte device id or subject (Unreal drops such packets).
    """
    for label, text in (("device id", device_id), ("subject", frame.subject)):
        if not 0 < len(text.encode()) <= LLF_MAX_NAME_BYTES:
            raise ValueError(f"Live Link Face {label} must be 1-{LLF_MAX_NAME_BYTES} bytes: {text!r}")
    return b"".join(
        (
            bytes((LLF_VERSION,)),
            _llf_string(device_id),
            _llf_string(frame.subject),
            _LLF_TIME.pack(*llf_frame_time(frame.t_s, frame.fps)),
            bytes((len(LLF_CURVE_NAMES),)),
            _LLF_FLOATS.pack(*llf_values(frame)),
        )
    )


# ------------------------------------------------------------------------------------- control channel

CONTROL_PREFIX = "/avatar/v1/control/"
CONTROL_COMMANDS = ("mood", "mute", "calibrate", "subject", "status")


def _check_finite(name: str, value: object, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"{name}: expected a number, got {type(value).__name__}")
    v = float(value)
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ProtocolError(f"{name}: must be between {lo:g} and {hi:g}, got {v!r}")
    return v


def _check_mood(value: object) -> str:
    if not isinstance(value, str) or value not in MOODS:
        raise ProtocolError(f"mood: must be one of {', '.join(MOODS)}, got {value!r}")
    return value


def check_subject(value: object) -> str:
    """A valid subject: 1-64 bytes of UTF-8, no control characters (it becomes part of topics)."""
    if not isinstance(value, str):
        raise ProtocolError(f"subject: expected a string, got {type(value).__name__}")
    if problem := subject_problem(value):
        raise ProtocolError(f"subject: {problem}")
    return value


def _check_size(data: bytes) -> None:
    if not data:
        raise ProtocolError("empty packet")
    if len(data) > MAX_CONTROL_BYTES:
        raise ProtocolError(f"packet of {len(data)} bytes exceeds {MAX_CONTROL_BYTES}")


# ZeroMQ REP: msgpack maps {"v": 1, "cmd": ..., fields}.
_ZMQ_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # cmd: (required keys, optional keys) besides v and cmd
    "mood": (frozenset({"mood", "intensity"}), frozenset({"transition_s"})),
    "mute": (frozenset({"muted"}), frozenset()),
    "calibrate": (frozenset(), frozenset()),
    "subject": (frozenset({"subject"}), frozenset()),
    "status": (frozenset(), frozenset()),
}


def control_request_fields(request: ControlRequest) -> dict[str, object]:
    """A request as the ZeroMQ control map (key order = wire order)."""
    match request:
        case SetMood(mood=mood, intensity=intensity, transition_s=transition_s):
            out: dict[str, object] = {"v": SCHEMA_VERSION, "cmd": "mood", "mood": mood, "intensity": intensity}
            if transition_s is not None:
                out["transition_s"] = transition_s
            return out
        case SetMuted(muted=muted):
            return {"v": SCHEMA_VERSION, "cmd": "mute", "muted": muted}
        case Calibrate():
            return {"v": SCHEMA_VERSION, "cmd": "calibrate"}
        case SetSubject(subject=subject):
            return {"v": SCHEMA_VERSION, "cmd": "subject", "subject": subject}
        case QueryStatus():
            return {"v": SCHEMA_VERSION, "cmd": "status"}
    raise TypeError(f"not a control request: {request!r}")


def encode_control_zmq_request(request: ControlRequest) -> bytes:
    """A ZeroMQ control request (msgpack map)."""
    return _pack_f32(control_request_fields(request))


def decode_control_zmq_request(data: bytes) -> ControlRequest:
    """Parse and validate a ZeroMQ control request.

    Raises:
        ProtocolError: oversized, truncated or not msgpack, wrong version, unknown command, missing,
            extra or mistyped fields, out-of-range values.
    """
    _check_size(data)
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=True, max_array_len=16, max_map_len=16, max_ext_len=0)
    except (ValueError, TypeError) as e:
        raise ProtocolError(f"not a msgpack message: {str(e) or type(e).__name__}") from e
    if not isinstance(obj, dict):
        raise ProtocolError(f"expected a map, got {type(obj).__name__}")
    if obj.get("v") != SCHEMA_VERSION or isinstance(obj.get("v"), bool):
        raise ProtocolError(f"v: expected schema version {SCHEMA_VERSION}, got {obj.get('v')!r}")
    cmd = obj.get("cmd")
    if not isinstance(cmd, str) or cmd not in _ZMQ_FIELDS:
        raise ProtocolError(f"cmd: must be one of {', '.join(_ZMQ_FIELDS)}, got {cmd!r}")
    required, optional = _ZMQ_FIELDS[cmd]
    keys = set(obj) - {"v", "cmd"}
    if missing := required - keys:
        raise ProtocolError(f"{cmd}: missing {', '.join(sorted(missing))}")
    if extra := keys - required - optional:
        # repr: a key is network data, and raw text could forge log lines
        raise ProtocolError(f"{cmd}: unknown keys {', '.join(sorted(map(repr, extra)))}")
    return _build_request(cmd, obj)


def _build_request(cmd: str, args: dict[str, Any]) -> ControlRequest:
    if cmd == "mood":
        # Absent means the configured default; a nil is a wrong type, as the request schema says.
        has_transition = "transition_s" in args
        return SetMood(
            _check_mood(args["mood"]),
            _check_finite("intensity", args["intensity"], 0.0, 1.0),
            _check_finite("transition_s", args["transition_s"], 0.0, MAX_TRANSITION_S) if has_transition else None,
        )
    if cmd == "mute":
        if not isinstance(args["muted"], bool):
            raise ProtocolError(f"muted: expected true or false, got {args['muted']!r}")
        return SetMuted(args["muted"])
    if cmd == "calibrate":
        return Calibrate()
    if cmd == "subject":
        return SetSubject(check_subject(args["subject"]))
    return QueryStatus()


def control_reply_fields(reply: ControlReply) -> dict[str, object]:
    """A reply as the ZeroMQ control map (key order = wire order)."""
    out: dict[str, object] = {"v": SCHEMA_VERSION, "ok": reply.ok}
    if reply.error is not None:
        out["error"] = reply.error
    if reply.status is not None:
        out["status"] = dict(status_fields(reply.status))
    return out


def encode_control_zmq_reply(reply: ControlReply) -> bytes:
    """A ZeroMQ control reply (msgpack map)."""
    return _pack_f32(control_reply_fields(reply))


def decode_control_zmq_reply(data: bytes) -> ControlReply:
    """Parse a ZeroMQ control reply (client side).

    Raises:
        ProtocolError: not a reply map of schema version 1.
    """
    try:
        obj = msgpack.unpackb(data, raw=False)
    except (ValueError, TypeError) as e:
        raise ProtocolError(f"not a msgpack message: {str(e) or type(e).__name__}") from e
    if not isinstance(obj, dict) or obj.get("v") != SCHEMA_VERSION or not isinstance(obj.get("ok"), bool):
        raise ProtocolError(f"not a control reply: {obj!r}")
    status = obj.get("status")
    try:
        return ControlReply(
            ok=obj["ok"], error=obj.get("error"), status=None if status is None else BridgeStatus(**status)
        )
    except TypeError as e:
        raise ProtocolError(f"malformed status in reply: {e}") from e


def encode_control_osc(request: ControlRequest) -> bytes:
    """An OSC control message (what a client sends to ``--control-osc``)."""
    match request:
        case SetMood(mood=mood, intensity=intensity, transition_s=transition_s):
            args: tuple[str | float, ...] = (mood, float(intensity))
            if transition_s is not None:
                args += (float(transition_s),)
            return osc_message(CONTROL_PREFIX + "mood", args)
        case SetMuted(muted=muted):
            return osc_message(CONTROL_PREFIX + "mute", (int(muted),))
        case Calibrate():
            return osc_message(CONTROL_PREFIX + "calibrate", ())
        case SetSubject(subject=subject):
            return osc_message(CONTROL_PREFIX + "subject", (subject,))
        case QueryStatus():
            return osc_message(CONTROL_PREFIX + "status", ())
    raise TypeError(f"not a control request: {request!r}")


def encode_osc_status(status: BridgeStatus) -> bytes:
    """``/avatar/v1/status ,siifffssfi`` sent back to the sender of ``/avatar/v1/control/status``."""
    return osc_message(
        OSC_STATUS_ADDRESS,
        (
            status.subject,
            status.fps,
            status.frames,
            float(status.dropped_audio_s),
            float(status.latency_ms),
            float(status.vad),
            status.model,
            status.mood,
            float(status.mood_intensity),
            int(status.muted),
        ),
    )


def _read_osc_string(data: bytes, offset: int) -> tuple[str, int]:
    end = data.find(b"\0", offset)
    if end < 0:
        raise ProtocolError("truncated OSC string")
    nxt = end + 4 - (end - offset) % 4
    if nxt > len(data) or any(data[end:nxt]):
        raise ProtocolError("bad OSC string padding")
    try:
        return data[offset:end].decode(), nxt
    except UnicodeDecodeError as e:
        raise ProtocolError("OSC string is not UTF-8") from e


def decode_osc_message(data: bytes) -> tuple[str, list[str | int | float | bool]]:
    """Strictly parse one OSC message with i, f, s, T, F arguments (no bundles).

    Raises:
        ProtocolError: a bundle, truncated or misaligned data, bad padding, unsupported type tag,
            non-finite float, trailing bytes.
    """
    if data.startswith(b"#bundle"):
        raise ProtocolError("OSC bundles are not accepted here")
    if len(data) % 4:
        raise ProtocolError(f"OSC packet length {len(data)} is not a multiple of 4")
    address, pos = _read_osc_string(data, 0)
    if not address.startswith("/"):
        raise ProtocolError("OSC address must start with '/'")
    tags, pos = _read_osc_string(data, pos)
    if not tags.startswith(","):
        raise ProtocolError("OSC type tag string must start with ','")
    args: list[str | int | float | bool] = []
    for tag in tags[1:]:
        if tag in "if":
            if pos + 4 > len(data):
                raise ProtocolError("truncated OSC argument")
            (value,) = struct.unpack_from(">i" if tag == "i" else ">f", data, pos)
            if tag == "f" and not math.isfinite(value):
                raise ProtocolError("non-finite float")
            args.append(value)
            pos += 4
        elif tag == "s":
            text, pos = _read_osc_string(data, pos)
            args.append(text)
        elif tag in "TF":
            args.append(tag == "T")
        else:
            raise ProtocolError(f"unsupported OSC type tag {tag!r}")
    if pos != len(data):
        raise ProtocolError("trailing bytes after OSC arguments")
    return address, args


def decode_control_osc(data: bytes) -> ControlRequest:
    """Parse and validate an OSC control message.

    Raises:
        ProtocolError: oversized or malformed packet, unknown address, wrong argument count or types,
            out-of-range values.
    """
    _check_size(data)
    address, args = decode_osc_message(data)
    if not address.startswith(CONTROL_PREFIX) or address[len(CONTROL_PREFIX) :] not in CONTROL_COMMANDS:
        raise ProtocolError(f"unknown control address {address!r}")
    cmd = address[len(CONTROL_PREFIX) :]
    if cmd == "mood":
        if len(args) not in (2, 3):
            raise ProtocolError(f"{address}: expected mood, intensity[, transition_s], got {len(args)} args")
        return _build_request(
            cmd, {"mood": args[0], "intensity": args[1]} | ({"transition_s": args[2]} if len(args) == 3 else {})
        )
    if cmd == "mute":
        if len(args) != 1 or args[0] not in (0, 1):
            raise ProtocolError(f"{address}: expected one argument 0/1 (i) or T/F, got {args!r}")
        return SetMuted(bool(args[0]))
    if cmd == "subject":
        if len(args) != 1:
            raise ProtocolError(f"{address}: expected one string, got {len(args)} args")
        return SetSubject(check_subject(args[0]))
    if args:
        raise ProtocolError(f"{address}: takes no arguments, got {len(args)}")
    return Calibrate() if cmd == "calibrate" else QueryStatus()


# ------------------------------------------------------------------------------------------- recording

RECORD_FORMAT = "avatar-bridge-record"
RECORD_VERSION = 1


def encode_record_header() -> bytes:
    """First line of a recording (JSON Lines)."""
    return json.dumps({"format": RECORD_FORMAT, "v": RECORD_VERSION}).encode() + b"\n"


def encode_record(frame: AnimationFrame, t_rel_s: float) -> bytes:
    """One recording line: the frame and its publish time relative to the first recorded frame."""
    pose = frame.pose
    obj = {
        "t_rel_s": round(t_rel_s, 6),
        "seq": frame.seq,
        "t_s": frame.t_s,
        "t_capture_s": frame.t_capture_s,
        "t_publish_s": frame.t_publish_s,
        "fps": frame.fps,
        "subject": frame.subject,
        "blendshapes": _f32_list(pose.blendshapes),
        "joints": _f32_list(pose.joints),
        "ema": _f32_list(pose.ema),
        "visemes": _f32_list(pose.visemes),
        "vrm": _f32_list(pose.vrm),
        "viseme": pose.viseme,
        "voice": float(pose.voice),
        "mood": pose.mood,
        "mood_intensity": float(pose.mood_intensity),
    }
    if frame.rig is not None:
        # As published: replay of a run with --profile sends the same rig channels.
        rig = frame.rig
        obj["rig"] = {"profile": rig.profile, "channels": dict(zip(rig.names, _f32_list(rig.values), strict=True))}
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode() + b"\n"


_RECORD_LENGTHS = {
    "blendshapes": len(ARKIT_NAMES),
    "joints": len(JOINT_NAMES),
    "ema": len(EMA_NAMES),
    "visemes": len(VISEMES),
    "vrm": len(VRM_PRESETS),
}


def decode_record_header(line: bytes) -> None:
    """Check a recording's first line.

    Raises:
        ProtocolError: not an avatar-bridge recording of a supported version.
    """
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise ProtocolError(f"not an avatar-bridge recording: {e}") from e
    except RecursionError as e:
        raise ProtocolError("not an avatar-bridge recording: nested too deeply") from e
    if not isinstance(obj, dict) or obj.get("format") != RECORD_FORMAT:
        raise ProtocolError("not an avatar-bridge recording (missing header line)")
    if obj.get("v") != RECORD_VERSION:
        raise ProtocolError(f"unsupported recording version {obj.get('v')!r}")


# Bounds a replayed frame must keep so that every encoder can represent it: Live Link Face packs
# floor(t_s * fps) and the rate as int32, OSC/VMC pack times as float32.
_RECORD_MAX_TIME_S = 1e7
_RECORD_MAX_SEQ = 2**63 - 1
# Arrays whose values are weights 0..1 on every wire; joints and EMA are finite with loose bounds.
_RECORD_UNIT_ARRAYS = ("blendshapes", "visemes", "vrm")
_RECORD_MAX_ABS = 1e3


def _reject_constant(name: str) -> float:
    raise ProtocolError(f"{name} is not a valid JSON number")


def _record_fps(obj: dict[str, Any]) -> int:
    """A frame rate the wire schemas allow (a recording at another one would be replayed into frames that
    every validating receiver drops)."""
    value = obj["fps"]
    if isinstance(value, bool) or not isinstance(value, int) or value not in OUTPUT_FPS:
        raise ProtocolError(f"fps: expected one of {', '.join(map(str, OUTPUT_FPS))}, got {value!r}")
    return int(value)


def _record_int(obj: dict[str, Any], key: str, lo: int, hi: int) -> int:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ProtocolError(f"{key}: expected an integer {lo}-{hi}, got {value!r}")
    return value


def _record_str(obj: dict[str, Any], key: str, choices: Sequence[str]) -> str:
    value = obj[key]
    if not isinstance(value, str) or value not in choices:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise ProtocolError(f"{key}: must be one of {', '.join(choices)}, got {shown}")
    return value


def _record_array(obj: dict[str, Any], key: str, n: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    values = obj[key]
    if not isinstance(values, list) or len(values) != n:
        raise ProtocolError(f"{key}: expected {n} values")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise ProtocolError(f"{key}: expected numbers")
    lo, hi = (0.0, 1.0) if key in _RECORD_UNIT_ARRAYS else (-_RECORD_MAX_ABS, _RECORD_MAX_ABS)
    array = np.asarray(values, dtype=np.float64)
    bad = np.flatnonzero(~((array >= lo) & (array <= hi)))  # NaN fails both comparisons
    if bad.size:
        raise ProtocolError(f"{key}[{bad[0]}]: must be between {lo:g} and {hi:g}, got {values[bad[0]]!r}")
    return array.astype(np.float32)


_RECORD_MAX_RIG_CHANNELS = 1024
_RECORD_MAX_NAME_CHARS = 256


def _record_name(what: str, value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= _RECORD_MAX_NAME_CHARS or not value.isprintable():
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise ProtocolError(f"{what}: expected 1-{_RECORD_MAX_NAME_CHARS} printable characters, got {shown}")
    return value


def _record_rig(obj: dict[str, Any]) -> RigChannels | None:
    """The optional ``rig`` of a recording line (present when the run had a rig profile)."""
    if "rig" not in obj:
        return None
    rig = obj["rig"]
    if not isinstance(rig, dict) or not isinstance(rig.get("channels"), dict):
        raise ProtocolError("rig: expected {\"profile\": name, \"channels\": {name: value}}")
    channels = rig["channels"]
    if not 0 < len(channels) <= _RECORD_MAX_RIG_CHANNELS:
        raise ProtocolError(f"rig.channels: expected 1-{_RECORD_MAX_RIG_CHANNELS} channels, got {len(channels)}")
    names = tuple(_record_name("rig channel name", name) for name in channels)
    values = [_check_finite(f"rig.channels[{name!r}]", v, -_RECORD_MAX_ABS, _RECORD_MAX_ABS)
              for name, v in channels.items()]  # fmt: skip
    return RigChannels(_record_name("rig.profile", rig.get("profile")), names, np.asarray(values, np.float32))


def decode_record(line: bytes) -> tuple[float, AnimationFrame]:
    """Parse and validate one recording line into (t_rel_s, frame).

    Raises:
        ProtocolError: invalid JSON, missing fields, wrong array lengths or types, values no
            publisher can send (NaN or infinite numbers, weights outside 0..1, a negative or huge
            time, a frame rate outside 1-1000, an unknown mood or viseme).
    """
    try:
        obj = json.loads(line, parse_constant=_reject_constant)
        if not isinstance(obj, dict):
            raise ProtocolError(f"expected an object, got {type(obj).__name__}")
        arrays = {k: _record_array(obj, k, n) for k, n in _RECORD_LENGTHS.items()}
        pose = FacePose(
            blendshapes=arrays["blendshapes"],
            joints=arrays["joints"],
            ema=arrays["ema"],
            visemes=arrays["visemes"],
            vrm=arrays["vrm"],
            viseme=_record_str(obj, "viseme", VISEMES),
            voice=_check_finite("voice", obj["voice"], 0.0, 1.0),
            mood=_record_str(obj, "mood", MOODS),
            mood_intensity=_check_finite("mood_intensity", obj["mood_intensity"], 0.0, 1.0),
        )
        frame = AnimationFrame(
            seq=_record_int(obj, "seq", 0, _RECORD_MAX_SEQ),
            t_s=_check_finite("t_s", obj["t_s"], 0.0, _RECORD_MAX_TIME_S),
            t_capture_s=_check_finite("t_capture_s", obj["t_capture_s"], -math.inf, math.inf),
            t_publish_s=_check_finite("t_publish_s", obj["t_publish_s"], -math.inf, math.inf),
            fps=_record_fps(obj),
            subject=check_subject(obj["subject"]),
            pose=pose,
            rig=_record_rig(obj),
        )
        return _check_finite("t_rel_s", obj["t_rel_s"], 0.0, _RECORD_MAX_TIME_S), frame
    except KeyError as e:
        raise ProtocolError(f"bad recording line: missing {e}") from e
    except (ValueError, TypeError, OverflowError) as e:  # OverflowError: an integer of hundreds of digits
        raise ProtocolError(f"bad recording line: {e}") from e
    except RecursionError as e:
        raise ProtocolError("bad recording line: nested too deeply") from e
