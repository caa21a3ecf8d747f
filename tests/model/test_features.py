"""Streaming log-mel: block-size independent and causal."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.features.logmel import HOP, N_MELS, RunningNormaliser, StreamingLogMel, envelope_map, raw_log_mel

PRIOR = (np.full(N_MELS, -6.0), np.full(N_MELS, 4.0))


def test_streaming_equals_offline() -> None:
    x = np.random.default_rng(0).standard_normal(16000) * 0.1
    whole = StreamingLogMel(*PRIOR).process(x)
    fe = StreamingLogMel(*PRIOR)
    parts = [fe.process(x[i : i + 97]) for i in range(0, x.size, 97)]
    assert whole.shape == (100, N_MELS)
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-5)


@pytest.mark.parametrize("scale", [True, False])
def test_normaliser_one_row_at_a_time_equals_one_block(scale: bool) -> None:
    # The live path feeds one row per hop through a shortcut; it must not drift from the block recursion.
    rng = np.random.default_rng(4)
    rows = rng.standard_normal((300, N_MELS)) * 2.0 - 6.0
    rows[100:160] -= 12.0  # a pause: the gate slows adaptation there
    block = RunningNormaliser(*PRIOR, scale=scale)(rows)
    norm = RunningNormaliser(*PRIOR, scale=scale)
    one_by_one = np.concatenate([norm(rows[t : t + 1]) for t in range(rows.shape[0])])
    np.testing.assert_allclose(one_by_one, block, rtol=0.0, atol=1e-9)  # the closed form is exact to ~1e-12


def test_frame_depends_only_on_audio_up_to_its_hop_end() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(8000) * 0.1
    y = x.copy()
    y[20 * HOP :] = rng.standard_normal(y.size - 20 * HOP)
    a, b = StreamingLogMel(*PRIOR).process(x), StreamingLogMel(*PRIOR).process(y)
    np.testing.assert_array_equal(a[:20], b[:20])
    assert not np.allclose(a[20], b[20])


def test_vocal_tract_warp_changes_features() -> None:
    x = np.random.default_rng(2).standard_normal(4000) * 0.1
    assert not np.allclose(StreamingLogMel(*PRIOR).process(x), StreamingLogMel(*PRIOR, warp=1.1).process(x))


def test_envelope_map_keeps_the_envelope_and_removes_the_harmonic_ripple() -> None:
    assert np.allclose(envelope_map(N_MELS), np.eye(N_MELS))
    m = envelope_map(13)
    np.testing.assert_allclose(m @ m, m, atol=1e-12)  # a projection: smoothing twice changes nothing
    bands = np.arange(N_MELS)
    envelope = -4.0 - 2.0 * np.exp(-(((bands - 12) / 4.0) ** 2))  # one broad formant
    ripple = 0.5 * np.cos(np.pi * bands / 1.5)  # harmonics a few bands apart
    assert np.abs(envelope @ m - envelope).max() < 0.02
    assert np.sqrt(np.mean((ripple @ m) ** 2)) < 0.2 * np.sqrt(np.mean(ripple**2))


def test_streaming_envelope_features_equal_the_smoothed_raw_log_mel() -> None:
    x = np.random.default_rng(3).standard_normal(8000) * 0.1
    raw = raw_log_mel(x, envelope_coeffs=13)
    np.testing.assert_allclose(raw, raw_log_mel(x) @ envelope_map(13), atol=1e-9)
    streamed = StreamingLogMel(*PRIOR, envelope_coeffs=13).process(x)
    np.testing.assert_allclose(streamed, StreamingLogMel(*PRIOR).normalise(raw), atol=1e-5)
    assert not np.allclose(streamed, StreamingLogMel(*PRIOR).process(x))


def _speech_rows(n: int, level: float, rng: np.random.Generator) -> np.ndarray:
    """Rows that rise and fall like syllables (4 per second, 3 nats deep) around ``level``."""
    syllables = 1.5 * np.sin(2 * np.pi * np.arange(n) / 25.0)[:, None]
    return level + syllables + rng.standard_normal((n, N_MELS)) * 0.3


def test_a_long_flat_silence_does_not_become_the_new_normal() -> None:
    # Minutes of a quiet room between two sentences: speech after them is normalised as after a short
    # pause, and the silence keeps looking quiet instead of drifting toward speech.
    rng = np.random.default_rng(5)
    speech = _speech_rows(300, -6.0, rng)
    probe = _speech_rows(100, -6.0, rng)

    def after_pause(seconds: float) -> np.ndarray:
        silence = -20.0 + np.random.default_rng(7).standard_normal((int(seconds * 100), N_MELS)) * 0.1
        out = RunningNormaliser(*PRIOR)(np.concatenate([speech, silence, probe]))
        return out[-probe.shape[0] - 1 :]

    ten_s, five_min = after_pause(10.0), after_pause(300.0)
    np.testing.assert_allclose(five_min[1:], ten_s[1:], atol=1e-6)  # frozen once the pause stayed flat
    assert five_min[0].mean() < -2.0  # the last silent row still reads as far below speech


def test_a_speaker_who_moves_away_is_still_followed() -> None:
    # Quieter by 14 dB for good: every row is below the gate, but syllables keep it from counting as silence.
    rng = np.random.default_rng(6)
    rows = np.concatenate([_speech_rows(300, -6.0, rng), _speech_rows(12000, -9.2, rng)])
    out = RunningNormaliser(*PRIOR)(rows)
    assert abs(out[-500:].mean()) < 0.5
