"""Streaming log-mel features with causal running normalisation (pure numpy).

Frame t (100 Hz) is computed from the 25 ms window that ENDS at the end of hop t, i.e. samples
[(t + 1) * 160 - 400, (t + 1) * 160) at 16 kHz (zeros before the stream start), so a frame is
ready as soon as its hop has arrived: the features add no look-ahead. Each band is normalised
by an exponential running mean and variance (time constant ``NORM_TAU_S``) started from the
training corpus' global statistics, so a new microphone or voice is adapted to within a few
seconds without ever looking ahead. Frames more than ``_GATE_NATS`` below the running level
(pauses) update the statistics 20 times more slowly, and once a pause has stayed flat (no frame
``_FLAT_NATS`` above its quietest) for ``FREEZE_AFTER_S``, not at all: minutes of silence keep looking
quiet, and speech after them is normalised as before the pause. Quiet speech is not flat (its
syllables rise above the gaps between them), so a speaker who moves away is still followed.
Streaming and offline run the same per-frame recursion, so they agree exactly.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bridge.errors import AudioError
from bridge.frames import F32

SAMPLE_RATE_HZ = 16000
HOP = 160
WIN = 400
N_FFT = 512
N_MELS = 40
FMIN_HZ = 60.0
FMAX_HZ = 7600.0
NORM_TAU_S = 2.0
_ALPHA = 1.0 - float(np.exp(-HOP / SAMPLE_RATE_HZ / NORM_TAU_S))
_VAR_FLOOR = 0.25
_GATE_NATS = 2.5  # about 11 dB below the running mean level
_QUIET_RATE = 0.05
FREEZE_AFTER_S = 6.0  # longer than any flat pause in the training corpus (4.5 s at most), so training is unchanged
_FREEZE_ROWS = round(FREEZE_AFTER_S * SAMPLE_RATE_HZ / HOP)
_FLAT_NATS = 1.4  # about 6 dB: a syllable of quiet speech rises further above the gaps around it
_POWER_FLOOR = 1e-8
F64 = npt.NDArray[np.float64]


def hz_to_mel(f: F64) -> F64:
    out: F64 = 2595.0 * np.log10(1.0 + f / 700.0)
    return out


def mel_to_hz(m: F64) -> F64:
    out: F64 = 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return out


def mel_filterbank(warp: float = 1.0) -> F64:
    """(N_MELS, N_FFT // 2 + 1) triangular mel filters; ``warp`` != 1 scales their centre frequencies.

    Scaling the filter frequencies by ``warp`` imitates a vocal tract ``1 / warp`` times as long
    (vocal-tract-length perturbation); training uses it for augmentation, the runtime uses 1.
    """
    edges = mel_to_hz(np.linspace(hz_to_mel(np.array(FMIN_HZ)), hz_to_mel(np.array(FMAX_HZ)), N_MELS + 2))
    edges = np.clip(edges * warp, 0.0, SAMPLE_RATE_HZ / 2 - 1.0)
    bins = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE_HZ)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins[None, :] - lo) / np.maximum(mid - lo, 1e-6)
    down = (hi - bins[None, :]) / np.maximum(hi - mid, 1e-6)
    fb = np.maximum(0.0, np.minimum(up, down))
    return fb / np.maximum(fb.sum(axis=1, keepdims=True), 1e-9)  # type: ignore[no-any-return]


_WINDOW = np.hanning(WIN + 2)[1:-1]


def envelope_map(n_coeffs: int) -> F64:
    """(N_MELS, N_MELS) map that keeps the first ``n_coeffs`` cepstral coefficients of a log-mel row.

    Right-multiplying log-mel rows by it is a DCT-II, a lifter that zeroes the higher quefrencies
    and the inverse DCT: the spectral envelope (formants, set by articulation) stays, the ripple of
    the voice's harmonics (set by its source, not by the mouth) goes.
    """
    k = np.arange(N_MELS)
    dct = np.sqrt(2.0 / N_MELS) * np.cos(np.pi * (k[:, None] + 0.5) * k[None, :] / N_MELS)  # (bands, coeffs)
    dct[:, 0] /= np.sqrt(2.0)
    keep = (k < n_coeffs).astype(np.float64)
    return (dct * keep) @ dct.T  # type: ignore[no-any-return]


def log_mel_frames(padded: F64, n_frames: int, fbank: F64) -> F64:
    """Raw log-mel of ``n_frames`` consecutive frames; ``padded`` starts WIN - HOP samples early."""
    idx = np.arange(WIN)[None, :] + HOP * np.arange(n_frames)[:, None]
    frames = padded[idx] * _WINDOW
    power = np.abs(np.fft.rfft(frames, N_FFT, axis=1)) ** 2
    out: F64 = np.log(power @ fbank.T + _POWER_FLOOR)
    return out


class _PauseGate:
    """The normaliser's update rate row by row: full in speech, slow in a pause, none in a long flat pause."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._flat_rows = 0  # rows of the current pause since it last rose _FLAT_NATS above its quietest
        self._pause_min = 0.0

    def rate(self, row_mean: float, level: float) -> float:
        if row_mean > level - _GATE_NATS:
            self._flat_rows = 0
            return _ALPHA
        if self._flat_rows == 0 or row_mean > self._pause_min + _FLAT_NATS:
            self._flat_rows, self._pause_min = 0, row_mean
        self._pause_min = min(self._pause_min, row_mean)
        self._flat_rows += 1
        return 0.0 if self._flat_rows > _FREEZE_ROWS else _ALPHA * _QUIET_RATE


class RunningNormaliser:
    """Per-column exponential running mean (and variance) with the pause gate; causal, any block size.

    Args:
        prior_mean: per-column mean it starts from (training corpus statistics).
        prior_var: per-column variance it starts from.
        scale: divide by the running standard deviation too; False only subtracts the mean.
    """

    def __init__(self, prior_mean: F64, prior_var: F64, scale: bool = True) -> None:
        self._prior_mean = np.asarray(prior_mean, dtype=np.float64)
        self._prior_sq = self._prior_mean**2 + np.asarray(prior_var, dtype=np.float64)
        self._scale = scale
        self._gate = _PauseGate()
        self.reset()

    def reset(self) -> None:
        self._gate.reset()
        self._mean = self._prior_mean.copy()
        self._sq = self._prior_sq.copy()

    def __call__(self, raw: F64) -> F64:
        """Advance over raw rows (n, columns) and return them normalised."""
        # Frames far below the running level are pauses: adapt to them only slowly, so that a long
        # silence stays "quiet" instead of becoming the new normal. The running level (the mean over
        # columns of the running mean) follows the same update, so the gate is a scalar recurrence.
        if raw.shape[0] == 1:
            return self._one_row(raw)
        row_level = raw.mean(axis=1)
        rates = np.empty(raw.shape[0])
        level = float(self._mean.mean())
        for t, row_mean in enumerate(row_level.tolist()):
            rate = self._gate.rate(row_mean, level)
            level += rate * (row_mean - level)
            rates[t] = rate
        out = np.empty(raw.shape)
        for start in range(0, raw.shape[0], _CHUNK):
            rows = raw[start : start + _CHUNK]
            r = rates[start : start + _CHUNK, None]
            mean = _ewma(self._mean, rows, r)
            if self._scale:
                sq = _ewma(self._sq, rows * rows, r)
                out[start : start + _CHUNK] = (rows - mean) / np.sqrt(np.maximum(sq - mean * mean, _VAR_FLOOR))
                self._sq = sq[-1]
            else:
                out[start : start + _CHUNK] = rows - mean
            self._mean = mean[-1]
        return out

    def _one_row(self, raw: F64) -> F64:
        """One row (the live path's 10 ms hop): the same arithmetic as ``_ewma`` without its array set-up,
        which cost several times the work; the result is bit for bit the same."""
        row = raw[0]
        level = float(self._mean.mean())
        rate = self._gate.rate(float(raw.mean(axis=1)[0]), level)
        keep = 1.0 - rate
        self._mean = mean = keep * (self._mean + rate * row / keep)
        if not self._scale:
            return (row - mean)[None, :]  # type: ignore[no-any-return]
        self._sq = sq = keep * (self._sq + rate * (row * row) / keep)
        return ((row - mean) / np.sqrt(np.maximum(sq - mean * mean, _VAR_FLOOR)))[None, :]  # type: ignore[no-any-return]


class HopBuffer:
    """Cuts a stream of any block sizes into whole 10 ms hops and keeps the tail a window needs.

    Args:
        win: window length in samples; each frame's window ends at the end of its hop.
    """

    def __init__(self, win: int) -> None:
        self._win = win
        self.reset()

    def reset(self) -> None:
        self._tail = np.zeros(self._win - HOP)
        self._pending = np.zeros(0)

    def push(self, samples: npt.NDArray[np.floating]) -> F64:
        """The samples of every hop ``samples`` completes (a multiple of HOP; the rest waits)."""
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim != 1:
            raise AudioError(f"expected mono samples, got shape {x.shape}")
        buf: F64 = np.concatenate([self._pending, x])
        n = buf.size // HOP
        self._pending = buf[n * HOP :]
        return buf[: n * HOP]

    def window(self, hops: F64) -> F64:
        """``hops`` (as pushed, or filtered sample by sample) preceded by the tail of the earlier ones."""
        padded: F64 = np.concatenate([self._tail, hops])
        self._tail = padded[-(self._win - HOP) :]
        return padded


class StreamingLogMel:
    """Causal log-mel with running normalisation; ``process`` takes any block size.

    Args:
        prior_mean: per-band mean the normaliser starts from (training corpus statistics).
        prior_var: per-band variance it starts from.
        warp: vocal-tract-length warp of the filterbank (1.0 outside training).
        envelope_coeffs: when above 0, every log-mel row is smoothed to its first
            ``envelope_coeffs`` cepstral coefficients (``envelope_map``) before normalisation.
    """

    def __init__(self, prior_mean: F64, prior_var: F64, warp: float = 1.0, envelope_coeffs: int = 0) -> None:
        self._norm = RunningNormaliser(prior_mean, prior_var)
        self._fbank = mel_filterbank(warp)
        self._envelope = envelope_map(envelope_coeffs) if envelope_coeffs else None
        self._hops = HopBuffer(WIN)
        self.reset()

    def reset(self) -> None:
        self._hops.reset()
        self._norm.reset()

    def process(self, samples: npt.NDArray[np.floating]) -> F32:
        """Normalised features (n, N_MELS) for every hop completed by ``samples`` (16 kHz mono)."""
        hops = self._hops.push(samples)
        if hops.size == 0:
            return np.zeros((0, N_MELS), dtype=np.float32)
        raw = log_mel_frames(self._hops.window(hops), hops.size // HOP, self._fbank)
        if self._envelope is not None:
            raw = raw @ self._envelope
        return self.normalise(raw)

    def normalise(self, raw: F64) -> F32:
        """Advance the running normaliser over raw log-mel rows and return them normalised."""
        return self._norm(raw).astype(np.float32)


_CHUNK = 256  # (1 - alpha)^256 stays far from underflow, so the closed form below is exact to ~1e-12


def _ewma(start: F64, rows: F64, rates: F64) -> F64:
    """m_t = m_{t-1} + rate_t (x_t - m_{t-1}) for every t, in closed form: m_t = P_t (m_0 + sum rate_s x_s / P_s)."""
    keep = np.cumprod(1.0 - rates, axis=0)
    return keep * (start + np.cumsum(rates * rows / keep, axis=0))  # type: ignore[no-any-return]


def raw_log_mel(samples: npt.NDArray[np.floating], warp: float = 1.0, envelope_coeffs: int = 0) -> F64:
    """Un-normalised log-mel of a whole signal (for corpus statistics), smoothed as StreamingLogMel does."""
    x = np.asarray(samples, dtype=np.float64)
    n = x.size // HOP
    padded = np.concatenate([np.zeros(WIN - HOP), x[: n * HOP]])
    raw = log_mel_frames(padded, n, mel_filterbank(warp))
    return raw @ envelope_map(envelope_coeffs) if envelope_coeffs else raw


def offline_features(samples: npt.NDArray[np.floating], prior_mean: F64, prior_var: F64, warp: float = 1.0) -> F32:
    """The features StreamingLogMel yields for the whole signal in one call."""
    return StreamingLogMel(prior_mean, prior_var, warp).process(samples)


__all__ = [
    "F32",
    "HOP",
    "HopBuffer",
    "N_MELS",
    "SAMPLE_RATE_HZ",
    "RunningNormaliser",
    "StreamingLogMel",
    "envelope_map",
    "hz_to_mel",
    "mel_to_hz",
    "offline_features",
    "raw_log_mel",
]
