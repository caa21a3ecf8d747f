"""Mapping profiles: which shape keys and bone rotations a frame's channels drive (no bpy).

A profile is a list of rules. A shape rule sets one shape key to a weighted sum of channels; a
bone rule sets one Euler axis (XYZ, radians) of one bone the same way. Targets may list
alternatives separated by ``|`` (``"A|aa"``): the first that exists on the rig is used.
Bone targets name a role (``jaw``, ``head``, ``eye_l``, ``eye_r``, ``tongue``) that the host
resolves to the user's bone names, or a bone name directly.

Custom tables are text, one rule per line::

    # shape key = weighted channels
    MouthOpen = jawOpen*0.8 + mouthFunnel*0.2
    @jaw.x = jaw_open_rad            # bone role or name, axis x|y|z
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .._vendor.avatar_wire import ARKIT_NAMES

log = logging.getLogger(__name__)

BONE_ROLES: tuple[str, ...] = ("jaw", "head", "eye_l", "eye_r", "tongue")
AXES: tuple[str, ...] = ("x", "y", "z")


class MappingError(ValueError):
    """A custom mapping table that cannot be parsed; the message names the line."""


@dataclass(frozen=True, slots=True)
class Term:
    """One weighted source channel of a rule."""

    channel: str
    weight: float


@dataclass(frozen=True, slots=True)
class ShapeRule:
    """Shape key ``target`` (alternatives separated by ``|``) = sum of ``terms``."""

    target: str
    terms: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class BoneRule:
    """Euler angle (radians) of ``bone`` about ``axis`` (0=x, 1=y, 2=z) = sum of ``terms``."""

    bone: str
    axis: int
    terms: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class Profile:
    """A named set of rules."""

    name: str
    shapes: tuple[ShapeRule, ...]
    bones: tuple[BoneRule, ...]


def _t(*pairs: tuple[str, float]) -> tuple[Term, ...]:
    return tuple(Term(c, w) for c, w in pairs)


# Default rig convention (Rigify-like, character facing -Y): head bone points up, eye and tongue
# bones point forward, jaw bone points forward/down. Signs make positive yaw turn to the
# character's left, positive pitch look up, positive roll tilt to the left (schemas/README.md).
DEFAULT_BONE_RULES: tuple[BoneRule, ...] = (
    BoneRule("jaw", 0, _t(("jaw_open_rad", 1.0))),
    BoneRule("head", 0, _t(("head_pitch_rad", -1.0))),
    BoneRule("head", 1, _t(("head_yaw_rad", 1.0))),
    BoneRule("head", 2, _t(("head_roll_rad", -1.0))),
    BoneRule("eye_l", 0, _t(("eye_left_pitch_rad", 1.0))),
    BoneRule("eye_l", 2, _t(("eye_left_yaw_rad", 1.0))),
    BoneRule("eye_r", 0, _t(("eye_right_pitch_rad", 1.0))),
    BoneRule("eye_r", 2, _t(("eye_right_yaw_rad", 1.0))),
    # Tongue channels are -1..1; 0.35 rad is a comfortable full curl for a single tongue bone.
    BoneRule("tongue", 0, _t(("tongue_tip_up", 0.35))),
)

ARKIT_PROFILE = Profile(
    name="ARKIT",
    shapes=tuple(ShapeRule(n, _t((n, 1.0))) for n in ARKIT_NAMES),
    bones=DEFAULT_BONE_RULES,
)

# VRM expressions from ARKit channels; each target accepts the VRM 0.x preset name or the VRM 1.0
# expression name.
VRM_PROFILE = Profile(
    name="VRM",
    shapes=(
        ShapeRule("A|aa", _t(("jawOpen", 1.0))),
        ShapeRule("I|ih", _t(("mouthStretchLeft", 0.5), ("mouthStretchRight", 0.5))),
        ShapeRule("U|ou", _t(("mouthPucker", 1.0))),
        ShapeRule("E|ee", _t(("mouthStretchLeft", 0.3), ("mouthStretchRight", 0.3), ("jawOpen", 0.4))),
        ShapeRule("O|oh", _t(("mouthFunnel", 1.0))),
        ShapeRule("Blink|blink", _t(("eyeBlinkLeft", 0.5), ("eyeBlinkRight", 0.5))),
        ShapeRule("Blink_L|blinkLeft", _t(("eyeBlinkLeft", 1.0))),
        ShapeRule("Blink_R|blinkRight", _t(("eyeBlinkRight", 1.0))),
        ShapeRule("Joy|happy", _t(("mouthSmileLeft", 0.5), ("mouthSmileRight", 0.5))),
        ShapeRule("Angry|angry", _t(("browDownLeft", 0.5), ("browDownRight", 0.5))),
        ShapeRule("Sorrow|sad", _t(("mouthFrownLeft", 0.5), ("mouthFrownRight", 0.5))),
        ShapeRule("Fun|relaxed", _t(("cheekSquintLeft", 0.5), ("cheekSquintRight", 0.5))),
    ),
    bones=DEFAULT_BONE_RULES,
)

BUILTIN_PROFILES: dict[str, Profile] = {p.name: p for p in (ARKIT_PROFILE, VRM_PROFILE)}

_TERM_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:\*\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?))?\s*$")


def parse_table(text: str, name: str = "CUSTOM") -> Profile:
    """Parse a custom mapping table (module docstring); raises MappingError naming the bad line."""
    shapes: list[ShapeRule] = []
    bones: list[BoneRule] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        target, sep, expr = line.partition("=")
        target = target.strip()
        if not sep or not target:
            raise MappingError(f"line {lineno}: expected 'target = channel*weight + ...', got {raw!r}")
        terms = _parse_terms(expr, lineno)
        if target.startswith("@"):
            bone, dot, axis = target[1:].rpartition(".")
            if not dot or not bone or axis.lower() not in AXES:
                raise MappingError(f"line {lineno}: bone target must be '@bone.x|y|z', got {target!r}")
            bones.append(BoneRule(bone, AXES.index(axis.lower()), terms))
        else:
            shapes.append(ShapeRule(target, terms))
    if not shapes and not bones:
        raise MappingError("the table has no rules")
    return Profile(name=name, shapes=tuple(shapes), bones=tuple(bones))


def _parse_terms(expr: str, lineno: int) -> tuple[Term, ...]:
    terms: list[Term] = []
    # Split on '+' but keep signed exponents and negative weights intact.
    for part in re.split(r"\+(?![0-9])", expr):
        m = _TERM_RE.match(part)
        if m is None:
            raise MappingError(f"line {lineno}: cannot read term {part.strip()!r}")
        terms.append(Term(m.group(1), float(m.group(2)) if m.group(2) else 1.0))
    return tuple(terms)


@dataclass(frozen=True, slots=True)
class CompiledMapping:
    """A profile bound to one stream's channel order and one rig.

    Attributes:
        shape_targets: shape key names driven, in output order.
        shape_terms: per shape target, (channel index, weight) pairs.
        bone_targets: (bone name, axis) driven, in output order.
        bone_terms: per bone target, (channel index, weight) pairs.
        missing: rig targets the profile names that the rig lacks (shape keys, bones), and
            channels it reads that the stream does not carry; reported once, never raised.
    """

    shape_targets: tuple[str, ...]
    shape_terms: tuple[tuple[tuple[int, float], ...], ...]
    bone_targets: tuple[tuple[str, int], ...]
    bone_terms: tuple[tuple[tuple[int, float], ...], ...]
    missing: tuple[str, ...]

    def shape_values(self, values: Sequence[float], strength: float) -> list[float]:
        """Shape key values for one frame: weighted sums times ``strength``, clamped to 0..1."""
        out = []
        for terms in self.shape_terms:
            v = strength * sum(values[i] * w for i, w in terms)
            out.append(0.0 if v < 0.0 else 1.0 if v > 1.0 else v)
        return out

    def bone_eulers(self, values: Sequence[float], strength: float) -> dict[str, list[float]]:
        """XYZ Euler angles (radians) per driven bone, times ``strength``; undriven axes are 0."""
        out: dict[str, list[float]] = {}
        for (bone, axis), terms in zip(self.bone_targets, self.bone_terms, strict=True):
            out.setdefault(bone, [0.0, 0.0, 0.0])[axis] = strength * sum(values[i] * w for i, w in terms)
        return out


def compile_profile(
    profile: Profile,
    channel_names: Sequence[str],
    shape_keys: Iterable[str],
    bones: Iterable[str],
    bone_names: Mapping[str, str],
) -> CompiledMapping:
    """Bind ``profile`` to a stream's ``channel_names`` and a rig's ``shape_keys`` and ``bones``.

    ``bone_names`` maps roles to the user's bone names; a role mapped to "" is not driven (and
    not reported). Rules whose target or channels are missing are dropped and listed in ``missing``.
    """
    index = {n: i for i, n in enumerate(channel_names)}
    keys = set(shape_keys)
    bone_set = set(bones)
    missing: list[str] = []

    def bind(terms: tuple[Term, ...]) -> tuple[tuple[int, float], ...] | None:
        absent = [t.channel for t in terms if t.channel not in index]
        for c in absent:
            if f"channel {c}" not in missing:
                missing.append(f"channel {c}")
        return None if absent else tuple((index[t.channel], t.weight) for t in terms)

    shape_targets: list[str] = []
    shape_terms: list[tuple[tuple[int, float], ...]] = []
    for rule in profile.shapes:
        found = next((a for a in rule.target.split("|") if a in keys), None)
        if found is None:
            missing.append(f"shape key {rule.target}")
            continue
        bound = bind(rule.terms)
        if bound is not None and found not in shape_targets:
            shape_targets.append(found)
            shape_terms.append(bound)

    bone_targets: list[tuple[str, int]] = []
    bone_terms: list[tuple[tuple[int, float], ...]] = []
    for brule in profile.bones:
        bone = bone_names.get(brule.bone, brule.bone)
        if not bone:
            continue
        if bone not in bone_set:
            if f"bone {bone}" not in missing:
                missing.append(f"bone {bone}")
            continue
        bound = bind(brule.terms)
        if bound is not None:
            bone_targets.append((bone, brule.axis))
            bone_terms.append(bound)

    return CompiledMapping(
        shape_targets=tuple(shape_targets),
        shape_terms=tuple(shape_terms),
        bone_targets=tuple(bone_targets),
        bone_terms=tuple(bone_terms),
        missing=tuple(missing),
    )
