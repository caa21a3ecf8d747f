"""Rig profiles: data files that map the solver's channels onto a rig's own names and ranges.

A profile is a TOML file (bridge/face/profiles/*.toml ships arkit, vrm0, vrm1 and facegood)::

    name = "facegood"
    symmetry = "none"            # or "average": each left/right output pair gets their mean
    left_suffix = "_l"           # how left/right output names end (for symmetry)
    right_suffix = "_r"

    [defaults]                   # optional, applies to every channel
    gain = 1.0
    curve = "linear"             # "linear", "power" (x ** gamma, sign kept) or "smoothstep"
    gamma = 1.0
    min = 0.0
    max = 1.0

    [channels.mouth_stretch_c]   # output name; channels come out in file order
    from = { jawOpen = 1.0, mouthLowerDownLeft = 0.2 }   # weighted sum of sources
    gain = 1.3

    [channels.tooth_d_u]         # an extra channel with a constant value
    value = 0.0

Sources: the 52 ARKit names, ``viseme.<name>`` (15), ``vrm.<preset>`` (10), ``joint.<name>`` (12),
``ema.<name>`` (12, mm) and ``mood.<name>`` (the mood's intensity when it is the dominant mood).
The output is ``clip(gain * curve(sum + value), min, max)``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bridge.errors import ConfigError
from bridge.frames import ARKIT_NAMES, EMA_NAMES, F32, JOINT_NAMES, MOODS, VISEMES, VRM_PRESETS, FacePose, RigChannels

PROFILE_DIR = Path(__file__).parent / "profiles"
SHIPPED = ("arkit", "vrm0", "vrm1", "facegood")
NO_PROFILE = "none"  # the default: frames carry no rig channels, so default outputs stay as they were
SOURCES: tuple[str, ...] = (
    ARKIT_NAMES
    + tuple(f"viseme.{n}" for n in VISEMES)
    + tuple(f"vrm.{n}" for n in VRM_PRESETS)
    + tuple(f"joint.{n}" for n in JOINT_NAMES)
    + tuple(f"ema.{n}" for n in EMA_NAMES)
    + tuple(f"mood.{n}" for n in MOODS)
)
_SOURCE_INDEX = {n: i for i, n in enumerate(SOURCES)}
_CURVES = ("linear", "power", "smoothstep")
_CHANNEL_KEYS = {"from", "value", "gain", "curve", "gamma", "min", "max"}
_TOP_KEYS = {"name", "description", "symmetry", "left_suffix", "right_suffix", "defaults", "channels"}


@dataclass(frozen=True, slots=True)
class Profile:
    """A loaded rig profile; ``apply`` turns a FacePose into {rig channel name: value}.

    Attributes:
        name: profile name.
        names: output channel names, in file order.
        weights: (n_out, n_sources) source weights.
        offset: (n_out,) constant added before the curve.
        gain, gamma, lo, hi: (n_out,) per-channel response.
        curve: per-channel curve name.
        pairs: (left index, right index) output pairs averaged when symmetry is "average".
    """

    name: str
    names: tuple[str, ...]
    weights: F32
    offset: F32
    gain: F32
    gamma: F32
    lo: F32
    hi: F32
    curve: tuple[str, ...]
    pairs: tuple[tuple[int, int], ...]

    def apply(self, pose: FacePose) -> dict[str, float]:
        y = self.values(pose)
        return {n: float(v) for n, v in zip(self.names, y, strict=True)}

    def channels(self, pose: FacePose) -> RigChannels:
        """The pose in this profile's channels, as frames carry it to the publishers and exports."""
        return RigChannels(self.name, self.names, self.values(pose))

    def values(self, pose: FacePose) -> F32:
        """The profile's channels as an array in ``names`` order."""
        x = self.weights @ source_vector(pose) + self.offset
        for k, kind in enumerate(self.curve):
            if kind == "power":
                x[k] = np.sign(x[k]) * abs(x[k]) ** self.gamma[k]
            elif kind == "smoothstep":
                t = min(1.0, max(0.0, float(x[k])))
                x[k] = t * t * (3.0 - 2.0 * t)
        y = np.clip(self.gain * x, self.lo, self.hi).astype(np.float32)
        for left, right in self.pairs:
            y[left] = y[right] = 0.5 * (y[left] + y[right])
        return y


def source_vector(pose: FacePose) -> F32:
    mood = np.zeros(len(MOODS), dtype=np.float32)
    mood[MOODS.index(pose.mood)] = pose.mood_intensity
    parts = [pose.blendshapes, pose.visemes, pose.vrm, pose.joints, pose.ema, mood]
    out: F32 = np.concatenate(parts).astype(np.float32)
    return out


