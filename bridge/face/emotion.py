"""Moods: expression shapes per mood, blended and faded over time, fused without breaking articulation.

Fusion rules (why lip sync survives any mood at full intensity):

* Upper face (brows, eyes, cheeks, nose) is added freely: it does not touch the mouth opening.
* Mouth-corner shapes (smile, frown, dimple, stretch) are added but reduced while the lips are
  rounded, so /u/ and /o/ stay visible under a smile.
* Moods scale the jaw and lip aperture multiplicatively (surprise opens wider, sadness less), which
  keeps the opening track's shape (correlation) and keeps closures at exactly 0.
* Offsets on the channels that open the lips (mouthUpperUp for disgust) are gated by the aperture,
  and lip press (anger) by contact, so a closure stays a closure and an open vowel stays open.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bridge.errors import ConfigError
from bridge.face.solver import Articulation, clip01, smoothstep
from bridge.frames import ARKIT_INDEX, F32, MOODS

EXPRESSIVE = MOODS[1:]  # every mood but neutral, which is the absence of expression


@dataclass(frozen=True, slots=True)
class MoodShape:
    """One mood at intensity 1.

    Attributes:
        offsets: ARKit stem -> weight added; a stem without Left/Right applies to both sides when the
            rig has them (e.g. "mouthSmile" -> mouthSmileLeft and mouthSmileRight).
        jaw_gain: factor on jaw opening and lip aperture.
        spread_add: added to lip spreading (a smile widens the lips).
    """

    offsets: Mapping[str, float]
    jaw_gain: float = 1.0
    spread_add: float = 0.0


# FACS-based: happy AU6+12, sad AU1+4+15+17, angry AU4+7+9+23/24, disgusted AU9+10+15+17,
# afraid AU1+2+4+5+20, surprised AU1+2+5+26.
MOOD_SHAPES: dict[str, MoodShape] = {
    "happy": MoodShape(
        {"mouthSmile": 0.55, "cheekSquint": 0.45, "eyeSquint": 0.25, "mouthDimple": 0.1}, spread_add=0.15
    ),
    "sad": MoodShape(
        {"browInnerUp": 0.6, "browDown": 0.15, "mouthFrown": 0.45, "mouthShrugLower": 0.15, "eyeSquint": 0.1},
        jaw_gain=0.85,
    ),
    "angry": MoodShape(
        {"browDown": 0.7, "eyeSquint": 0.35, "noseSneer": 0.25, "mouthFrown": 0.15, "mouthPress": 0.35},
        jaw_gain=1.05,
    ),
    "disgusted": MoodShape(
        {"noseSneer": 0.6, "browDown": 0.35, "cheekSquint": 0.3, "eyeSquint": 0.2, "mouthFrown": 0.25,
         "mouthShrugLower": 0.25, "mouthUpperUp": 0.2},
        jaw_gain=0.95,
    ),  # fmt: skip
    "afraid": MoodShape(
        {"browInnerUp": 0.65, "browOuterUp": 0.3, "browDown": 0.25, "eyeWide": 0.6, "mouthStretch": 0.35},
        jaw_gain=1.1,
    ),
    "surprised": MoodShape({"browInnerUp": 0.7, "browOuterUp": 0.7, "eyeWide": 0.65}, jaw_gain=1.25),
}
_CORNER_STEMS = ("mouthSmile", "mouthFrown", "mouthDimple", "mouthStretch")
_OPENING_STEMS = ("mouthUpperUp", "mouthLowerDown", "jawOpen")


def _indices(stem: str) -> list[int]:
    if stem in ARKIT_INDEX:
        return [ARKIT_INDEX[stem]]
    return [ARKIT_INDEX[stem + side] for side in ("Left", "Right")]


def _offset_matrix(kind: str) -> F32:
    """(6, 52) offsets of one fusion class ("corner", "opening", "press" or "free") per mood."""
    m = np.zeros((len(EXPRESSIVE), len(ARKIT_INDEX)), dtype=np.float32)
    for r, mood in enumerate(EXPRESSIVE):
        for stem, w in MOOD_SHAPES[mood].offsets.items():
            cls = (
                "corner" if stem in _CORNER_STEMS
                else "opening" if stem in _OPENING_STEMS
                else "press" if stem == "mouthPress"
                else "free"
            )  # fmt: skip
            if cls == kind:
                m[r, _indices(stem)] = w
    return m


_FREE, _CORNER, _OPENING, _PRESS = (_offset_matrix(k) for k in ("free", "corner", "opening", "press"))
_JAW_GAIN = np.array([MOOD_SHAPES[m].jaw_gain for m in EXPRESSIVE], dtype=np.float32)
_JAW_GAIN_ADD = _JAW_GAIN - np.float32(1.0)
_SPREAD_ADD = np.array([MOOD_SHAPES[m].spread_add for m in EXPRESSIVE], dtype=np.float32)
_ROUND = (ARKIT_INDEX["mouthPucker"], ARKIT_INDEX["mouthFunnel"])


@dataclass(frozen=True, slots=True)
class MoodTerms:
    """What the fusion needs from one mood weight vector; mood weights rarely change between frames,
    so the engine computes these once per distinct vector instead of four matrix products per frame.

    Attributes:
        w: (6,) mood weights over EXPRESSIVE.
        gain: factor on jaw opening and lip aperture.
        spread_add: added to lip spreading.
        free, corner, opening, press: (52,) offsets of each fusion class.
        active: False when every weight is 0 (the offsets are all 0 and the fusion is the identity).
        dominant: the strongest mood and its weight (see ``dominant``).
    """

    w: F32
    gain: float
    spread_add: float
    free: F32
    corner: F32
    opening: F32
    press: F32
    active: bool
    dominant: tuple[str, float]


def mood_terms(w: F32) -> MoodTerms:
    return MoodTerms(
        w=w,
        gain=1.0 + float(w @ _JAW_GAIN_ADD),
        spread_add=float(w @ _SPREAD_ADD),
        free=w @ _FREE,
        corner=w @ _CORNER,
        opening=w @ _OPENING,
        press=w @ _PRESS,
        active=bool(np.any(w != 0.0)),
        dominant=dominant(w),
    )


def mood_vector(weights: Mapping[str, float]) -> F32:
    """Mood name -> weight mapping as a (6,) vector over EXPRESSIVE; sums above 1 are normalised.

    Raises:
        ConfigError: unknown mood name or weight outside 0..1.
    """
    v = np.zeros(len(EXPRESSIVE), dtype=np.float32)
    total = 0.0
    for name, w in weights.items():
        if name not in MOODS:
            raise ConfigError(f"mood: must be one of {', '.join(MOODS)} (got {name!r})")
        if not 0.0 <= w <= 1.0:
            raise ConfigError(f"mood intensity: must be between 0 and 1 (got {w!r} for {name})")
        total += w
        if name != "neutral":
            v[EXPRESSIVE.index(name)] = w
    if total > 1.0:
        v /= np.float32(total)
    return v


def style_articulation(art: Articulation, m: MoodTerms, recent_opening: float) -> Articulation:
    """Mood-specific jaw/lip amplitude and lip spreading; closures (aperture 0) stay at 0.

    ``recent_opening`` (engine state) is set in the same step, so each frame builds one Articulation.
    """
    return Articulation(
        jaw=min(1.0, art.jaw * m.gain),
        aperture=min(1.0, art.aperture * m.gain),
        protrusion=art.protrusion,
        spread=min(1.0, art.spread + m.spread_add),
        tongue_tip_up=art.tongue_tip_up,
        tongue_body_up=art.tongue_body_up,
        tongue_front=art.tongue_front,
        visemes=art.visemes,
        voice=art.voice,
        recent_opening=recent_opening,
        narrowing=art.narrowing * m.gain,  # with the aperture, so a narrowed closure stays closed
    )


def add_expression(bs: F32, art: Articulation, m: MoodTerms) -> F32:
    """Mouth/jaw weights from the solver (0..1) + the moods' expression, fused by the rules above.

    Updates ``bs`` in place and returns it.
    """
    if not m.active:
        return bs
    rounded = min(1.0, float(bs[_ROUND[0]] + bs[_ROUND[1]]))
    opened = smoothstep(0.1, 0.4, art.aperture)
    near_contact = 1.0 - smoothstep(0.0, 0.3, art.aperture)
    bs += m.free
    bs += (1.0 - 0.6 * rounded) * m.corner
    bs += opened * m.opening
    bs += near_contact * m.press
    return clip01(bs)


class MoodMixer:
    """Current mood weights, fading to new targets over a transition time; targets are set thread-safely."""

    def __init__(self, weights: Mapping[str, float], transition_s: float) -> None:
        self.default_transition_s = transition_s
        self._lock = threading.Lock()
        self._current = mood_vector(weights)
        self._start = self._current.copy()
        self._target = self._current.copy()
        self._duration_s = 0.0
        self._t0_s: float | None = None
        self._pending: tuple[F32, float] | None = None

    def set_target(self, weights: Mapping[str, float], transition_s: float | None) -> None:
        """Called from any thread; takes effect at the next frame."""
        v = mood_vector(weights)
        d = self.default_transition_s if transition_s is None else transition_s
        if not 0.0 <= d <= 60.0:
            raise ConfigError(f"mood transition_s: must be between 0 and 60 (got {d!r})")
        with self._lock:
            self._pending = (v, d)

    def step(self, t_s: float) -> F32:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self._start = self._current.copy()
            self._target, self._duration_s = pending
            self._t0_s = t_s
        if self._t0_s is not None:
            x = 1.0 if self._duration_s <= 0.0 else (t_s - self._t0_s) / self._duration_s
            k = smoothstep(0.0, 1.0, x)
            self._current = (self._start + np.float32(k) * (self._target - self._start)).astype(np.float32)
            if x >= 1.0:
                self._t0_s = None
        return self._current

    def jump_to_target(self) -> None:
        """End any transition now (used by reset)."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self._target = pending[0]
        self._current = self._start = self._target.copy()
        self._t0_s = None


