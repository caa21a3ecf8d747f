"""Which frame channel drives which Maya plug: the user-editable mapping and the drive plan.

Host-free (no maya import): the plan is built against a ``scene`` object that answers a few
questions (see ``SceneQuery``); the Maya layer implements it with ``maya.cmds`` and tests with a
dictionary.

Every joint and articulator drive is ``value = rest + scale * channel``, where ``rest`` is the
plug's own value read when the plan is built (at connect or import time). The bridge sends EMA
relative to the speaker's neutral, so adding the rig's rest translation is all the offset a
rig needs: no hand-typed offsets as in wav2avatar.
"""

from __future__ import annotations

import copy
import json
import logging
import math

from .avatar_wire import ARKIT_NAMES, EMA_PREFIX, JOINT_NAMES, Frame

log = logging.getLogger(__name__)

ARTICULATORS = ("li", "ul", "ll", "tt", "tb", "td")

# Scene linear units per millimetre (cmds.currentUnit(q=True, linear=True)).
_UNITS_PER_MM = {
    "mm": 1.0,
    "cm": 0.1,
    "m": 0.001,
    "km": 1e-6,
    "in": 1 / 25.4,
    "ft": 1 / 304.8,
    "yd": 1 / 914.4,
}
# Scene angular units per radian (cmds.currentUnit(q=True, angle=True)).
_UNITS_PER_RAD = {
    "deg": 180.0 / math.pi,
    "rad": 1.0,
    "min": 60 * 180.0 / math.pi,
    "sec": 3600 * 180.0 / math.pi,
}

_JAW = ["jaw", "Jaw", "jaw_jnt", "FACIAL_C_Jaw"]
_HEAD = ["head", "Head", "head_jnt", "Head_M"]
_EYE_L = ["eye_L", "eyeLeft", "LeftEye", "l_eye_jnt", "FACIAL_L_Eye"]
_EYE_R = ["eye_R", "eyeRight", "RightEye", "r_eye_jnt", "FACIAL_R_Eye"]

# Signs assume joints oriented like the world (Y up, the face looking down +Z): +rotateY turns
# to the subject's left, +rotateX tips the face down, +rotateZ tilts to the subject's right.
DEFAULT_CONFIG = {
    "version": 1,
    "blendshape_nodes": [],
    "aliases": {},
    "blendshape_scale": 1.0,
    "joints": [
        {"channel": "jaw_open_rad", "nodes": _JAW, "attr": "rotateX", "scale": 1.0},
        {"channel": "head_yaw_rad", "nodes": _HEAD, "attr": "rotateY", "scale": 1.0},
        {"channel": "head_pitch_rad", "nodes": _HEAD, "attr": "rotateX", "scale": -1.0},
        {"channel": "head_roll_rad", "nodes": _HEAD, "attr": "rotateZ", "scale": -1.0},
        {"channel": "eye_left_yaw_rad", "nodes": _EYE_L, "attr": "rotateY", "scale": 1.0},
        {"channel": "eye_left_pitch_rad", "nodes": _EYE_L, "attr": "rotateX", "scale": -1.0},
        {"channel": "eye_right_yaw_rad", "nodes": _EYE_R, "attr": "rotateY", "scale": 1.0},
        {"channel": "eye_right_pitch_rad", "nodes": _EYE_R, "attr": "rotateX", "scale": -1.0},
    ],
    # wav2avatar rigs: IK handles "<part>Handle"; EMA x (forward) -> translateZ, y (up) -> translateY.
    "articulators": [
        {"name": p, "nodes": [p + "Handle", p], "x_attr": "translateZ", "y_attr": "translateY", "scale": 1.0}
        for p in ARTICULATORS
    ],
}  # fmt: skip


class MappingError(ValueError):
    """A mapping file or value that cannot be used; the message names the field."""


class SceneQuery:
    """What building a plan asks of the scene (the Maya layer implements it with maya.cmds)."""

    def exists(self, node: str) -> bool:
        raise NotImplementedError

    def blendshape_nodes(self) -> list[str]:
        raise NotImplementedError

    def weight_aliases(self, node: str) -> list[str]:
        raise NotImplementedError

    def settable(self, plug: str) -> bool:
        raise NotImplementedError

    def get(self, plug: str) -> float:
        raise NotImplementedError

    def linear_unit(self) -> str:
        raise NotImplementedError

    def angle_unit(self) -> str:
        raise NotImplementedError


