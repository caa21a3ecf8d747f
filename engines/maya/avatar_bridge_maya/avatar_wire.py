"""Decode avatar-bridge wire formats with the standard library only (Python 3.7+).

Covers OSC packets (messages and bundles) carrying ``/avatar/v1/names`` and ``/avatar/v1/frame``,
ZeroMQ ``face/<subject>`` messages (with a small msgpack decoder), Live Link Face v6 packets, and
the JSON Lines files written by ``avatar-bridge bake``; the contract is ``schemas/README.md``.
Engine adapters (Blender, Maya) vendor a copy of this one file, so it imports nothing outside
the standard library and runs in mayapy 2022 (Python 3.7) onwards: annotations are never
evaluated at runtime (``from __future__ import annotations``).

Every malformed input raises ``WireError`` (a ``ValueError``) and nothing else, so a receive loop
needs exactly one ``except WireError`` to survive garbage.
"""

from __future__ import annotations

import json
import math
import struct
from typing import TypeVar

SCHEMA_VERSION = 1

# Same names and orders as bridge/frames.py (copied: receivers cannot import the bridge).
ARKIT_NAMES = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight", "jawForward",
    "jawLeft", "jawRight", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft",
    "mouthRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft",
    "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
)  # fmt: skip
JOINT_NAMES = (
    "jaw_open_rad", "head_yaw_rad", "head_pitch_rad", "head_roll_rad",
    "eye_left_yaw_rad", "eye_left_pitch_rad", "eye_right_yaw_rad", "eye_right_pitch_rad",
    "tongue_tip_up", "tongue_body_up", "tongue_front", "breath",
)  # fmt: skip
EMA_NAMES = (
    "li_x", "li_y", "ul_x", "ul_y", "ll_x", "ll_y", "tt_x", "tt_y", "tb_x", "tb_y", "td_x", "td_y",
)  # fmt: skip
VISEMES = (
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou",
)  # fmt: skip
EMA_PREFIX = "ema_"
# The 76 values of /avatar/v1/frame in the default order, used until a names message arrives.
DEFAULT_CHANNELS = ARKIT_NAMES + JOINT_NAMES + tuple(EMA_PREFIX + n for n in EMA_NAMES)

ADDRESS_NAMES = "/avatar/v1/names"
ADDRESS_FRAME = "/avatar/v1/frame"

