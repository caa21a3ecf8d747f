"""Streaming frame-level phone posteriors from a real-speech acoustic model (pure numpy).

The articulation network is trained on synthetic voices only. To give it evidence learnt from real
speakers, it also reads, per 10 ms frame, the posterior of each of the 42 context-independent phones
of CMU Sphinx's US English acoustic model (the phonetically-tied mixture model that ships in the
pocketsphinx wheel, trained on real speech; BSD licence, docs/model.md). Only its
context-independent part is used: 42 codebooks of 128 diagonal Gaussians per feature stream and the
mixture weights of each phone's three states. The arrays travel inside the weights file, so the live
path needs neither pocketsphinx nor torch.

Front end as Sphinx's (feat.params of that model): 16-bit sample scale, pre-emphasis 0.97, 410-sample
Hamming window, 512-point FFT, 25 unit-area mel filters 130-6800 Hz rounded to FFT bins, natural log,
unitary DCT-II to 13 cepstra, sinusoidal lifter 22; streams c, delta (c[t+2] - c[t-2]) and
double delta ((c[t+3] - c[t+1]) - (c[t-1] - c[t-3])). Differences from Sphinx, made for a causal
stream: cepstral mean normalisation is the running, pause-gated mean of ``RunningNormaliser``
started from the training corpus' mean, and every Gaussian of a codebook is summed, not the top 4.

Timing: frame t's window ends at the end of hop t, like the log-mel's, and its deltas need frame
t + 3, so the row released with hop t is frame ``t - DELAY_FRAMES``'s posterior (frames before the
stream start are the corpus-mean spectrum). Streaming and offline run the same arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bridge.errors import ModelError
from bridge.features.logmel import HOP, SAMPLE_RATE_HZ, HopBuffer, RunningNormaliser, hz_to_mel, mel_to_hz
from bridge.frames import F32

N_PHONES = 42
N_STREAMS = 3
N_CEPS = 13
DELAY_FRAMES = 3
WIN = 410
N_FFT = 512
N_FILTERS = 25
FMIN_HZ = 130.0
FMAX_HZ = 6800.0
_LIFTER = 22
_PREEMPHASIS = 0.97
_INT16_SCALE = 32768.0
_POWER_FLOOR = 1e-5
# Log posteriors below this carry no more information and would dominate the input scale.
_LOG_FLOOR = -10.0
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PhoneModel:
    """The context-independent part of a Sphinx PTM acoustic model.

    Attributes:
        means: (3 streams, 42 phones, 128, 13) Gaussian means.
        inv_var: same shape, inverse variances (floored).
        weights: (3, 42, 128, 3 states) mixture weights of each phone's states.
        phones: the 42 phone names in Sphinx's order.
    """

    means: F32
    inv_var: F32
    weights: F32
    phones: tuple[str, ...]

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """Arrays for the weights file (names prefixed ``am_``)."""
        return {
            "am_means": self.means,
            "am_inv_var": self.inv_var,
            "am_weights": self.weights,
            "am_phones": np.array(self.phones),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[np.generic]]) -> PhoneModel:
        try:
            means = np.asarray(arrays["am_means"], dtype=np.float32)
            inv_var = np.asarray(arrays["am_inv_var"], dtype=np.float32)
            weights = np.asarray(arrays["am_weights"], dtype=np.float32)
            phones = tuple(str(p) for p in arrays["am_phones"])
        except KeyError as e:
            raise ModelError(f"weights file lacks the phone model array {e}") from e
        shape = (N_STREAMS, N_PHONES, means.shape[2], N_CEPS)
        if means.shape != shape or inv_var.shape != shape or weights.shape != shape[:3] + (3,):
            raise ModelError(f"phone model arrays have shapes {means.shape}, {inv_var.shape}, {weights.shape}")
        return cls(means, inv_var, weights, phones)


def sphinx_filterbank(warp: float = 1.0) -> F64:
    """(25, 257) unit-area triangles, edges rounded to FFT bins; ``warp`` scales the edges (VTLN)."""
    step_hz = SAMPLE_RATE_HZ / N_FFT
    mels = np.linspace(hz_to_mel(np.array(FMIN_HZ)), hz_to_mel(np.array(FMAX_HZ)), N_FILTERS + 2)
    edges = np.round(np.minimum(mel_to_hz(mels) * warp, SAMPLE_RATE_HZ / 2 - step_hz) / step_hz) * step_hz
    bins = np.arange(N_FFT // 2 + 1) * step_hz
    left, mid, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (bins - left) / np.maximum(mid - left, step_hz)
    fall = (right - bins) / np.maximum(right - mid, step_hz)
    out: F64 = np.clip(np.minimum(rise, fall), 0.0, None) * 2.0 / np.maximum(right - left, step_hz)
    return out


_HAMMING = 0.54 - 0.46 * np.cos(2.0 * np.pi * np.arange(WIN) / (WIN - 1))
_DCT = np.cos(np.pi / N_FILTERS * np.arange(N_CEPS)[:, None] * (np.arange(N_FILTERS)[None, :] + 0.5))
_DCT *= np.sqrt(2.0 / N_FILTERS)
_DCT[0] *= np.sqrt(0.5)
_DCT *= (1.0 + _LIFTER / 2.0 * np.sin(np.arange(N_CEPS) * np.pi / _LIFTER))[:, None]


def log_filterbank_frames(padded: F64, n_frames: int, fbank: F64) -> F64:
    """Raw log filterbank energies of ``n_frames`` frames; ``padded`` (pre-emphasised) starts WIN - HOP early."""
    idx = np.arange(WIN)[None, :] + HOP * np.arange(n_frames)[:, None]
    power = np.abs(np.fft.rfft(padded[idx] * _HAMMING, N_FFT, axis=1)) ** 2
    out: F64 = np.log(np.maximum(power @ fbank.T, _POWER_FLOOR))
    return out


def _preemphasise(x: F64, prev: float) -> F64:
    out: F64 = x * _INT16_SCALE - np.concatenate([[prev], x[:-1] * _INT16_SCALE]) * _PREEMPHASIS
    return out


def raw_log_filterbank(samples: npt.NDArray[np.floating], warp: float = 1.0) -> F64:
    """Un-normalised log filterbank energies of a whole signal (for corpus statistics)."""
    x = np.asarray(samples, dtype=np.float64)
    n = x.size // HOP
    padded = np.concatenate([np.zeros(WIN - HOP), _preemphasise(x[: n * HOP], 0.0)])
    return log_filterbank_frames(padded, n, sphinx_filterbank(warp))


class PhoneScorer:
    """Log posteriors of the 42 phones for rows of the three feature streams."""

    def __init__(self, model: PhoneModel) -> None:
        iv = model.inv_var.astype(np.float64)
        mu = model.means.astype(np.float64)
        # log N(z) = const + z^2 . (-iv / 2) + z . (mu iv), one matrix product per stream.
        self._proj = [
            np.concatenate([-0.5 * iv[f].reshape(-1, N_CEPS).T, (mu[f] * iv[f]).reshape(-1, N_CEPS).T]).astype(
                np.float32
            )
            for f in range(N_STREAMS)
        ]
        const = -0.5 * (np.log(2.0 * np.pi / iv).sum(-1) + (mu * mu * iv).sum(-1))
        self._const = const.reshape(N_STREAMS, -1).astype(np.float32)
        self._weights = model.weights

    def __call__(self, streams: list[F64]) -> F32:
        n = streams[0].shape[0]
        state_ll = np.zeros((N_PHONES, n, 3), dtype=np.float64)
        for f, z in enumerate(streams):
            z32 = z.astype(np.float32)
            ll = (np.concatenate([z32 * z32, z32], axis=1) @ self._proj[f] + self._const[f]).reshape(n, N_PHONES, -1)
            top = ll.max(axis=2, keepdims=True)
            dens = np.exp(ll - top).transpose(1, 0, 2)  # (phones, n, densities)
            mix = np.matmul(dens, self._weights[f])  # (phones, n, states)
            state_ll += np.log(np.maximum(mix, 1e-30)) + top.transpose(1, 0, 2)
        best = state_ll.max(axis=2)
        phone_ll = best + np.log(np.exp(state_ll - best[..., None]).mean(axis=2))
        top_phone = phone_ll.max(axis=0)
        log_post = phone_ll - top_phone - np.log(np.exp(phone_ll - top_phone).sum(axis=0))
        out: F32 = log_post.T.astype(np.float32)
        return out


def to_features(log_post: F32) -> F32:
    """Log posteriors clipped at -10 and mapped to -1..1, the network's input scale."""
    out: F32 = (np.maximum(log_post, _LOG_FLOOR) / -_LOG_FLOOR * 2.0 + 1.0).astype(np.float32)
    return out