class Drive:
    """``plug = offset + scale * frame[channel]``."""

    __slots__ = ("plug", "channel", "scale", "offset")

    def __init__(self, plug: str, channel: str, scale: float, offset: float) -> None:
        self.plug = plug
        self.channel = channel
        self.scale = scale
        self.offset = offset

    def __repr__(self) -> str:
        return f"Drive({self.plug!r} = {self.offset:g} + {self.scale:g} * {self.channel})"


class Plan:
    """The drives for one rig plus what could not be mapped (shown by status)."""

    __slots__ = ("drives", "missing")

    def __init__(self, drives: list[Drive], missing: list[str]) -> None:
        self.drives = tuple(drives)
        self.missing = tuple(missing)

    def evaluate(self, frame: Frame) -> list[tuple[str, float]]:
        """(plug, value) for every drive."""
        get = frame.get
        return [(d.plug, d.offset + d.scale * get(d.channel)) for d in self.drives]

    def values(self, frame: Frame) -> list[float]:
        """Drive values in ``drives`` order."""
        get = frame.get
        return [d.offset + d.scale * get(d.channel) for d in self.drives]

    def rest(self) -> list[tuple[str, float]]:
        """Each driven plug's rest value (what disconnect restores); blendshapes rest at 0."""
        return [(d.plug, d.offset) for d in self.drives]


def load_config(path: str | None = None) -> dict[str, object]:
    """The default mapping, with the top-level keys of the JSON file at ``path`` replacing it.

    Raises:
        MappingError: unreadable JSON, an unknown key or a value of the wrong shape.
        OSError: the file cannot be read.
    """
    config = copy.deepcopy(DEFAULT_CONFIG)
    if path:
        with open(path, encoding="utf-8") as f:
            try:
                user = json.load(f)
            except ValueError as e:
                raise MappingError(f"{path}: not JSON: {e}") from e
        if not isinstance(user, dict):
            raise MappingError(f"{path}: the mapping must be a JSON object")
        unknown = sorted(set(user) - set(DEFAULT_CONFIG))
        if unknown:
            raise MappingError(f"{path}: unknown keys {unknown}; known: {sorted(DEFAULT_CONFIG)}")
        config.update(user)
    validate_config(config)
    return config


def save_config(config: dict[str, object], path: str) -> None:
    """Write ``config`` as indented JSON, a starting point users edit."""
    validate_config(config)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MappingError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _nodes(entry: dict[str, object], where: str) -> list[str]:
    nodes = entry.get("nodes")
    if isinstance(nodes, str):
        nodes = [nodes]
    if not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) and n for n in nodes):
        raise MappingError(f"{where}.nodes must be a node name or a non-empty list of names")
    return list(nodes)


def validate_config(config: dict[str, object]) -> None:
    """Raise MappingError naming the first field that is wrong."""
    nodes = config.get("blendshape_nodes")
    if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
        raise MappingError("blendshape_nodes must be a list of blendShape node names ([] = all)")
    aliases = config.get("aliases")
    if not isinstance(aliases, dict):
        raise MappingError("aliases must be an object {ARKit name: alias or null}")
    for name, alias in aliases.items():
        if name not in ARKIT_NAMES:
            raise MappingError(f"aliases: {name!r} is not an ARKit blendshape name")
        if alias is not None and not (isinstance(alias, str) and alias):
            raise MappingError(f"aliases.{name} must be an alias name or null (skip)")
    _number(config.get("blendshape_scale"), "blendshape_scale")
    joints = config.get("joints")
    if not isinstance(joints, list):
        raise MappingError("joints must be a list")
    for i, j in enumerate(joints):
        where = f"joints[{i}]"
        if not isinstance(j, dict):
            raise MappingError(f"{where} must be an object")
        channel = j.get("channel")
        if not isinstance(channel, str) or not channel:
            raise MappingError(f"{where}.channel must be a channel name such as {JOINT_NAMES[0]!r}")
        if not isinstance(j.get("attr"), str) or not j.get("attr"):
            raise MappingError(f"{where}.attr must be an attribute name such as 'rotateX'")
        _nodes(j, where)
        _number(j.get("scale", 1.0), where + ".scale")
    arts = config.get("articulators")
    if not isinstance(arts, list):
        raise MappingError("articulators must be a list")
    for i, a in enumerate(arts):
        where = f"articulators[{i}]"
        if not isinstance(a, dict) or a.get("name") not in ARTICULATORS:
            raise MappingError(f"{where}.name must be one of {list(ARTICULATORS)}")
        _nodes(a, where)
        for key in ("x_attr", "y_attr"):
            if a.get(key) is not None and not (isinstance(a.get(key), str) and a.get(key)):
                raise MappingError(f"{where}.{key} must be an attribute name or null")
        _number(a.get("scale", 1.0), where + ".scale")