# Live Link Face v6: UE EARFaceBlendShape order (the 52 ARKit names in PascalCase, then head/eyes).
LLF_VERSION = 6
LLF_NAMES = tuple(n[0].upper() + n[1:] for n in ARKIT_NAMES) + (
    "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)  # fmt: skip

_BUNDLE_TAG = b"#bundle\x00"
_MAX_BUNDLE_DEPTH = 8
_MAX_NAME_BYTES = 1024
# No channel the bridge sends (weights 0..1, joints in radians, EMA in mm) comes near this; as in
# schemas/recording.md. Larger finite values are malformed on every wire and in bake files.
MAX_CHANNEL_ABS = 1000.0
# A stream's time: 0 up to about 116 days (schemas/recording.md); beyond it a rig's frame numbers overflow.
MAX_TIME_S = 1e7
# What one sender can make a receiver remember: the C++ core's bounds are tighter (16 subjects).
MAX_SUBJECTS = 64
MAX_CHANNELS = 1024


# Live Link Face sends head and eye angles as -1..1 with 1 = 90 degrees, eye angles with the app's
# signs (opposite to the joints'); the bridge's jaw hinge is jawOpen times 0.45 rad
# (bridge.face.solver.JAW_RAD_AT_FULL_OPEN), so bones follow on this wire too.
LLF_ANGLE_FULL_SCALE_RAD = math.pi / 2
JAW_RAD_AT_FULL_OPEN = 0.45
LLF_JOINTS = (  # joint, LLF value, sign
    ("head_yaw_rad", "HeadYaw", 1.0), ("head_pitch_rad", "HeadPitch", 1.0), ("head_roll_rad", "HeadRoll", 1.0),
    ("eye_left_yaw_rad", "LeftEyeYaw", -1.0), ("eye_left_pitch_rad", "LeftEyePitch", -1.0),
    ("eye_right_yaw_rad", "RightEyeYaw", -1.0), ("eye_right_pitch_rad", "RightEyePitch", -1.0),
)  # fmt: skip


class WireError(ValueError):
    """Malformed or unsupported bytes, message or file line; the message says what and where."""


class OscMessage:
    """One decoded OSC message: address, type tags (without the leading comma) and arguments."""

    __slots__ = ("address", "tags", "args")

    def __init__(self, address: str, tags: str, args: tuple[object, ...]) -> None:
        self.address = address
        self.tags = tags
        self.args = args

    def __repr__(self) -> str:
        return f"OscMessage({self.address!r}, {self.tags!r}, {self.args!r})"


class Frame:
    """One animation frame: channel names and values in parallel, plus the per-frame metadata.

    Attributes:
        subject: subject name the sender announced.
        seq: frame counter (for bake files, the line's ``seq`` or its index).
        t_s: stream time of the frame, seconds from the start of the audio.
        viseme: dominant Oculus viseme.
        voice: voice activity 0..1.
        names: channel names (ARKit names, joint names, ``ema_``-prefixed EMA names, ...).
        values: floats, same length and order as ``names``.
    """

    __slots__ = ("subject", "seq", "t_s", "viseme", "voice", "names", "values", "_index")

    def __init__(
        self,
        subject: str,
        seq: int,
        t_s: float,
        viseme: str,
        voice: float,
        names: tuple[str, ...],
        values: tuple[float, ...],
    ) -> None:
        if len(names) != len(values):
            raise WireError(f"frame has {len(names)} names but {len(values)} values")
        self.subject = subject
        self.seq = seq
        self.t_s = t_s
        self.viseme = viseme
        self.voice = voice
        self.names = names
        self.values = values
        self._index = {n: i for i, n in enumerate(names)}

    def get(self, name: str, default: float = 0.0) -> float:
        """Value of channel ``name``, or ``default`` when the frame does not carry it."""
        i = self._index.get(name)
        return default if i is None else self.values[i]

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.names, self.values))  # noqa: B905 (zip strict= needs Python 3.10)

    def blendshapes(self) -> dict[str, float]:
        """The ARKit blendshapes this frame carries, by lowerCamelCase name."""
        return {n: self.values[i] for n, i in self._index.items() if n in _ARKIT_SET}

    def joints(self) -> list[float]:
        """The 12 joint channels in JOINT_NAMES order (0.0 for any the frame lacks)."""
        return [self.get(n) for n in JOINT_NAMES]

    def ema_mm(self) -> list[float]:
        """The 12 EMA channels (mm from the speaker's neutral) in EMA_NAMES order."""
        return [self.get(EMA_PREFIX + n) for n in EMA_NAMES]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[object, ...]:
        return (self.subject, self.seq, self.t_s, self.viseme, self.voice, self.names, self.values)

    def __repr__(self) -> str:
        return (
            f"Frame(subject={self.subject!r}, seq={self.seq}, t_s={self.t_s:.4f}, "
            f"viseme={self.viseme!r}, voice={self.voice:.3f}, {len(self.names)} channels)"
        )


_ARKIT_SET = frozenset(ARKIT_NAMES)


# ---------------------------------------------------------------------------------------------
# OSC 1.0 parsing


def _read_string(data: bytes, pos: int, what: str) -> tuple[str, int]:
    end = data.find(b"\x00", pos)
    if end < 0:
        raise WireError(f"{what} at byte {pos} has no NUL terminator")
    nxt = (end + 4) & ~3  # the NUL plus padding to a multiple of 4
    if nxt > len(data):
        raise WireError(f"{what} at byte {pos}: padding runs past the end of the packet")
    if data[end:nxt].strip(b"\x00"):
        raise WireError(f"{what} at byte {pos}: non-zero padding")
    try:
        return data[pos:end].decode("utf-8"), nxt
    except UnicodeDecodeError as e:
        raise WireError(f"{what} at byte {pos} is not UTF-8") from e


