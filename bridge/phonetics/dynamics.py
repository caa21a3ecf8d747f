"""Coarticulation: timed phones to smooth 100 Hz articulator trajectories (dominance functions).

Cohen & Massaro's dominance model: every phone segment i exerts on control k a dominance
``D_ik(t) = strength_ik * exp(-d_i(t) / tau_k)``, where ``d_i(t)`` is the distance in seconds from
t to the segment (0 inside it). The trajectory is the dominance-weighted mean of the targets,
``x_k(t) = sum_i D_ik(t) T_ik / sum_i D_ik(t)``, clipped to 0..1. Neighbouring phones pull each
other (undershoot, anticipation and carry-over); a strongly dominant phone (lip closure of p/b/m,
lip-teeth contact of f/v, tongue tip of t/d/n/s) holds its target while weak ones (the lips during
/k/, everything during /h/) take their neighbours' values. Targets beyond 0..1 (p/b/m aim below
closure) produce a contact plateau after clipping. Visemes and voicing are blended the same way
with short time constants, so they stay crisp but never jump.

With ``pause_posture`` (the default), a pause is not the closed rest posture from its first frame: speakers hold a
speech-ready posture between phrases, lips and jaw slightly apart (the inter-speech posture of Gick
et al. 2004, Phonetica 61), and only relax to rest in a longer silence. Pause targets hold
``PAUSE_CONTROLS`` for ``PAUSE_HOLD_S`` after the pause starts (or after the stream starts), then
approach the SIL rest with time constant ``PAUSE_RELAX_S``. The start of a stream counts as a pause
start because a recording usually starts just before someone speaks.
"""

from __future__ import annotations

import numpy as np

from bridge.errors import ConfigError
from bridge.frames import VISEMES, ModelOutput
from bridge.phonetics.table import DIPHTHONGS, PAUSE_CONTROLS, PHONES, controls_to_ema, normalize_phone

FRAME_S = 0.01
# Per-control time constants (s): lips and tongue tip move fastest, the jaw and tongue body slower.
TAU_S = np.array([0.045, 0.025, 0.050, 0.045, 0.030, 0.045, 0.045])
_VISEME_TAU_S = 0.02
_VOICING_TAU_S = 0.008
_REACH = 6.0  # a phone's influence is cut after _REACH time constants (exp(-6) = 0.25 %)
PAUSE_HOLD_S = 0.5
PAUSE_RELAX_S = 0.5
_REST = np.asarray(PHONES["SIL"].controls)
_PAUSE = np.asarray(PAUSE_CONTROLS)

_VISEME_ROW = {v: i for i, v in enumerate(VISEMES)}


def expand_segments(phones: list[tuple[str, float, float]], end_s: float) -> list[tuple[str, float, float]]:
    """Normalise phone names, split diphthongs into two halves and fill every gap with SIL.

    Args:
        phones: (ARPAbet phone, start_s, end_s), in time order.
        end_s: duration of the stream; the trailing gap becomes SIL.

    Raises:
        ConfigError: an unknown phone or a segment that ends before it starts.
    """
    out: list[tuple[str, float, float]] = []
    t = 0.0
    for name, start_s, stop_s in phones:
        if stop_s < start_s:
            raise ConfigError(f"phone {name!r} ends ({stop_s}) before it starts ({start_s})")
        key = normalize_phone(name)
        if start_s > t + 1e-6:
            out.append(("SIL", t, start_s))
        if key in DIPHTHONGS:
            mid = 0.5 * (start_s + stop_s)
            first, second = DIPHTHONGS[key]
            out += [(first, start_s, mid), (second, mid, stop_s)]
        else:
            out.append((key, start_s, stop_s))
        t = max(t, stop_s)
    if end_s > t + 1e-6:
        out.append(("SIL", t, end_s))
    return out