def _first_existing(scene: SceneQuery, nodes: list[str]) -> str | None:
    for node in nodes:
        if scene.exists(node):
            return node
    return None


def _blendshape_drives(config: dict[str, object], scene: SceneQuery, missing: list[str]) -> list[Drive]:
    requested = list(config["blendshape_nodes"])
    nodes = requested or scene.blendshape_nodes()
    overrides = config["aliases"]
    scale = float(config["blendshape_scale"])
    drives: list[Drive] = []
    for node in nodes:
        if not scene.exists(node):
            missing.append(f"blendShape node {node}")
            continue
        by_lower = {a.lower(): a for a in scene.weight_aliases(node)}
        for name in ARKIT_NAMES:
            if name in overrides:
                wanted = overrides[name]
                if wanted is None:
                    continue
                alias = by_lower.get(wanted.lower())
            else:
                alias = by_lower.get(name.lower())
            if alias is not None and scene.settable(node + "." + alias):
                drives.append(Drive(node + "." + alias, name, scale, 0.0))
    if nodes and not drives:
        missing.append("ARKit-named targets on " + ", ".join(nodes))
    elif not nodes:
        missing.append("blendShape nodes")
    return drives


def _offset_drive(
    scene: SceneQuery, plug: str, channel: str, scale: float, missing: list[str]
) -> Drive | None:
    if not scene.settable(plug):
        missing.append(plug + " (locked or driven)")
        return None
    return Drive(plug, channel, scale, scene.get(plug))


def build_plan(config: dict[str, object], scene: SceneQuery) -> Plan:
    """Resolve the mapping against the scene and read every driven plug's rest value.

    Nodes that are absent, and attributes that are locked or driven by something other than
    keys, are skipped and listed in ``Plan.missing``.
    """
    validate_config(config)
    missing: list[str] = []
    drives = _blendshape_drives(config, scene, missing)
    per_rad = _UNITS_PER_RAD.get(scene.angle_unit())
    per_mm = _UNITS_PER_MM.get(scene.linear_unit())
    if per_rad is None or per_mm is None:
        raise MappingError(f"unknown scene units {scene.linear_unit()!r}/{scene.angle_unit()!r}")
    for j in config["joints"]:
        node = _first_existing(scene, _nodes(j, "joints"))
        if node is None:
            missing.append(f"{j['channel']} joint (tried {', '.join(_nodes(j, 'joints'))})")
            continue
        channel = j["channel"]
        attr = j["attr"]
        # Angles arrive in radians; a rotate attribute takes the scene's angular unit.
        unit = per_rad if channel.endswith("_rad") and attr.startswith("rotate") else 1.0
        drive = _offset_drive(scene, node + "." + attr, channel, unit * float(j.get("scale", 1.0)), missing)
        if drive is not None:
            drives.append(drive)
    for a in config["articulators"]:
        node = _first_existing(scene, _nodes(a, "articulators"))
        if node is None:
            missing.append(f"{a['name']} articulator (tried {', '.join(_nodes(a, 'articulators'))})")
            continue
        for axis in ("x", "y"):
            attr = a.get(axis + "_attr")
            if attr:
                channel = EMA_PREFIX + a["name"] + "_" + axis
                scale = per_mm * float(a.get("scale", 1.0))
                drive = _offset_drive(scene, node + "." + attr, channel, scale, missing)
                if drive is not None:
                    drives.append(drive)
    for item in missing:
        log.info("avatar bridge: not driven: %s", item)
    return Plan(drives, missing)