def _need(data: bytes, pos: int, size: int, what: str) -> None:
    if pos + size > len(data):
        raise WireError(f"{what} at byte {pos} needs {size} bytes, packet has {len(data)}")


def parse_osc_message(data: bytes) -> OscMessage:
    """Decode one OSC message.

    Args:
        data: the whole message, a multiple of 4 bytes.

    Returns:
        The message; ``i``/``h`` become int, ``f``/``d`` float, ``s``/``S`` str, ``b`` bytes,
        ``T``/``F`` bool, ``N`` None, ``I`` float('inf'), ``t`` int (raw NTP timetag).

    Raises:
        WireError: truncated, misaligned, unknown type tag or trailing bytes.
    """
    data = bytes(data)
    if len(data) % 4:
        raise WireError(f"OSC message length {len(data)} is not a multiple of 4")
    if not data.startswith(b"/"):
        raise WireError("OSC address must start with '/'")
    address, pos = _read_string(data, 0, "OSC address")
    if pos == len(data):
        return OscMessage(address, "", ())  # OSC 1.0 allows a message without a type tag string
    if data[pos : pos + 1] != b",":
        raise WireError(f"OSC type tags at byte {pos} must start with ','")
    tags, pos = _read_string(data, pos, "OSC type tags")
    tags = tags[1:]
    args: list[object] = []
    for tag in tags:
        if tag == "i":
            _need(data, pos, 4, "int32")
            args.append(struct.unpack_from(">i", data, pos)[0])
            pos += 4
        elif tag == "f":
            _need(data, pos, 4, "float32")
            args.append(struct.unpack_from(">f", data, pos)[0])
            pos += 4
        elif tag in "sS":
            text, pos = _read_string(data, pos, "OSC string")
            args.append(text)
        elif tag == "d":
            _need(data, pos, 8, "float64")
            args.append(struct.unpack_from(">d", data, pos)[0])
            pos += 8
        elif tag == "h":
            _need(data, pos, 8, "int64")
            args.append(struct.unpack_from(">q", data, pos)[0])
            pos += 8
        elif tag == "t":
            _need(data, pos, 8, "timetag")
            args.append(struct.unpack_from(">Q", data, pos)[0])
            pos += 8
        elif tag == "b":
            _need(data, pos, 4, "blob size")
            size = struct.unpack_from(">i", data, pos)[0]
            if size < 0:
                raise WireError(f"negative blob size at byte {pos}")
            pos += 4
            padded = (size + 3) & ~3
            _need(data, pos, padded, "blob")
            args.append(data[pos : pos + size])
            pos += padded
        elif tag == "T":
            args.append(True)
        elif tag == "F":
            args.append(False)
        elif tag == "N":
            args.append(None)
        elif tag == "I":
            args.append(float("inf"))
        else:
            raise WireError(f"unsupported OSC type tag {tag!r} in {address}")
    if pos != len(data):
        raise WireError(f"{len(data) - pos} trailing bytes after the arguments of {address}")
    return OscMessage(address, tags, tuple(args))


def parse_osc_packet(data: bytes) -> list[OscMessage]:
    """Decode an OSC packet (a message or a bundle, bundles nested up to 8 deep) into its messages.

    Bundle timetags are ignored: the bridge sends "immediately" and receivers apply on arrival.

    Raises:
        WireError: anything malformed anywhere in the packet.
    """
    data = bytes(data)
    out: list[OscMessage] = []
    _parse_element(data, out, 0)
    return out


def _parse_element(data: bytes, out: list[OscMessage], depth: int) -> None:
    if not data.startswith(_BUNDLE_TAG):
        out.append(parse_osc_message(data))
        return
    if depth >= _MAX_BUNDLE_DEPTH:
        raise WireError(f"OSC bundles nested deeper than {_MAX_BUNDLE_DEPTH}")
    _need(data, 0, 16, "OSC bundle header")
    pos = 16  # "#bundle\0" + 8-byte timetag
    while pos < len(data):
        _need(data, pos, 4, "bundle element size")
        size = struct.unpack_from(">i", data, pos)[0]
        if size <= 0 or size % 4:
            raise WireError(f"bundle element size {size} at byte {pos} is not a positive multiple of 4")
        pos += 4
        _need(data, pos, size, "bundle element")
        _parse_element(data[pos : pos + size], out, depth + 1)
        pos += size


