"""Retargeting: speaker-relative articulation -> ARKit-52 mouth/jaw/tongue, visemes, VRM vowels, joints.

The solver is geometric, not a lookup table (docs/face.md has the derivation):

* Jaw and lips are separate degrees of freedom. ``jawOpen`` follows the jaw; the ARKit jawOpen shape
  carries the lips apart with it, so the lip opening seen on the rig is
  ``opening = jawOpen - mouthClose + mean(mouthLowerDown)/2 + mean(mouthUpperUp)/2``.
  The solver sets that opening to the requested lip aperture less its narrowing by rounding (below):
  when the lips are more closed than the jaw, ``mouthClose`` takes up the difference (ARKit's
  lips-together-with-jaw-open corrective); when they are more open, the lower lip drops and the upper
  lip rises.
* Lip contact (bilabials) limits the jaw: pressed lips imply a small jaw, so ``jawOpen`` is capped by
  a function of aperture and ``mouthPress``/``mouthRoll*`` appear only near contact.
* Rounding and spreading are antagonists: each is reduced by half the other before use. Rounding
  with open lips is ``mouthFunnel`` (o, sh), with nearly closed lips ``mouthPucker`` (u, w).
  Rounding also narrows the opening between the lips (``narrowing``), which is not lip contact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bridge.frames import ARKIT_INDEX, F32, VISEMES, VRM_PRESETS

# jawOpen at full jaw control, and the lip aperture (in jawOpen units) at full aperture control.
JAW_OPEN_AT_MAX = 0.6
APERTURE_AT_MAX = 0.6
# Below this aperture (normalised 0..1) the lips are treated as in contact.
CONTACT_APERTURE = 0.12
# Jaw opening (0..1) still possible with the lips in contact; it grows to 1 as the lips part.
JAW_AT_CONTACT = 0.2
JAW_FREE_APERTURE = 0.6
# Share of the extra lip opening (beyond the jaw) taken by the lower and the upper lip; they sum to 2
# so that mean(lowerDown)/2 + mean(upperUp)/2 equals the extra opening.
LOWER_LIP_SHARE = 1.2
UPPER_LIP_SHARE = 0.8
JAW_RAD_AT_FULL_OPEN = 0.45  # jawOpen = 1 as a hinge rotation (about 26 degrees)
# Lip opening taken off per unit of rounding. Real speakers' inner lips nearly close on /u w r/ (GRID's
# video and MNGU0's EMA both show it), while the model, trained on synthetic voices, leaves them too open
# on real ones; its rounding output carries what is missing. Chosen on the dev recordings (docs/accuracy.md).
ROUNDING_NARROWS = 0.15

_I = ARKIT_INDEX
_V = {n: i for i, n in enumerate(VISEMES)}
_VRM = {n: i for i, n in enumerate(VRM_PRESETS)}
# Which VRM vowel each viseme looks like (consonants borrow the neighbouring vowel shape they resemble).
_VISEME_TO_VOWEL: dict[str, tuple[tuple[str, float], ...]] = {
    "aa": (("A", 1.0),), "E": (("E", 1.0),), "ih": (("I", 1.0),), "oh": (("O", 1.0),),
    "ou": (("U", 1.0),), "CH": (("U", 0.5), ("I", 0.5)), "SS": (("I", 1.0),), "RR": (("U", 0.6), ("O", 0.4)),
    "DD": (("E", 0.6), ("I", 0.4)), "kk": (("E", 0.5), ("A", 0.5)), "nn": (("E", 0.6), ("I", 0.4)),
    "TH": (("E", 1.0),), "FF": (("I", 1.0),),
}  # fmt: skip
_VOWEL_MATRIX = np.zeros((5, len(VISEMES)), dtype=np.float32)
for _vis, _parts in _VISEME_TO_VOWEL.items():
    for _vow, _w in _parts:
        _VOWEL_MATRIX["AIUEO".index(_vow), _V[_vis]] = _w


@dataclass(frozen=True, slots=True)
class Articulation:
    """Speaker-relative articulation, already gated by voice activity (all 0 at rest).

    Attributes:
        jaw: jaw opening above the speaker's rest, 0..1.
        aperture: lip opening above the speaker's rest, 0..1 (0 = lips in contact).
        protrusion: lip protrusion above rest, 0..1.
        spread: lip spreading above rest, 0..1.
        tongue_tip_up: tongue tip height from the speaker's median, -1..1.
        tongue_body_up: tongue body height from the median, -1..1.
        tongue_front: tongue body frontness from the median, -1..1.
        visemes: (15,) viseme weights, moved toward sil as voice activity falls (gate_visemes).
        voice: voice activity 0..1.
        recent_opening: 0..1, how open the lips were in the last ~0.2 s; lip press is the effort of
            a closure between openings, so it fades in a long closure (a pause inside a phrase).
        narrowing: how much of ``aperture`` rounding takes away (``rounding_narrowing``); kept apart
            from the aperture so that narrowed lips are not taken for pressed ones, and scaled with the
            aperture by a mood's gain, which keeps a narrowed closure closed.
    """

    jaw: float
    aperture: float
    protrusion: float
    spread: float
    tongue_tip_up: float
    tongue_body_up: float
    tongue_front: float
    visemes: F32
    voice: float
    recent_opening: float = 1.0
    narrowing: float = 0.0


def _pair(stem: str) -> tuple[int, int]:
    return _I[stem + "Left"], _I[stem + "Right"]


# Channel indices resolved once: the solver runs per 10 ms frame and dict look-ups add up.
_JAW_OPEN, _CLOSE, _FUNNEL, _PUCKER = _I["jawOpen"], _I["mouthClose"], _I["mouthFunnel"], _I["mouthPucker"]
_JAW_FORWARD, _CHEEK_PUFF, _TONGUE_OUT = _I["jawForward"], _I["cheekPuff"], _I["tongueOut"]
_ROLL_LOWER, _ROLL_UPPER = _I["mouthRollLower"], _I["mouthRollUpper"]
_SHRUG_LOWER, _SHRUG_UPPER = _I["mouthShrugLower"], _I["mouthShrugUpper"]
_LOWER_DOWN, _UPPER_UP, _PRESS = _pair("mouthLowerDown"), _pair("mouthUpperUp"), _pair("mouthPress")
_STRETCH, _DIMPLE, _SMILE = _pair("mouthStretch"), _pair("mouthDimple"), _pair("mouthSmile")
_V_FF, _V_PP, _V_TH, _V_NN, _V_SIL = _V["FF"], _V["PP"], _V["TH"], _V["nn"], _V["sil"]
_VRM_VOWELS = np.array([_VRM[name] for name in "AIUEO"], dtype=np.intp)
_N_BS = len(ARKIT_INDEX)


def smoothstep(lo: float, hi: float, x: float) -> float:
    t = min(1.0, max(0.0, (x - lo) / (hi - lo)))
    return t * t * (3.0 - 2.0 * t)


def lip_contact(aperture: float) -> float:
    """1 with the lips in contact, falling to 0 at CONTACT_APERTURE."""
    return 1.0 - smoothstep(0.0, CONTACT_APERTURE, aperture)


def _rounding(protrusion: float, spread: float) -> float:
    """Lip rounding: protrusion less half the spreading, its antagonist."""
    return max(0.0, protrusion - 0.5 * spread)


def rounding_narrowing(protrusion: float, spread: float) -> float:
    """The lip opening that rounding takes away: ROUNDING_NARROWS x rounding."""
    return ROUNDING_NARROWS * _rounding(protrusion, spread)


def mouth_opening(bs: F32) -> float:
    """Lip opening as the rig shows it (the quantity the GRID accuracy metric reads)."""
    lower = 0.5 * (bs[_LOWER_DOWN[0]] + bs[_LOWER_DOWN[1]])
    upper = 0.5 * (bs[_UPPER_UP[0]] + bs[_UPPER_UP[1]])
    return float(bs[_JAW_OPEN] - bs[_CLOSE] + lower / 2 + upper / 2)


def clip01(x: F32) -> F32:
    """Clamp to 0..1 in place (np.clip's wrapper costs more than the work on these small arrays)."""
    np.maximum(x, 0.0, out=x)
    return np.minimum(x, 1.0, out=x)


def _both(bs: F32, pair: tuple[int, int], value: float) -> None:
    bs[pair[0]] = bs[pair[1]] = value


def solve_mouth(art: Articulation) -> F32:
    """ARKit-52 weights of jaw, lips, cheeks and tongue (eyes and brows left at 0)."""
    bs = np.zeros(_N_BS, dtype=np.float32)
    a = min(1.0, max(0.0, art.aperture))
    contact = lip_contact(a)
    # Pressed lips imply a small jaw: cap the jaw by how far the lips are apart.
    jaw_cap = JAW_AT_CONTACT + (1.0 - JAW_AT_CONTACT) * smoothstep(0.0, JAW_FREE_APERTURE, a)
    jaw_open = JAW_OPEN_AT_MAX * min(max(0.0, art.jaw), jaw_cap)
    # Contact and the jaw cap above follow the aperture before narrowing: rounded lips are not pressed.
    narrowed = max(0.0, a - art.narrowing)
    target = APERTURE_AT_MAX * narrowed
    bs[_JAW_OPEN] = jaw_open
    if target <= jaw_open:
        bs[_CLOSE] = jaw_open - target
    else:
        extra = target - jaw_open
        _both(bs, _LOWER_DOWN, min(1.0, LOWER_LIP_SHARE * extra))
        _both(bs, _UPPER_UP, min(1.0, UPPER_LIP_SHARE * extra))

    rounding = _rounding(art.protrusion, art.spread)
    spreading = max(0.0, art.spread - 0.5 * art.protrusion)
    open_lips = smoothstep(0.15, 0.6, narrowed)
    bs[_FUNNEL] = 0.7 * rounding * open_lips
    bs[_PUCKER] = 0.8 * rounding * (1.0 - open_lips)
    bs[_JAW_FORWARD] = 0.1 * rounding * open_lips
    _both(bs, _STRETCH, 0.45 * spreading)
    _both(bs, _DIMPLE, 0.25 * spreading)
    _both(bs, _SMILE, 0.12 * spreading)

    # Contact shapes are muscular effort: only while speaking, so silence is a relaxed closed mouth.
    v = art.visemes
    ff = float(v[_V_FF])
    effort = contact * art.voice * art.recent_opening
    _both(bs, _PRESS, 0.6 * effort * (1.0 - 0.5 * rounding))
    bs[_ROLL_LOWER] = 0.25 * effort + 0.5 * ff * (1.0 - open_lips)
    bs[_ROLL_UPPER] = 0.2 * effort
    bs[_SHRUG_LOWER] = 0.3 * effort
    bs[_SHRUG_UPPER] = 0.1 * effort + 0.2 * ff
    bs[_CHEEK_PUFF] = 0.12 * effort * float(v[_V_PP])
    # The tongue shows between the teeth for dental fricatives (and a little for /l/, /n/).
    tongue_room = smoothstep(0.05, 0.3, narrowed)
    bs[_TONGUE_OUT] = tongue_room * (0.5 * float(v[_V_TH]) + 0.1 * float(v[_V_NN]))
    return clip01(bs)


def gate_visemes(probs: F32, voice: float) -> F32:
    """Viseme weights 0..1: the frame's probabilities scaled by voice activity, the rest on sil."""
    w = clip01(probs.astype(np.float32))
    w *= np.float32(voice)
    w[_V_SIL] += np.float32(1.0 - voice)
    return clip01(w)


def vrm_vowels(art: Articulation, bs: F32) -> F32:
    """VRM A I U E O: the vowel shape the visemes point at, scaled by how open/rounded the mouth is.

    Only the five vowel slots are filled; Blink and the emotion presets are set by the engine.
    """
    out = np.zeros(len(VRM_PRESETS), dtype=np.float32)
    dist = _VOWEL_MATRIX @ art.visemes.astype(np.float32)
    total = float(dist.sum())
    if total <= 1e-6:
        return out
    rounding = float(bs[_PUCKER] + bs[_FUNNEL])
    amount = min(1.0, mouth_opening(bs) / APERTURE_AT_MAX + 0.5 * rounding)
    out[_VRM_VOWELS] = amount * dist.astype(np.float64) / total
    return clip01(out)


def jaw_angle_rad(bs: F32) -> float:
    return JAW_RAD_AT_FULL_OPEN * float(bs[_I["jawOpen"]])
