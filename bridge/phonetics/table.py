"""The articulatory phone table: per ARPAbet phone, control targets, dominance, viseme and voicing.

Controls (CONTROL_NAMES order, each 0..1): jaw_open, lip_aperture, lip_protrusion, lip_spread,
tongue_tip_height, tongue_body_height, tongue_body_front. Values are hand-set from standard
articulatory descriptions of General American English (vowel height/backness/rounding charts,
place and manner of consonants). Targets may lie outside 0..1 on purpose: p/b/m aim the lip
aperture slightly below zero so that the blended trajectory reaches contact and holds it (the result is
clipped to 0..1), the same "overshoot" trick keeps the tongue tip on the ridge for t/d/n/l.

Dominance (one strength per control) says how strongly a phone imposes its target on that
channel: a vowel specifies everything moderately, /p/ specifies the lips very strongly and leaves
the tongue to its neighbours (strength 0.1), /k/ specifies the tongue dorsum but not the lips.
Diphthongs are two half-length segments (``DIPHTHONGS``).

The 12-d EMA (mm, relative to the rest posture, x forward, y up) is a fixed linear function of
the controls, ``controls_to_ema``, so the two outputs of the model never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bridge.errors import ConfigError
from bridge.frames import F32, VISEMES


@dataclass(frozen=True, slots=True)
class PhoneTarget:
    """Articulatory target of one phone.

    Attributes:
        controls: 7 control targets, CONTROL_NAMES order (may overshoot 0..1, see module doc).
        strength: 7 dominance strengths (>0), CONTROL_NAMES order.
        viseme: Oculus viseme name (VISEMES).
        voiced: whether the vocal folds vibrate.
    """

    controls: tuple[float, float, float, float, float, float, float]
    strength: tuple[float, float, float, float, float, float, float]
    viseme: str
    voiced: bool


_VOWEL = (1.0, 1.0, 1.0, 1.0, 0.6, 1.0, 1.0)
_LOW = 0.12


def _p(c: tuple[float, ...], viseme: str, voiced: bool, key: dict[int, float] | None = None) -> PhoneTarget:
    """A consonant: channels in ``key`` get the given strength, all others a weak ``_LOW``."""
    strength = [_LOW] * 7 if key is not None else list(_VOWEL)
    for i, s in (key or {}).items():
        strength[i] = s
    assert len(c) == 7 and viseme in VISEMES
    return PhoneTarget(tuple(c), tuple(strength), viseme, voiced)  # type: ignore[arg-type]


# Channel indices, for the dominance specs below.
J, LA, PR, SP, TT, TB, TF = range(7)
_LABIAL = {LA: 4.0, J: 0.8, PR: 0.5, SP: 0.5}
_LABIODENTAL = {LA: 3.0, J: 1.5, PR: 2.0}
_CORONAL = {TT: 3.0, J: 1.2, TF: 0.5}
_SIBILANT = {TT: 3.0, J: 2.5, LA: 1.2, SP: 0.8, TF: 0.8}
_POSTALV = {TT: 3.0, J: 2.0, LA: 1.5, PR: 3.0, TB: 1.0}
_DORSAL = {TB: 3.0, TF: 1.5, J: 0.6}

#             jaw   lip   pro   spr   tip   body  front
PHONES: dict[str, PhoneTarget] = {
    # vowels (viseme after the Oculus convention)
    "IY": _p((0.14, 0.26, 0.00, 0.95, 0.45, 0.95, 0.95), "ih", True),
    "IH": _p((0.28, 0.34, 0.00, 0.65, 0.35, 0.80, 0.85), "ih", True),
    "EH": _p((0.50, 0.48, 0.00, 0.55, 0.30, 0.60, 0.80), "E", True),
    "AE": _p((0.72, 0.62, 0.00, 0.60, 0.25, 0.40, 0.75), "aa", True),
    "AA": _p((0.90, 0.80, 0.05, 0.30, 0.10, 0.15, 0.20), "aa", True),
    "AH": _p((0.62, 0.55, 0.00, 0.30, 0.20, 0.40, 0.45), "aa", True),
    "AX": _p((0.35, 0.32, 0.00, 0.25, 0.30, 0.50, 0.50), "E", True),
    "AO": _p((0.70, 0.50, 0.60, 0.00, 0.15, 0.30, 0.15), "oh", True),
    "OH": _p((0.45, 0.32, 0.75, 0.00, 0.20, 0.60, 0.20), "oh", True),
    "UH": _p((0.28, 0.22, 0.70, 0.00, 0.25, 0.75, 0.30), "ou", True),
    "UW": _p((0.14, 0.12, 0.95, 0.00, 0.25, 0.90, 0.25), "ou", True),
    "ER": _p((0.32, 0.24, 0.45, 0.10, 0.65, 0.55, 0.45), "RR", True),
    # stops, nasals
    "P": _p((0.10, -0.12, 0.05, 0.25, 0.30, 0.50, 0.50), "PP", False, _LABIAL),
    "B": _p((0.10, -0.12, 0.05, 0.25, 0.30, 0.50, 0.50), "PP", True, _LABIAL),
    "M": _p((0.10, -0.12, 0.05, 0.25, 0.30, 0.50, 0.50), "PP", True, _LABIAL),
    "T": _p((0.12, 0.25, 0.00, 0.40, 1.05, 0.55, 0.70), "DD", False, _CORONAL),
    "D": _p((0.12, 0.25, 0.00, 0.40, 1.05, 0.55, 0.70), "DD", True, _CORONAL),
    "DX": _p((0.20, 0.30, 0.00, 0.35, 1.00, 0.50, 0.65), "DD", True, {TT: 3.0}),
    "N": _p((0.14, 0.25, 0.00, 0.40, 1.05, 0.55, 0.70), "nn", True, _CORONAL),
    "K": _p((0.20, 0.30, 0.10, 0.30, 0.25, 1.05, 0.30), "kk", False, _DORSAL),
    "G": _p((0.20, 0.30, 0.10, 0.30, 0.25, 1.05, 0.30), "kk", True, _DORSAL),
    "NG": _p((0.20, 0.30, 0.05, 0.30, 0.25, 1.05, 0.30), "kk", True, _DORSAL),
    # fricatives, affricates
    "F": _p((0.10, 0.04, 0.00, 0.30, 0.30, 0.50, 0.50), "FF", False, _LABIODENTAL),
    "V": _p((0.10, 0.04, 0.00, 0.30, 0.30, 0.50, 0.50), "FF", True, _LABIODENTAL),
    "TH": _p((0.18, 0.28, 0.00, 0.35, 0.80, 0.45, 0.95), "TH", False, {TT: 5.0, TF: 3.0, J: 1.5}),
    "DH": _p((0.18, 0.28, 0.00, 0.35, 0.80, 0.45, 0.95), "TH", True, {TT: 5.0, TF: 3.0, J: 1.5}),
    "S": _p((0.06, 0.16, 0.00, 0.55, 0.95, 0.55, 0.75), "SS", False, _SIBILANT),
    "Z": _p((0.06, 0.16, 0.00, 0.55, 0.95, 0.55, 0.75), "SS", True, _SIBILANT),
    "SH": _p((0.08, 0.20, 0.75, 0.00, 0.85, 0.75, 0.60), "CH", False, _POSTALV),
    "ZH": _p((0.08, 0.20, 0.75, 0.00, 0.85, 0.75, 0.60), "CH", True, _POSTALV),
    "CH": _p((0.08, 0.18, 0.70, 0.00, 1.05, 0.75, 0.60), "CH", False, _POSTALV),
    "JH": _p((0.08, 0.18, 0.70, 0.00, 1.05, 0.75, 0.60), "CH", True, _POSTALV),
    "HH": _p((0.40, 0.40, 0.00, 0.30, 0.30, 0.50, 0.50), "E", False, {}),
    # approximants
    "L": _p((0.22, 0.30, 0.00, 0.30, 1.05, 0.45, 0.55), "nn", True, {TT: 4.0, J: 0.8}),
    "R": _p((0.18, 0.18, 0.60, 0.00, 0.75, 0.60, 0.40), "RR", True, {TT: 2.5, PR: 2.5, LA: 1.5}),
    "W": _p((0.12, 0.04, 1.10, 0.00, 0.25, 0.85, 0.20), "ou", True, {LA: 6.0, PR: 5.0, TB: 1.0}),
    "Y": _p((0.10, 0.22, 0.00, 0.70, 0.50, 1.05, 1.00), "ih", True, {TB: 4.0, TF: 4.0, SP: 1.5}),
    # silence: mouth relaxed, lips lightly closed
    "SIL": _p((0.04, -0.05, 0.10, 0.20, 0.25, 0.45, 0.45), "sil", False, {J: 0.8, LA: 0.8, PR: 0.4, SP: 0.4}),
}

# The speech-ready posture of a pause (dynamics' pause_posture): SIL's targets with the jaw and lips
# slightly apart (1.4 mm at the incisors, 1.8 mm between the lips).
PAUSE_CONTROLS = (0.10, 0.10) + PHONES["SIL"].controls[2:]

DIPHTHONGS: dict[str, tuple[str, str]] = {
    "AY": ("AA", "IH"),
    "AW": ("AA", "UH"),
    "EY": ("EH", "IY"),
    "OW": ("OH", "UH"),
    "OY": ("AO", "IY"),
}

# Spellings the CMU dictionary and pocketsphinx use for the same sounds.
_ALIASES: dict[str, str] = {"SIL": "SIL", "SP": "SIL", "+SPN+": "SIL", "+NSN+": "SIL", "AXR": "ER", "IX": "IH"}


def normalize_phone(phone: str) -> str:
    """Map an ARPAbet phone (any case, optional stress digit) to a key of PHONES or DIPHTHONGS.

    Unstressed AH (``AH0`` in CMU) is the schwa ``AX``. Raises ConfigError for unknown phones.
    """
    p = phone.strip().upper()
    stress = p[-1] if p and p[-1].isdigit() else ""
    p = p.rstrip("012")
    if p == "AH" and stress == "0":
        return "AX"
    p = _ALIASES.get(p, p)
    if p in PHONES or p in DIPHTHONGS:
        return p
    if p.startswith("+") or p in ("", "<S>", "</S>"):
        return "SIL"
    raise ConfigError(f"phone {phone!r} is not an ARPAbet phone")


# Linear map controls -> EMA mm (rows: EMA_NAMES, columns: CONTROL_NAMES), plus a bias so that
# the rest posture (SIL's controls) sits near 0. Jaw opening of 1 lowers the incisor 14 mm; a lip
# aperture of 1 is 18 mm split 1:3 between upper and lower lip (upper-lip y minus lower-lip y
# is exactly 18 * lip_aperture, the quantity MNGU0's lip aperture measures).
_EMA_FROM_CONTROLS = np.array(
    [
        # jaw   lip   pro   spr   tip   body  front
        [-2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # li_x
        [-14.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # li_y
        [0.0, 0.0, 4.0, -1.0, 0.0, 0.0, 0.0],  # ul_x
        [0.0, 4.5, 0.5, -0.5, 0.0, 0.0, 0.0],  # ul_y
        [-1.0, 0.0, 5.0, -1.5, 0.0, 0.0, 0.0],  # ll_x
        [0.0, -13.5, 0.5, -0.5, 0.0, 0.0, 0.0],  # ll_y
        [-1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 6.0],  # tt_x
        [-8.0, 0.0, 0.0, 0.0, 12.0, 2.0, 0.0],  # tt_y
        [-1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 7.0],  # tb_x
        [-7.0, 0.0, 0.0, 0.0, 1.5, 11.0, 1.0],  # tb_y
        [-0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 6.0],  # td_x
        [-5.0, 0.0, 0.0, 0.0, 0.0, 12.0, -2.0],  # td_y
    ],
    dtype=np.float32,
)
_REST = np.array(PHONES["SIL"].controls, dtype=np.float32).clip(0.0, 1.0)
_EMA_BIAS = -(_EMA_FROM_CONTROLS @ _REST)


def controls_to_ema(controls: F32) -> F32:
    """EMA (n, 12) mm relative to the rest posture, from clipped controls (n, 7)."""
    out: F32 = (controls @ _EMA_FROM_CONTROLS.T + _EMA_BIAS).astype(np.float32)
    return out


_CONTROLS_FROM_EMA = np.linalg.pinv(_EMA_FROM_CONTROLS).astype(np.float32)


def ema_to_controls(ema: F32) -> F32:
    """Controls (n, 7), clipped to 0..1, that best explain EMA (n, 12) mm in least squares.

    The inverse of ``controls_to_ema`` for articulation that arrives as EMA only (e.g. a
    wav2avatar linear head); exact for EMA that ``controls_to_ema`` produced from 0..1 controls.
    """
    out: F32 = ((ema - _EMA_BIAS) @ _CONTROLS_FROM_EMA.T).clip(0.0, 1.0).astype(np.float32)
    return out
