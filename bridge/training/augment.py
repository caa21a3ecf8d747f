"""Waveform augmentation for real-world robustness (numpy/scipy, deterministic in a Generator).

Every call draws: a microphone noise floor (always: synthetic speech has digital silence, real
microphones never do), additive noise at 0-30 dB SNR (white, pink, or speech-shaped babble
from another part of the corpus), synthetic-room reverberation (exponentially decaying noise
RIR, RT60 0.1-0.7 s), band-limiting (telephone to wideband) with a random microphone tilt,
gain with occasional clipping, and a codec: mu-law 8-bit coding, or with ``real_codecs`` also
Opus (7-37 kbit/s, VoIP) and MP3 (CBR, about 13-50 kbit/s) through libsndfile, their encoder
delay removed so that the frame targets still line up. Vocal-tract-length and
speed/pitch perturbation happen elsewhere (mel warping in the features, espeak-ng's rate and
pitch in the corpus).
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
import soundfile as sf
from scipy.signal import butter, correlate, fftconvolve, lfilter, sosfilt

from bridge.frames import F32

SR_HZ = 16000
# libsndfile's MP3 encoder delay (LAME's 576 + decoder 529 samples and padding) is not always
# removed on decoding; the delay is found by cross-correlation within this many samples.
_MAX_CODEC_DELAY = 4096


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    return np.asarray(np.fft.irfft(spec / np.sqrt(f), n))


def synthetic_music(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of random background music: chords, a bass line and drums on a beat grid.

    The kind of music streamers and games play under speech, which the model must not animate.
    Sustained synthesizer tones (4-12 harmonics, random brightness, attack-release envelopes) and a
    drum kit (kick, snare, hi-hat); each layer is present or not, tempo 70-170 bpm, a random key.
    """
    t = np.arange(n) / SR_HZ
    y = np.zeros(n)
    beat_s = 60.0 / rng.uniform(70.0, 170.0)
    key_hz = 110.0 * 2.0 ** (rng.integers(12) / 12.0)
    scale = np.array([0, 2, 4, 5, 7, 9, 11]) if rng.random() < 0.6 else np.array([0, 2, 3, 5, 7, 8, 10])
    n_beats = int(np.ceil(n / SR_HZ / beat_s)) + 1

    def tone(f_hz: float, start_s: float, dur_s: float, harmonics: int, tilt: float) -> None:
        i0, i1 = int(start_s * SR_HZ), min(n, int((start_s + dur_s) * SR_HZ))
        if i1 <= i0:
            return
        tt = t[i0:i1] - start_s
        env = np.minimum(1.0, tt / 0.02) * np.minimum(1.0, (dur_s - tt) / 0.05).clip(0.0)
        phase = 2 * np.pi * f_hz * tt
        for h in range(1, harmonics + 1):
            if f_hz * h < SR_HZ / 2:
                y[i0:i1] += env * np.sin(h * phase) / h**tilt

    def note(degree: int, octave: int) -> float:
        return float(key_hz * 2.0 ** (octave + (scale[degree % 7] + 12 * (degree // 7)) / 12.0))

    if rng.random() < 0.8:  # chords, one per bar of four beats
        harmonics, tilt = int(rng.integers(4, 13)), float(rng.uniform(0.8, 2.0))
        for bar in range(0, n_beats, 4):
            root = int(rng.integers(7))
            for third in (0, 2, 4):
                if rng.random() < 0.9:
                    tone(note(root + third, 1), bar * beat_s, 4 * beat_s, harmonics, tilt)
    if rng.random() < 0.7:  # bass, one note per beat
        for b in range(n_beats):
            tone(note(int(rng.integers(7)), -1), b * beat_s, 0.9 * beat_s, 6, 1.5)
    if rng.random() < 0.7:  # drums
        for b in range(n_beats):
            i0 = int(b * beat_s * SR_HZ)
            length = min(n - i0, int(0.25 * SR_HZ))
            if length <= 0:
                break
            tt = t[:length]
            if b % 2 == 0:  # kick: a falling sine
                y[i0 : i0 + length] += (
                    3.0 * np.exp(-tt * 18.0) * np.sin(2 * np.pi * (50.0 * tt + 60.0 * (1 - np.exp(-tt * 30.0)) / 30.0))
                )
            else:  # snare: a noise burst
                y[i0 : i0 + length] += 1.5 * np.exp(-tt * 25.0) * rng.standard_normal(length)
            h0 = i0 + int(0.5 * beat_s * SR_HZ)  # hi-hat on the off-beat
            h_len = min(n - h0, int(0.05 * SR_HZ))
            if h_len > 0:
                y[h0 : h0 + h_len] += 0.5 * np.exp(-t[:h_len] * 80.0) * np.diff(rng.standard_normal(h_len + 1))
    if not np.any(y):
        tone(note(0, 1), 0.0, n / SR_HZ, 8, 1.2)
    return y


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2) + 1e-12))


def _room_tail(rt60_s: float, rng: np.random.Generator) -> np.ndarray:
    n = int(rt60_s * SR_HZ)
    t = np.arange(n) / SR_HZ
    tail: np.ndarray = rng.standard_normal(n) * np.exp(-6.9 * t / rt60_s)
    tail[: int(0.002 * SR_HZ)] *= 0.1
    return tail


def _unit_energy(rir: np.ndarray) -> np.ndarray:
    out: np.ndarray = rir / np.sqrt(np.sum(rir**2))
    return out


def _with_direct_path(tail: np.ndarray, drr_db: float) -> np.ndarray:
    rir = tail.copy()
    rir[0] = 0.0
    rir *= 10.0 ** (-drr_db / 20.0) / np.sqrt(np.sum(rir**2))
    rir[0] = 1.0
    return _unit_energy(rir)


def room_impulse_response(rt60_s: float, drr_db: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room of reverberation time ``rt60_s`` whose direct path is ``drr_db`` above its tail."""
    return _with_direct_path(_room_tail(rt60_s, rng), drr_db)


def room_impulse(rng: np.random.Generator, direct_path_rooms: bool) -> np.ndarray:
    """A random room (RT60 0.1-0.7 s), unit energy; see ``augment`` for ``direct_path_rooms``."""
    rt60_s = rng.uniform(0.1, 0.7)
    tail = _room_tail(rt60_s, rng)
    if direct_path_rooms:
        # Direct-to-reverberant ratio from a distant laptop microphone (-5 dB) to a headset (+15 dB).
        return _with_direct_path(tail, rng.uniform(-5.0, 15.0))
    # Models up to v5: the tail carries 9-19 dB more energy than this direct path (far field).
    tail[0] = 1.0 + rng.uniform(0, 2)
    return _unit_energy(tail)


def _mu_law(y: np.ndarray) -> np.ndarray:
    mu = 255.0
    coded = np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu)
    coded = np.round(coded * 127.0) / 127.0
    out: np.ndarray = np.sign(coded) * np.expm1(np.abs(coded) * np.log1p(mu)) / mu
    return out


def codec_roundtrip(y: np.ndarray, codec: Literal["opus", "mp3"], compression_level: float) -> np.ndarray:
    """Encode and decode ``y`` (16 kHz, -1..1) with libsndfile's Opus or MP3, aligned to the input.

    Args:
        y: the signal.
        codec: ``"opus"`` or ``"mp3"`` (constant bit rate).
        compression_level: libsndfile's 0..1 (1 = the lowest bit rate).
    """
    fmt, subtype, mode = ("OGG", "OPUS", None) if codec == "opus" else ("MP3", "MPEG_LAYER_III", "CONSTANT")
    buf = io.BytesIO()
    sf.write(buf, y.astype(np.float32), SR_HZ, format=fmt, subtype=subtype, compression_level=compression_level,
             bitrate_mode=mode)  # fmt: skip
    buf.seek(0)
    decoded, _ = sf.read(buf, dtype="float64")
    lags = correlate(decoded, y, mode="full", method="fft")[y.size - 1 : y.size - 1 + _MAX_CODEC_DELAY]
    delay = int(np.argmax(lags)) if lags.size else 0
    out: np.ndarray = np.zeros_like(y)
    part = decoded[delay : delay + y.size]
    out[: part.size] = part
    return out


def augment(
    x: F32,
    rng: np.random.Generator,
    babble: F32 | None = None,
    real_codecs: bool = False,
    direct_path_rooms: bool = False,
    music: float = 0.0,
) -> F32:
    """One random degradation of clean speech ``x`` (16 kHz); the timing of speech is preserved.

    ``real_codecs`` adds Opus and MP3 to the codec step (and applies it twice as often);
    ``direct_path_rooms`` gives rooms a direct-to-reverberant ratio of -5..+15 dB; ``music`` is the
    share of the additive noise that is background music (``synthetic_music``). All off, the random
    draws and results are those of the models up to v5.
    """
    y = x.astype(np.float64)
    if rng.random() < 0.4:
        y = fftconvolve(y, room_impulse(rng, direct_path_rooms))[: y.size]
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
        kind = 3 if music > 0.0 and rng.random() < music else rng.integers(3)
        if kind == 3:
            noise = synthetic_music(y.size, rng)
        elif kind == 0:
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
    if not real_codecs:
        if rng.random() < 0.15:
            y = _mu_law(y)
    elif rng.random() < 0.3:
        codec = int(rng.integers(3))
        if codec == 0:
            y = _mu_law(y)
        elif codec == 1:
            y = codec_roundtrip(y, "opus", float(rng.uniform(0.88, 1.0)))
        else:
            y = codec_roundtrip(y, "mp3", float(rng.uniform(0.75, 0.97)))
    out: F32 = y.astype(np.float32)
    return out
