"""Waveform augmentation for real-world robustness (numpy/scipy, deterministic in a Generator).

Every call draws: a microphone noise floor (always: synthetic speech has digital silence, real
microphones never do), additive noise at 0-30 dB SNR (white, pink, or speech-shaped babble
from another part of the corpus), synthetic-room reverberation (exponentially decaying noise
RIR, RT60 0.1-0.7 s), band-limiting (telephone to wideband) with a random microphone tilt,
mu-law 8-bit coding (a cheap codec), and gain with occasional clipping. Vocal-tract-length and
speed/pitch perturbation happen elsewhere (mel warping in the features, espeak-ng's rate and
pitch in the corpus).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, fftconvolve, lfilter, sosfilt

from bridge.frames import F32

SR_HZ = 16000


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    return np.asarray(np.fft.irfft(spec / np.sqrt(f), n))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2) + 1e-12))


def _room_impulse(rng: np.random.Generator) -> np.ndarray:
    rt60_s = rng.uniform(0.1, 0.7)
    n = int(rt60_s * SR_HZ)
    t = np.arange(n) / SR_HZ
    rir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60_s)
    rir[: int(0.002 * SR_HZ)] *= 0.1
    rir[0] = 1.0 + rng.uniform(0, 2)  # direct path dominant, as for a close microphone
    out: np.ndarray = rir / np.sqrt(np.sum(rir**2))
    return out


def augment(x: F32, rng: np.random.Generator, babble: F32 | None = None) -> F32:
    """One random degradation of clean speech ``x`` (16 kHz); the timing of speech is preserved."""
    y = x.astype(np.float64)
    if rng.random() < 0.4:
        y = fftconvolve(y, _room_impulse(rng))[: y.size]
    if rng.random() < 0.5:
        lo_hz = rng.choice([3400.0, 4000.0, 5500.0, 7000.0])
        sos = butter(4, lo_hz, "low", fs=SR_HZ, output="sos")
        y = sosfilt(sos, y)
    if rng.random() < 0.5:
        hi_hz = rng.uniform(80.0, 350.0)
        y = sosfilt(butter(2, hi_hz, "high", fs=SR_HZ, output="sos"), y)
    if rng.random() < 0.5:
        # first-order tilt: a brighter or duller microphone
        k = rng.uniform(-0.6, 0.6)
        y = lfilter([1.0, -k], [1.0], y)
    speech_rms = _rms(y[np.abs(y) > 1e-4]) if np.any(np.abs(y) > 1e-4) else 0.1
    if rng.random() < 0.75:
        snr_db = rng.uniform(0.0, 30.0) if rng.random() < 0.7 else rng.uniform(15.0, 40.0)
        kind = rng.integers(3)
        if kind == 0:
            noise = rng.standard_normal(y.size)
        elif kind == 1:
            noise = _pink(y.size, rng)
        elif babble is not None and babble.size > y.size:
            start = int(rng.integers(0, babble.size - y.size))
            noise = babble[start : start + y.size].astype(np.float64)
        else:
            noise = _pink(y.size, rng)
        y = y + noise * speech_rms / _rms(noise) * 10.0 ** (-snr_db / 20.0)
    floor_db = rng.uniform(-75.0, -50.0)
    y = y + rng.standard_normal(y.size) * 10.0 ** (floor_db / 20.0)
    gain_db = rng.uniform(-25.0, 8.0)
    if rng.random() < 0.1:
        gain_db += rng.uniform(5.0, 15.0)
    y = np.clip(y * 10.0 ** (gain_db / 20.0) * (0.1 / max(speech_rms, 1e-4)), -1.0, 1.0)
    if rng.random() < 0.15:
        mu = 255.0
        coded = np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu)
        coded = np.round(coded * 127.0) / 127.0
        y = np.sign(coded) * np.expm1(np.abs(coded) * np.log1p(mu)) / mu
    out: F32 = y.astype(np.float32)
    return out
