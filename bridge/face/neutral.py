"""The speaker's neutral (rest) articulation, estimated online from their own speech.

An unseen voice moves the model's output away from its canonical neutral (a voice the model reads as
"slightly open" would never close its mouth). Each raw channel gets a rest value from a quantile of
that speaker's frames: the low percentile of jaw opening and lip aperture (the closures and pauses
inside speech), the high percentile of the lower incisor and lower lip height, the median of the
tongue and of the x coordinates. The first ``calibrate_s`` seconds of speech give an exact quantile;
after that a stochastic quantile tracker keeps adapting slowly, so drift in the voice is followed
without letting one phrase move the rest pose.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bridge.face.solver import Articulation, gate_visemes, rounding_narrowing
from bridge.frames import CONTROL_NAMES, EMA_NAMES, F32, ArticulationFrame

# Quantile that marks "rest" for each raw channel, controls then EMA.
_CONTROL_Q = {
    "jaw_open": 0.05, "lip_aperture": 0.05, "lip_protrusion": 0.10, "lip_spread": 0.10,
    "tongue_tip_height": 0.5, "tongue_body_height": 0.5, "tongue_body_front": 0.5,
}  # fmt: skip
_EMA_Q = {"li_y": 0.95, "ul_y": 0.05, "ll_y": 0.95}  # jaw up, lips together; others: median
# Lip protrusion and spreading are also scaled by the speaker's own range (their 90th percentile maps
# to SHAPE_PEAK): the model's rounding and spreading ranges vary a lot between voices, and these
# channels do not enter the mouth opening. Jaw and aperture keep the model's scale (a gain that moves
# while it is being learnt would distort the opening track). MIN_SPAN bounds the gain.
_RANGED = (2, 3)
HIGH_Q = 0.9
SHAPE_PEAK = 0.7
MIN_SPAN = 0.05
QUANTILES = np.array(
    [_CONTROL_Q[n] for n in CONTROL_NAMES] + [_EMA_Q.get(n, 0.5) for n in EMA_NAMES] + [HIGH_Q] * len(_RANGED),
    dtype=np.float32,
)
_PRIOR = np.array(
    [0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.5] + [0.0] * len(EMA_NAMES) + [SHAPE_PEAK] * len(_RANGED), dtype=np.float32
)
_N_CONTROLS = len(CONTROL_NAMES)
_N_EMA = len(EMA_NAMES)
SPEECH_VA = 0.5  # frames at or above this voice activity count as the speaker's speech
MIN_FRAMES = 20  # speech frames before the estimate starts to move off the prior
ADAPT_RATE = 0.002  # per frame, in units of the channel's spread: about 10 % of the spread per 5 s
_REFRESH_FRAMES = 5


def _sorted_quantile(srt: F32, qs: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """Per-column quantile qs[k] of column-sorted data, interpolated like np.quantile's default."""
    pos = qs.astype(np.float64) * (srt.shape[0] - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, srt.shape[0] - 1)
    cols = np.arange(srt.shape[1])
    frac = pos - lo
    return srt[lo, cols] * (1.0 - frac) + srt[hi, cols] * frac  # type: ignore[no-any-return]