def dominant(w: F32) -> tuple[str, float]:
    """The strongest mood and its weight; "neutral" when no mood is above 0.01."""
    k = int(np.argmax(w))
    if float(w[k]) < 0.01:
        return "neutral", 0.0
    return EXPRESSIVE[k], float(w[k])


class Arousal:
    """Arousal 0..1 from prosody proxies in the articulation stream, relative to the speaker's own habit.

    Vocal effort shows as jaw opening, speech rate as articulator speed; both are compared between a
    short (2 s) and a long (20 s) window, so 0.5 is this speaker's usual level. Pitch is not in the
    frames, so it is not used.
    """

    SHORT_S = 2.0
    LONG_S = 20.0

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._prev: tuple[float, float] | None = None
        self._short = np.zeros(2)
        self._long = np.zeros(2)
        self._n = 0
        self.value = 0.5

    def update(self, art: Articulation, dt_s: float) -> float:
        prev = self._prev
        self._prev = (art.jaw, art.aperture)
        if art.voice < 0.5 or prev is None:
            # Between phrases the short-term level relaxes to the speaker's habit.
            self._short += (dt_s / self.SHORT_S) * (self._long - self._short)
        else:
            speed = (abs(art.jaw - prev[0]) + abs(art.aperture - prev[1])) / max(dt_s, 1e-3)
            x = np.array([art.jaw, speed])
            self._n += 1
            # Plain running means until the windows are full, so the start is not biased to 0.
            self._short += max(dt_s / self.SHORT_S, 1.0 / self._n) * (x - self._short)
            self._long += max(dt_s / self.LONG_S, 1.0 / self._n) * (x - self._long)
        eps = np.array([0.02, 0.2])
        z = float(np.log((self._short + eps) / (self._long + eps)) @ np.array([1.0, 0.5]))
        self.value = 1.0 / (1.0 + math.exp(-3.0 * z))
        return self.value

    @property
    def intensity_scale(self) -> float:
        """Factor on mood intensity: 0.8 at the speaker's usual arousal, 0.4 when flat, 1 when excited."""
        return min(1.0, 0.4 + 0.8 * self.value)
