"""Training augmentation: degradations keep the timing of speech, codecs included."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest
from scipy.signal import correlate

from bridge.training.augment import SR_HZ, augment, codec_roundtrip, room_impulse, synthetic_music


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Voiced syllables (a 120 Hz harmonic series under a 4 Hz envelope) between silences."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR_HZ)) / SR_HZ
    voiced = sum(np.sin(2 * np.pi * 120 * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 30))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    envelope[t < 0.5] = 0.0
    out: np.ndarray = 0.2 * voiced * envelope + 0.01 * rng.standard_normal(t.size) * envelope
    return out


def _bursts(seconds: float, seed: int) -> np.ndarray:
    """Aperiodic noise bursts: one clear cross-correlation peak (a harmonic signal has one per period)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR_HZ)) / SR_HZ
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) ** 2
    out: np.ndarray = 0.2 * rng.standard_normal(t.size) * envelope
    return out


def _lag(y: np.ndarray, x: np.ndarray, max_lag: int) -> int:
    c = correlate(y, x, mode="full", method="fft")
    mid = x.size - 1
    return int(np.argmax(c[mid - max_lag : mid + max_lag + 1])) - max_lag


@pytest.mark.parametrize(
    ("codec", "level"), [("opus", 1.0), ("opus", 0.88), ("mp3", 0.97), ("mp3", 0.9), ("mp3", 0.75)]
)
def test_codec_roundtrip_is_lossy_but_keeps_length_and_timing(codec: Literal["opus", "mp3"], level: float) -> None:
    x = _speechlike(3.0)
    y = codec_roundtrip(x, codec, level)
    assert y.shape == x.shape
    # libsndfile leaves the MP3 encoder delay (about 1100 samples) in at low bit rates: it must be gone.
    assert _lag(y, x, 3000) == 0
    assert not np.allclose(y, x, atol=1e-3)
    assert np.corrcoef(y, x)[0, 1] > 0.8


@pytest.mark.parametrize("flags", [(False, False), (True, False), (True, True)])
def test_augment_keeps_length_and_range_and_is_deterministic(flags: tuple[bool, bool]) -> None:
    x = _bursts(3.0, seed=1).astype(np.float32)
    for seed in range(8):
        a = augment(x, np.random.default_rng(seed), None, *flags)
        assert np.array_equal(a, augment(x, np.random.default_rng(seed), None, *flags))
        assert a.shape == x.shape and a.dtype == np.float32
        assert np.all(np.abs(a) <= 1.0)


def test_direct_path_rooms_keep_the_timing_of_the_waveform() -> None:
    x = _bursts(3.0, seed=1).astype(np.float32)
    for seed in range(24):
        a = augment(x, np.random.default_rng(seed), None, real_codecs=True, direct_path_rooms=True)
        # Filters, rooms and codecs shift the waveform by well under a 10 ms frame: the direct path leads.
        assert abs(_lag(a.astype(np.float64), x.astype(np.float64), 2000)) <= 16, seed


@pytest.mark.parametrize("direct_path_rooms", [False, True])
def test_room_impulse_direct_to_reverberant_ratio(direct_path_rooms: bool) -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        rir = room_impulse(rng, direct_path_rooms)
        assert np.isclose(np.sum(rir**2), 1.0)
        drr_db = 10 * np.log10(rir[0] ** 2 / np.sum(rir[1:] ** 2))
        if direct_path_rooms:
            assert -5.0 - 1e-9 <= drr_db <= 15.0 + 1e-9
            assert int(np.argmax(np.abs(rir))) == 0
        else:  # the far-field rooms models v0-v5 were trained with
            assert drr_db < -5.0


def test_real_codecs_change_the_output_only_through_the_codec_step() -> None:
    x = _speechlike(2.0, seed=2).astype(np.float32)
    outputs = [(augment(x, np.random.default_rng(s)), augment(x, np.random.default_rng(s), real_codecs=True))
               for s in range(20)]  # fmt: skip
    same = sum(np.array_equal(a, b) for a, b in outputs)
    # With the codec step skipped (or mu-law drawn on both sides) the two agree; Opus and MP3 change the rest.
    assert 0 < same < len(outputs)


def test_synthetic_music_is_deterministic_broadband_and_rhythmic() -> None:
    a = synthetic_music(SR_HZ * 6, np.random.default_rng(3))
    b = synthetic_music(SR_HZ * 6, np.random.default_rng(3))
    assert np.array_equal(a, b) and np.all(np.isfinite(a)) and a.size == SR_HZ * 6
    spectrum = np.abs(np.fft.rfft(a)) ** 2
    f_hz = np.fft.rfftfreq(a.size, 1 / SR_HZ)
    assert spectrum[f_hz < 300].sum() > 0.01 * spectrum.sum()  # bass or kick
    assert spectrum[f_hz > 1000].sum() > 0.001 * spectrum.sum()  # harmonics, snare or hi-hat
    different = [synthetic_music(SR_HZ, np.random.default_rng(s)) for s in range(4)]
    assert len({round(float(np.std(m)), 6) for m in different}) == 4


def test_music_noise_fills_the_pauses_and_is_off_by_default() -> None:
    x = _speechlike(4.0)  # silent for its first 0.5 s
    plain = augment(x, np.random.default_rng(1))
    assert np.array_equal(plain, augment(x, np.random.default_rng(1), music=0.0))
    quiet_pause = [float(np.std(augment(x, np.random.default_rng(s))[: SR_HZ // 2])) for s in range(8)]
    music_pause = [float(np.std(augment(x, np.random.default_rng(s), music=1.0)[: SR_HZ // 2])) for s in range(8)]
    # Whenever the additive-noise step runs, music instead of noise is heard in the pause.
    assert sum(m != q for m, q in zip(music_pause, quiet_pause, strict=True)) >= 4