def _pause_targets(t: np.ndarray, start_s: float, stop_s: float, pause_start_s: float) -> np.ndarray:
    """(len(t), 7) control targets of a pause segment: speech-ready, then relaxing to rest."""
    since_s = np.clip(t, start_s, stop_s) - pause_start_s
    w = np.exp(-np.maximum(since_s - PAUSE_HOLD_S, 0.0) / PAUSE_RELAX_S)
    return _REST + w[:, None] * (_PAUSE - _REST)  # type: ignore[no-any-return]


def phones_to_model_output(
    phones: list[tuple[str, float, float]],
    n_frames: int | None = None,
    frame_index: int = 0,
    pause_posture: bool = True,
) -> ModelOutput:
    """Articulation for timed phones, in the acoustic model's output format (100 Hz rows).

    Args:
        phones: (ARPAbet phone, start_s, end_s) from stream start, in time order; stress digits
            allowed (CMU ``AH0`` is the schwa), ``SIL``/``SP`` mark pauses, gaps are silence.
        n_frames: rows to produce; default covers the last phone.
        frame_index: index of the first row (row i describes (frame_index + i) * 0.01 + 0.005 s).
        pause_posture: pauses hold the speech-ready posture before relaxing (module doc); off,
            every pause aims at the closed rest posture (what models before v3 were trained on).

    Returns:
        ModelOutput with EMA (mm), controls, viseme probabilities and voicing.
    """
    last_s = max((p[2] for p in phones), default=0.0)
    if n_frames is None:
        n_frames = int(np.ceil(last_s / FRAME_S))
    t0 = frame_index * FRAME_S
    segments = expand_segments(phones, max(last_s, t0 + n_frames * FRAME_S))
    times = t0 + (np.arange(n_frames) + 0.5) * FRAME_S
    n_ctrl = len(TAU_S)
    num = np.zeros((n_frames, n_ctrl))
    den = np.zeros((n_frames, n_ctrl))
    vis_num = np.zeros((n_frames, len(VISEMES)))
    vis_den = np.zeros(n_frames)
    voi_num = np.zeros(n_frames)
    voi_den = np.zeros(n_frames)
    reach_s = _REACH * float(TAU_S.max())
    pause_start_s = 0.0
    previous = "SIL"
    for key, start_s, stop_s in segments:
        if key == "SIL" and previous != "SIL":
            pause_start_s = start_s
        previous = key
        lo = int(np.searchsorted(times, start_s - reach_s))
        hi = int(np.searchsorted(times, stop_s + reach_s))
        if hi <= lo:
            continue
        t = times[lo:hi]
        dist = np.maximum(np.maximum(start_s - t, t - stop_s), 0.0)
        target = PHONES[key]
        dom = np.asarray(target.strength) * np.exp(-dist[:, None] / TAU_S)
        goal = _pause_targets(t, start_s, stop_s, pause_start_s) if key == "SIL" and pause_posture else target.controls
        num[lo:hi] += dom * np.asarray(goal)
        den[lo:hi] += dom
        vis_strength = 0.15 if key == "HH" else 1.0
        vdom = vis_strength * np.exp(-dist / _VISEME_TAU_S)
        vis_num[lo:hi, _VISEME_ROW[target.viseme]] += vdom
        vis_den[lo:hi] += vdom
        wdom = np.exp(-dist / _VOICING_TAU_S)
        voi_num[lo:hi] += wdom * float(target.voiced)
        voi_den[lo:hi] += wdom
    controls = np.clip(num / np.maximum(den, 1e-12), 0.0, 1.0).astype(np.float32)
    visemes = (vis_num / np.maximum(vis_den, 1e-12)[:, None]).astype(np.float32)
    voicing = (voi_num / np.maximum(voi_den, 1e-12)).astype(np.float32)
    if n_frames and not np.all(den > 0):
        raise ConfigError("phones do not cover the requested frames")
    return ModelOutput(
        frame_index=frame_index,
        ema=controls_to_ema(controls),
        controls=controls,
        visemes=visemes,
        voicing=voicing,
    )