class SpeakerNeutral:
    """Online rest-pose estimate of one speaker; ``normalize`` turns a raw frame into an Articulation."""

    def __init__(self, calibrate_s: float) -> None:
        self.calibrate_frames = max(MIN_FRAMES, round(calibrate_s * 100))
        self._buffer = np.zeros((self.calibrate_frames, QUANTILES.size), dtype=np.float32)
        self._n = 0
        self.rest = _PRIOR.copy()
        self._spread = np.full(QUANTILES.size, 0.1, dtype=np.float32)
        self._step = (ADAPT_RATE * self._spread).astype(np.float32)
        self._x = np.zeros(QUANTILES.size, dtype=np.float32)
        self._calibrated = False

    @property
    def calibrated(self) -> bool:
        """True once a full ``calibrate_s`` of speech has been seen since the last (re)calibration."""
        return self._calibrated

    def recalibrate(self) -> None:
        """Start a new estimate from the next ``calibrate_s`` of speech; the current rest is kept until then."""
        self._n = 0
        self._calibrated = False

    def reset(self) -> None:
        self.recalibrate()
        self.rest = _PRIOR.copy()

    def update(self, frame: ArticulationFrame) -> None:
        if frame.voice_activity < SPEECH_VA:
            return
        x = self._buffer[self._n] if not self._calibrated else self._x
        x[:_N_CONTROLS] = frame.controls
        x[_N_CONTROLS : _N_CONTROLS + _N_EMA] = frame.ema
        x[_N_CONTROLS + _N_EMA :] = frame.controls[_RANGED[0] : _RANGED[-1] + 1]
        if not self._calibrated:
            self._n += 1
            if self._n == self.calibrate_frames:
                self._estimate(1.0)
                self._calibrated = True
            elif self._n >= MIN_FRAMES and self._n % _REFRESH_FRAMES == 0:
                self._estimate(self._n / self.calibrate_frames)
            return
        # Stochastic quantile tracking: step up with probability (1 - q), down with probability q.
        self.rest += self._step * (QUANTILES - (x < self.rest))

    def _estimate(self, confidence: float) -> None:
        # One sort serves every per-channel quantile (numpy's default linear interpolation): this runs
        # every few frames while calibrating, and a quantile call per channel dominated the solver's cost.
        srt = np.sort(self._buffer[: self._n], axis=0)
        q = _sorted_quantile(srt, QUANTILES).astype(np.float32)
        lo = _sorted_quantile(srt, np.full(QUANTILES.size, 0.1))
        hi = _sorted_quantile(srt, np.full(QUANTILES.size, 0.9))
        self._spread = np.maximum(hi - lo, 1e-3).astype(np.float32)
        self._step = (ADAPT_RATE * self._spread).astype(np.float32)
        self.rest = (self.rest + np.float32(confidence) * (q - self.rest)).astype(np.float32)

    def normalize(self, frame: ArticulationFrame) -> Articulation:
        """Raw frame -> speaker-relative articulation, scaled toward rest by voice activity."""
        # Python floats: a dozen scalar expressions per 10 ms frame cost far less than numpy scalars.
        c: list[float] = frame.controls.tolist()
        r: list[float] = self.rest.tolist()
        va = float(min(1.0, max(0.0, frame.voice_activity)))
        high = r[_N_CONTROLS + _N_EMA :]

        def above(k: int) -> float:
            # Distance from rest, rescaled so the channel still spans 0..1 above it.
            return va * min(1.0, max(0.0, (c[k] - r[k]) / max(1e-3, 1.0 - r[k])))

        def shape(k: int, h: int) -> float:
            span = max(MIN_SPAN, high[h] - r[k])
            return va * min(1.0, max(0.0, (c[k] - r[k]) / span * SHAPE_PEAK))

        def centred(k: int) -> float:
            return va * min(1.0, max(-1.0, 2.0 * (c[k] - r[k])))

        protrusion, spread = shape(2, 0), shape(3, 1)
        return Articulation(
            jaw=above(0),
            aperture=above(1),
            protrusion=protrusion,
            spread=spread,
            tongue_tip_up=centred(4),
            tongue_body_up=centred(5),
            tongue_front=centred(6),
            visemes=gate_visemes(frame.visemes, va),
            voice=va,
            narrowing=rounding_narrowing(protrusion, spread),
        )

    def ema_offset(self, frame: ArticulationFrame) -> F32:
        """EMA in mm from this speaker's neutral, scaled toward 0 by voice activity."""
        va = np.float32(min(1.0, max(0.0, frame.voice_activity)))
        rest = self.rest[_N_CONTROLS : _N_CONTROLS + _N_EMA]
        return (va * (frame.ema.astype(np.float32) - rest)).astype(np.float32)