# ---------------------------------------------------------------------------------------------
# /avatar/v1/* messages


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WireError(f"{what} must be a number, got {value!r}")
    try:
        out = float(value)
    except OverflowError as e:  # a JSON integer of hundreds of digits
        raise WireError(f"{what} is too large: {str(value)[:20]}...") from e
    if not math.isfinite(out):
        raise WireError(f"{what} is not finite: {value!r}")
    return out


def _channel(value: object, what: str) -> float:
    """A channel value: finite and within MAX_CHANNEL_ABS (1e300 rad gave a rig NaN quaternions)."""
    out = _number(value, what)
    if abs(out) > MAX_CHANNEL_ABS:
        raise WireError(f"{what} = {value!r} is out of range (at most {MAX_CHANNEL_ABS:g} in size)")
    return out


def _time(value: object, what: str) -> float:
    """A stream time in seconds, 0..MAX_TIME_S (1e307 s overflowed a rig's frame numbers)."""
    out = _number(value, what)
    if not 0.0 <= out <= MAX_TIME_S:
        raise WireError(f"{what} = {value!r} is out of range (0 to {MAX_TIME_S:g} s)")
    return out


_V = TypeVar("_V")


def remember(table: dict[str, _V], subject: str, value: _V) -> None:
    """Store ``value`` as the most recent entry of ``table``, forgetting the least recently stored one
    beyond MAX_SUBJECTS: what a sender that makes up subjects can make a receiver remember is bounded."""
    table.pop(subject, None)
    if len(table) >= MAX_SUBJECTS:
        del table[next(iter(table))]
    table[subject] = value


# A followed subject silent this long gives way to another one (a bridge restarted with a new --subject).
TAKEOVER_S = 1.0


class SubjectFollower:
    """Which subject a receiver follows when several senders share its port: the one asked for, else the
    first one heard, giving way to another after TAKEOVER_S of silence. Two bridges on one port otherwise
    take turns on the rig, and a take reads each turn as a restarted sender.

    Attributes:
        following: the subject whose frames are kept (None before the first frame).
        ignored: frames of other subjects by subject, most recent last (at most MAX_SUBJECTS).
    """

    def __init__(self) -> None:
        self.following: str | None = None
        self.ignored: dict[str, int] = {}
        self._heard_s = float("-inf")

    def keeps(self, subject: str, now_s: float, wanted: str = "") -> bool:
        """Whether a frame of ``subject`` that arrived at ``now_s`` (host clock) is one to use; ``wanted``
        (when not empty) is the subject asked for."""
        if wanted:
            self._follow(wanted)
        elif subject != self.following and now_s - self._heard_s > TAKEOVER_S:
            self._follow(subject)
        if subject != self.following:
            remember(self.ignored, subject, self.ignored.get(subject, 0) + 1)
            return False
        self._heard_s = now_s
        return True

    def _follow(self, subject: str) -> None:
        self.following = subject
        self.ignored.pop(subject, None)  # a subject followed after being ignored


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise WireError(f"{what} must be a string, got {value!r}")
    return value


