"""Streaming log-mel: block-size independent and causal."""

from __future__ import annotations

import numpy as np

from bridge.features.logmel import HOP, N_MELS, StreamingLogMel

PRIOR = (np.full(N_MELS, -6.0), np.full(N_MELS, 4.0))


def test_streaming_equals_offline() -> None:
    x = np.random.default_rng(0).standard_normal(16000) * 0.1
    whole = StreamingLogMel(*PRIOR).process(x)
    fe = StreamingLogMel(*PRIOR)
    parts = [fe.process(x[i : i + 97]) for i in range(0, x.size, 97)]
    assert whole.shape == (100, N_MELS)
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-5)


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