# Bound on every number of a profile: float32 sums of weights times sources stay finite, so rig values
# never become NaN or infinite on the wire (which would write invalid JSON).
_MAX_ABS = 1e6


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: expected a number (got {value!r})")
    if not abs(value) <= _MAX_ABS:  # NaN fails too
        raise ConfigError(f"{where}: must be a finite number within +-{_MAX_ABS:g} (got {value!r})")
    return float(value)


def parse_profile(data: dict[str, Any], origin: str) -> Profile:
    """Build a Profile from parsed TOML; ``origin`` names the file in error messages.

    Raises:
        ConfigError: unknown key, unknown source name, bad curve or number.
    """
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"profile {origin}: unknown key {sorted(unknown)[0]!r}")
    channels = data.get("channels")
    if not isinstance(channels, dict) or not channels:
        raise ConfigError(f"profile {origin}: needs a [channels.NAME] table per output channel")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict) or set(defaults) - (_CHANNEL_KEYS - {"from", "value"}):
        raise ConfigError(f"profile {origin}: [defaults] may set only gain, curve, gamma, min, max")
    symmetry = data.get("symmetry", "none")
    if symmetry not in ("none", "average"):
        raise ConfigError(f"profile {origin}: symmetry must be 'none' or 'average' (got {symmetry!r})")
    n = len(channels)
    weights = np.zeros((n, len(SOURCES)), dtype=np.float32)
    offset, gain, gamma, lo, hi = (np.zeros(n, dtype=np.float32) for _ in range(5))
    curves: list[str] = []
    for k, (name, spec) in enumerate(channels.items()):
        where = f"profile {origin}: channels.{name}"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: expected a table")
        bad = set(spec) - _CHANNEL_KEYS
        if bad:
            raise ConfigError(f"{where}: unknown key {sorted(bad)[0]!r}")
        merged = {**defaults, **spec}
        sources = merged.get("from", {})
        if not isinstance(sources, dict):
            raise ConfigError(f"{where}: 'from' must be a table of source = weight")
        for src, w in sources.items():
            if src not in _SOURCE_INDEX:
                raise ConfigError(f"{where}: unknown source {src!r}")
            weights[k, _SOURCE_INDEX[src]] = _number(f"{where}.from.{src}", w)
        offset[k] = _number(f"{where}.value", merged.get("value", 0.0))
        gain[k] = _number(f"{where}.gain", merged.get("gain", 1.0))
        gamma[k] = _number(f"{where}.gamma", merged.get("gamma", 1.0))
        if gamma[k] <= 0:  # x ** gamma is infinite at 0
            raise ConfigError(f"{where}.gamma: must be above 0 (got {gamma[k]:g})")
        lo[k] = _number(f"{where}.min", merged.get("min", 0.0))
        hi[k] = _number(f"{where}.max", merged.get("max", 1.0))
        if lo[k] > hi[k]:
            raise ConfigError(f"{where}: min is above max")
        curve = merged.get("curve", "linear")
        if curve not in _CURVES:
            raise ConfigError(f"{where}: curve must be one of {', '.join(_CURVES)} (got {curve!r})")
        curves.append(str(curve))
    names = tuple(channels)
    pairs: list[tuple[int, int]] = []
    if symmetry == "average":
        left_suffix = str(data.get("left_suffix", "Left"))
        right_suffix = str(data.get("right_suffix", "Right"))
        index = {nm: i for i, nm in enumerate(names)}
        for i, nm in enumerate(names):
            if nm.endswith(left_suffix):
                twin = nm[: len(nm) - len(left_suffix)] + right_suffix
                if twin in index:
                    pairs.append((i, index[twin]))
    return Profile(
        name=str(data.get("name", origin)),
        names=names,
        weights=weights,
        offset=offset,
        gain=gain,
        gamma=gamma,
        lo=lo,
        hi=hi,
        curve=tuple(curves),
        pairs=tuple(pairs),
    )


def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name (arkit, vrm0, vrm1, facegood) or a profile TOML file by path.

    Raises:
        ConfigError: unknown name, unreadable file, TOML syntax error or invalid content.
    """
    path = PROFILE_DIR / f"{name_or_path}.toml" if name_or_path in SHIPPED else Path(name_or_path)
    if name_or_path not in SHIPPED and path.suffix != ".toml":
        raise ConfigError(
            f"face.profile: expected one of {', '.join(SHIPPED)} or a .toml file (got {name_or_path!r})"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # Notepad saves with a BOM
    except OSError as e:
        raise ConfigError(f"face.profile: cannot read {path}: {e.strerror or e}") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"face.profile: {path}: {e}") from e
    except RecursionError as e:  # arrays or tables nested thousands deep
        raise ConfigError(f"face.profile: {path}: nested too deeply to be a rig profile") from e
    return parse_profile(data, str(path))