class AvatarDecoder:
    """Turns OSC packets into Frames, remembering each subject's announced channel names.

    Until a subject's ``/avatar/v1/names`` arrives its frames are read in DEFAULT_CHANNELS order
    (the schema's default), so a receiver that joins late still decodes. Other addresses (VMC,
    future ones) are ignored. At most MAX_SUBJECTS subjects' names are kept: the least recently
    announced one is forgotten first, so a sender that makes up subjects cannot grow memory.
    Not thread-safe: use one per receive thread.
    """

    def __init__(self) -> None:
        self._names: dict[str, tuple[str, ...]] = {}  # in order of last announcement
        self.foreign = 0  # messages of other protocols (VMC sent to this port, say), ignored

    def names_for(self, subject: str) -> tuple[str, ...]:
        """The channel order frames of ``subject`` are decoded with."""
        return self._names.get(subject, DEFAULT_CHANNELS)

    def subjects(self) -> list[str]:
        """Subjects that announced their names, sorted."""
        return sorted(self._names)

    def feed(self, packet: bytes) -> list[Frame]:
        """Decode one UDP datagram; returns the frames it carried, in packet order.

        Raises:
            WireError: malformed packet or avatar message. A names message earlier in the same
                bundle is still remembered.
        """
        frames: list[Frame] = []
        for msg in parse_osc_packet(packet):
            if msg.address == ADDRESS_NAMES:
                self._take_names(msg)
            elif msg.address == ADDRESS_FRAME:
                frames.append(self._frame(msg))
            elif not msg.address.startswith("/avatar/"):
                self.foreign += 1
        return frames

    def _take_names(self, msg: OscMessage) -> None:
        if len(msg.args) < 2:
            raise WireError(f"{ADDRESS_NAMES} needs a subject and at least one name")
        subject = _text(msg.args[0], "names subject")
        names = tuple(_text(a, "channel name") for a in msg.args[1:])
        if len(set(names)) != len(names):
            raise WireError(f"{ADDRESS_NAMES} for {subject!r} repeats a channel name")
        if any(not n or len(n.encode("utf-8")) > _MAX_NAME_BYTES for n in names):
            raise WireError(f"{ADDRESS_NAMES} for {subject!r} has an empty or overlong name")
        if len(names) > MAX_CHANNELS:
            raise WireError(f"{ADDRESS_NAMES} for {subject!r} announces {len(names)} channels (at most {MAX_CHANNELS})")
        remember(self._names, subject, names)

    def _frame(self, msg: OscMessage) -> Frame:
        args = msg.args
        if len(args) < 5:
            raise WireError(f"{ADDRESS_FRAME} needs subject, seq, t, viseme, voice; got {len(args)} args")
        subject = _text(args[0], "frame subject")
        seq = args[1]
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise WireError(f"frame seq must be an int, got {seq!r}")
        names = self.names_for(subject)
        values = tuple(_channel(v, "frame value") for v in args[5:])
        if len(values) != len(names):
            raise WireError(f"frame for {subject!r} carries {len(values)} values but its names list has {len(names)}")
        return Frame(
            subject=subject,
            seq=seq,
            t_s=_time(args[2], "frame t"),
            viseme=_text(args[3], "frame viseme"),
            voice=_channel(args[4], "frame voice"),
            names=names,
            values=values,
        )


# ---------------------------------------------------------------------------------------------
# ZeroMQ: topic + NUL + msgpack (a decoder for the msgpack subset the bridge writes)

_MAX_MSGPACK_DEPTH = 32
_MSGPACK_FIXED = {
    0xCA: (">f", 4),
    0xCB: (">d", 8),
    0xCC: (">B", 1),
    0xCD: (">H", 2),
    0xCE: (">I", 4),
    0xCF: (">Q", 8),
    0xD0: (">b", 1),
    0xD1: (">h", 2),
    0xD2: (">i", 4),
    0xD3: (">q", 8),
}
_MSGPACK_LEN = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4, 0xDC: 2, 0xDD: 4, 0xDE: 2, 0xDF: 4}
_LEN_FORMAT = {1: ">B", 2: ">H", 4: ">I"}


def unpack_msgpack(data: bytes) -> object:
    """Decode one msgpack object that fills ``data`` exactly (no ext types).

    Raises:
        WireError: truncated, trailing bytes, an ext type, a non-hashable map key, nesting deeper
            than 32, or a string that is not UTF-8.
    """
    data = bytes(data)
    value, pos = _unpack(data, 0, 0)
    if pos != len(data):
        raise WireError(f"{len(data) - pos} trailing bytes after the msgpack object")
    return value