def delta_streams(ceps: F64) -> list[F64]:
    """c, delta, double delta for rows 3 .. n - 4 of ``ceps`` (n - 6 rows)."""
    n = ceps.shape[0]
    t = np.arange(3, n - 3)
    return [ceps[t], ceps[t + 2] - ceps[t - 2], (ceps[t + 3] - ceps[t + 1]) - (ceps[t - 1] - ceps[t - 3])]


class StreamingPhonePosteriors:
    """Causal phone-posterior features (n, 42); ``process`` takes any block size.

    Args:
        model: the acoustic model's arrays.
        prior_mean: per-filter mean of the raw log filterbank the mean normaliser starts from.
        warp: vocal-tract-length warp of the filterbank (1.0 outside training).
    """

    def __init__(self, model: PhoneModel, prior_mean: F64, warp: float = 1.0) -> None:
        self._scorer = PhoneScorer(model)
        self._norm = RunningNormaliser(prior_mean, np.ones_like(prior_mean), scale=False)
        self._fbank = sphinx_filterbank(warp)
        self._hops = HopBuffer(WIN)
        self.reset()

    def reset(self) -> None:
        self._hops.reset()
        self._prev = 0.0
        self._norm.reset()
        self._history = np.zeros((2 * DELAY_FRAMES, N_CEPS))  # normalised cepstra of the last 6 frames

    def process(self, samples: npt.NDArray[np.floating]) -> F32:
        """Features for every hop completed by ``samples`` (16 kHz mono), DELAY_FRAMES late."""
        hops = self._hops.push(samples)
        if hops.size == 0:
            return np.zeros((0, N_PHONES), dtype=np.float32)
        emph = _preemphasise(hops, self._prev)
        self._prev = float(hops[-1]) * _INT16_SCALE
        return self.from_raw(log_filterbank_frames(self._hops.window(emph), hops.size // HOP, self._fbank))

    def from_raw(self, raw: F64) -> F32:
        """Advance over raw log filterbank rows (``raw_log_filterbank``) and return their features."""
        ceps = np.concatenate([self._history, self._norm(raw) @ _DCT.T])
        self._history = ceps[-2 * DELAY_FRAMES :]
        return to_features(self._scorer(delta_streams(ceps)))


def phone_features_for(arrays: Mapping[str, npt.NDArray[np.generic]]) -> StreamingPhonePosteriors | None:
    """The phone features a weights file was trained with, or None when it has none."""
    if "am_means" not in arrays:
        return None
    if "am_prior_mean" not in arrays:
        raise ModelError("weights file has a phone model but lacks 'am_prior_mean'")
    prior = np.asarray(arrays["am_prior_mean"], dtype=np.float64)
    if prior.shape != (N_FILTERS,):
        raise ModelError(f"am_prior_mean has shape {prior.shape}, expected ({N_FILTERS},)")
    return StreamingPhonePosteriors(PhoneModel.from_arrays(arrays), prior)


__all__ = [
    "DELAY_FRAMES",
    "N_PHONES",
    "PhoneModel",
    "PhoneScorer",
    "StreamingPhonePosteriors",
    "phone_features_for",
    "raw_log_filterbank",
]