def _unpack(data: bytes, pos: int, depth: int) -> tuple[object, int]:
    if depth > _MAX_MSGPACK_DEPTH:
        raise WireError(f"msgpack nested deeper than {_MAX_MSGPACK_DEPTH}")
    _need(data, pos, 1, "msgpack type byte")
    b = data[pos]
    pos += 1
    if b <= 0x7F:
        return b, pos
    if b >= 0xE0:
        return b - 0x100, pos
    if 0xA0 <= b <= 0xBF:
        return _msgpack_str(data, pos, b & 0x1F)
    if 0x90 <= b <= 0x9F:
        return _msgpack_array(data, pos, b & 0x0F, depth)
    if 0x80 <= b <= 0x8F:
        return _msgpack_map(data, pos, b & 0x0F, depth)
    if b == 0xC0:
        return None, pos
    if b in (0xC2, 0xC3):
        return b == 0xC3, pos
    if b in _MSGPACK_FIXED:
        fmt, size = _MSGPACK_FIXED[b]
        _need(data, pos, size, "msgpack number")
        return struct.unpack_from(fmt, data, pos)[0], pos + size
    if b in _MSGPACK_LEN:
        size = _MSGPACK_LEN[b]
        _need(data, pos, size, "msgpack length")
        n = struct.unpack_from(_LEN_FORMAT[size], data, pos)[0]
        pos += size
        if b <= 0xC6:
            _need(data, pos, n, "msgpack bin")
            return data[pos : pos + n], pos + n
        if b <= 0xDB:
            return _msgpack_str(data, pos, n)
        if b <= 0xDD:
            return _msgpack_array(data, pos, n, depth)
        return _msgpack_map(data, pos, n, depth)
    raise WireError(f"unsupported msgpack type byte 0x{b:02x} at byte {pos - 1}")


def _msgpack_str(data: bytes, pos: int, n: int) -> tuple[str, int]:
    _need(data, pos, n, "msgpack str")
    try:
        return data[pos : pos + n].decode("utf-8"), pos + n
    except UnicodeDecodeError as e:
        raise WireError(f"msgpack str at byte {pos} is not UTF-8") from e


def _msgpack_array(data: bytes, pos: int, n: int, depth: int) -> tuple[list[object], int]:
    _need(data, pos, n, "msgpack array")  # every element takes at least one byte
    out: list[object] = []
    for _ in range(n):
        value, pos = _unpack(data, pos, depth + 1)
        out.append(value)
    return out, pos


def _msgpack_map(data: bytes, pos: int, n: int, depth: int) -> tuple[dict[object, object], int]:
    _need(data, pos, 2 * n, "msgpack map")
    out: dict[object, object] = {}
    for _ in range(n):
        key, pos = _unpack(data, pos, depth + 1)
        if isinstance(key, (list, dict)):
            raise WireError("msgpack map key is not hashable")
        out[key], pos = _unpack(data, pos, depth + 1)
    return out, pos


def parse_zmq_message(data: bytes) -> tuple[str, object]:
    """Split a bridge ZeroMQ message ``topic + b"\\0" + msgpack`` into (topic, payload).

    Raises:
        WireError: no NUL, a topic that is not UTF-8, or a malformed payload.
    """
    data = bytes(data)
    end = data.find(b"\x00")
    if end < 0:
        raise WireError("ZeroMQ message has no NUL after the topic")
    try:
        topic = data[:end].decode("utf-8")
    except UnicodeDecodeError as e:
        raise WireError("ZeroMQ topic is not UTF-8") from e
    return topic, unpack_msgpack(data[end + 1 :])


def _numbers(payload: dict[object, object], key: str, count: int) -> list[float]:
    values = payload.get(key)
    if not isinstance(values, list) or len(values) != count:
        raise WireError(f"'{key}' must be an array of {count} numbers")
    return [_channel(v, key) for v in values]


def frame_from_zmq_face(payload: object) -> Frame:
    """A ``face/<subject>`` payload as a Frame, channels named as DEFAULT_CHANNELS.

    Raises:
        WireError: not a schema-v1 face payload.
    """
    if not isinstance(payload, dict):
        raise WireError("a face payload must be a map")
    if payload.get("v") != SCHEMA_VERSION:
        raise WireError(f"face payload schema version {payload.get('v')!r}, expected {SCHEMA_VERSION}")
    seq = payload.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise WireError("face payload 'seq' must be an int")
    values = (
        _numbers(payload, "bs", len(ARKIT_NAMES))
        + _numbers(payload, "joints", len(JOINT_NAMES))
        + _numbers(payload, "ema", len(EMA_NAMES))
    )
    return Frame(
        subject=_text(payload.get("subject"), "face subject"),
        seq=seq,
        t_s=_time(payload.get("t"), "face t"),
        viseme=_text(payload.get("viseme"), "face viseme"),
        voice=_channel(payload.get("voice"), "face voice"),
        names=DEFAULT_CHANNELS,
        values=tuple(values),
    )


# ---------------------------------------------------------------------------------------------
# Live Link Face v6


class LiveLinkFacePacket:
    """A decoded Live Link Face v6 packet (big-endian, see protocols.md section 2).

    Attributes:
        device_id, subject: the two length-prefixed UTF-8 strings.
        frame_number, subframe, rate_num, rate_den: the FQualifiedFrameTime.
        values: the 61 floats in LLF_NAMES order.
    """

    __slots__ = ("device_id", "subject", "frame_number", "subframe", "rate_num", "rate_den", "values")

    def __init__(
        self,
        device_id: str,
        subject: str,
        frame_number: int,
        subframe: float,
        rate_num: int,
        rate_den: int,
        values: tuple[float, ...],
    ) -> None:
        self.device_id = device_id
        self.subject = subject
        self.frame_number = frame_number
        self.subframe = subframe
        self.rate_num = rate_num
        self.rate_den = rate_den
        self.values = values

    def time_s(self) -> float:
        """The frame time in seconds (frame number plus subframe at the packet's rate)."""
        return (self.frame_number + self.subframe) * self.rate_den / self.rate_num

    def to_frame(self, seq: int = 0) -> Frame:
        """As a Frame: the 52 blendshapes under their ARKit lowerCamelCase names, the 9 pose
        values under their LLF names (units as sent), and the joint channels this wire implies
        (head and eye angles in radians, the jaw hinge from jawOpen); no viseme or voice."""
        names = ARKIT_NAMES + LLF_NAMES[len(ARKIT_NAMES) :]
        pose = dict(zip(LLF_NAMES[len(ARKIT_NAMES) :], self.values[len(ARKIT_NAMES) :]))  # noqa: B905
        joints = [JAW_RAD_AT_FULL_OPEN * self.values[ARKIT_NAMES.index("jawOpen")]]
        joints += [sign * pose[llf] * LLF_ANGLE_FULL_SCALE_RAD for _, llf, sign in LLF_JOINTS]
        names += ("jaw_open_rad",) + tuple(joint for joint, _, _ in LLF_JOINTS)
        return Frame(self.subject, seq, self.time_s(), "sil", 0.0, names, self.values + tuple(joints))


def _llf_string(data: bytes, pos: int, what: str) -> tuple[str, int]:
    _need(data, pos, 4, what + " length")
    size = struct.unpack_from(">i", data, pos)[0]
    if size < 0 or size > _MAX_NAME_BYTES:
        raise WireError(f"{what} length {size} out of range")
    pos += 4
    _need(data, pos, size, what)
    try:
        return data[pos : pos + size].decode("utf-8"), pos + size
    except UnicodeDecodeError as e:
        raise WireError(f"{what} is not UTF-8") from e


def parse_livelinkface(data: bytes) -> LiveLinkFacePacket:
    """Decode one Live Link Face v6 UDP packet.

    Raises:
        WireError: wrong version, truncated, wrong blendshape count, non-finite value or trailing bytes.
    """
    data = bytes(data)
    _need(data, 0, 1, "Live Link Face version")
    if data[0] != LLF_VERSION:
        raise WireError(f"Live Link Face packet version {data[0]}, expected {LLF_VERSION}")
    device_id, pos = _llf_string(data, 1, "device id")
    subject, pos = _llf_string(data, pos, "subject name")
    _need(data, pos, 17, "frame time and count")
    frame_number, subframe, rate_num, rate_den = struct.unpack_from(">ifii", data, pos)
    count = data[pos + 16]
    pos += 17
    if rate_num <= 0 or rate_den <= 0:
        raise WireError(f"Live Link Face frame rate {rate_num}/{rate_den} is not positive")
    if count != len(LLF_NAMES):
        raise WireError(f"Live Link Face blendshape count {count}, expected {len(LLF_NAMES)}")
    _need(data, pos, 4 * count, "blendshape values")
    values = tuple(_channel(v, "Live Link Face value") for v in struct.unpack_from(f">{count}f", data, pos))
    pos += 4 * count
    if pos != len(data):
        raise WireError(f"{len(data) - pos} trailing bytes after the Live Link Face values")
    packet = LiveLinkFacePacket(
        device_id, subject, frame_number, _number(subframe, "subframe"), rate_num, rate_den, values
    )
    _time(packet.time_s(), "Live Link Face frame time")
    return packet


# ---------------------------------------------------------------------------------------------
# avatar-bridge bake (JSON Lines)


def parse_bake_line(line: str, index: int = 0) -> Frame:
    """Decode one object of a bake file (see schemas/bake.md).

    Channels: ``blendshapes`` {ARKit name: value}; optional ``joints`` (12 values in JOINT_NAMES
    order, or a {name: value} object); optional ``ema`` (12 values in EMA_NAMES order, named
    ``ema_<name>`` in the Frame). ``seq`` defaults to ``index`` and ``subject`` to "".

    Raises:
        WireError: not a JSON object, or a field of the wrong type or size.
    """
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise WireError(f"not JSON: {e}") from e
    except RecursionError as e:  # arrays nested thousands deep
        raise WireError("not a bake line: nested too deeply") from e
    if not isinstance(obj, dict):
        raise WireError("a bake line must be a JSON object")
    names: list[str] = []
    values: list[float] = []
    shapes = obj.get("blendshapes")
    if not isinstance(shapes, dict):
        raise WireError("'blendshapes' must be an object of name: value")
    for name, value in shapes.items():
        names.append(name)
        values.append(_channel(value, f"blendshape {name}"))
    for key, order, prefix in (("joints", JOINT_NAMES, ""), ("ema", EMA_NAMES, EMA_PREFIX)):
        group = obj.get(key)
        if group is None:
            continue
        if isinstance(group, dict):
            pairs = list(group.items())
        elif isinstance(group, list) and len(group) == len(order):
            pairs = list(zip(order, group))  # noqa: B905 (lengths checked; strict= needs 3.10)
        else:
            raise WireError(f"'{key}' must be {len(order)} numbers or an object of name: value")
        for name, value in pairs:
            names.append(prefix + name)
            values.append(_channel(value, f"{key} {name}"))
    if len(set(names)) != len(names):  # a joint named like a blendshape would shadow it
        raise WireError("a channel is named twice (in 'blendshapes' and 'joints')")
    seq = obj.get("seq", index)
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise WireError("'seq' must be an int")
    return Frame(
        subject=_text(obj.get("subject", ""), "subject"),
        seq=seq,
        t_s=_time(obj.get("t"), "t"),
        viseme=_text(obj.get("viseme", "sil"), "viseme"),
        voice=_channel(obj.get("voice", 0.0), "voice"),
        names=tuple(names),
        values=tuple(values),
    )


def load_bake_jsonl(path: str) -> list[Frame]:
    """Read a file written by ``avatar-bridge bake``; blank lines are skipped.

    Raises:
        WireError: a malformed line (the message names the file and line number), or not UTF-8 text.
        OSError: the file cannot be read.
    """
    frames: list[Frame] = []
    with open(path, encoding="utf-8-sig") as f:  # a byte-order mark, as some editors save, is not the data
        try:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                if not frames and '"avatar-bridge-record"' in line:
                    raise WireError(f"{path}: a recording made by `avatar-bridge run --record`, not a bake file; "
                                    "replay it to the live receiver with `avatar-bridge replay`")
                try:
                    frames.append(parse_bake_line(line, len(frames)))
                except WireError as e:
                    raise WireError(f"{path} line {lineno}: {e}") from e
        except UnicodeDecodeError as e:  # a binary, compressed or non-UTF-8 file
            raise WireError(f"{path}: not UTF-8 text, so not a bake file") from e
    return frames
