import tracemalloc

import numpy as np
import pytest

from bridge.audio.resample import StreamingResampler, resample, to_mono


@pytest.mark.parametrize("rate_hz", [8000, 16000, 22050, 44100, 48000])
def test_streaming_equals_whole_signal(rate_hz: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(rate_hz).astype(np.float32)
    whole = resample(x, rate_hz, 16000)
    r = StreamingResampler(rate_hz, 16000)
    sizes = rng.integers(1, 900, size=400)
    parts, pos = [], 0
    for n in sizes:
        parts.append(r.process(x[pos : pos + n]))
        pos += n
    parts.append(r.process(x[pos:]))
    streamed = np.concatenate(parts)
    assert streamed.shape == whole.shape == (16000,)
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


def test_passband_tone_kept_and_alias_removed() -> None:
    t = np.arange(48000) / 48000
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    alias = np.sin(2 * np.pi * 12000 * t).astype(np.float32)  # above 8 kHz Nyquist of 16 kHz
    assert np.abs(resample(tone, 48000, 16000)[500:-500]).max() == pytest.approx(1.0, abs=0.02)
    assert np.abs(resample(alias, 48000, 16000)[500:-500]).max() < 0.01


def test_to_mono_downmix_and_select() -> None:
    x = np.stack([np.ones(4), -np.ones(4) * 0.5], axis=1).astype(np.float32)
    np.testing.assert_allclose(to_mono(x, None), 0.25)
    np.testing.assert_allclose(to_mono(x, 1), -0.5)
    with pytest.raises(IndexError):
        to_mono(x, 2)


def test_a_long_file_resamples_in_bounded_memory_with_identical_output() -> None:
    """A minute at 48 kHz in one call: the polyphase gather once held about 1.5 GB for it."""
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal(48000 * 60)).astype(np.float32)
    tracemalloc.start()
    try:
        whole = StreamingResampler(48000, 16000).process(x)
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    assert whole.shape == (16000 * 60,)
    assert peak_mb < 200, peak_mb
    r = StreamingResampler(48000, 16000)
    streamed = np.concatenate([r.process(x[i : i + 4800]) for i in range(0, x.size, 4800)])
    np.testing.assert_array_equal(streamed, whole)


def test_to_mono_of_one_channel_shares_the_samples() -> None:
    """A mono file read as (n, 1) is not copied: an hour at 48 kHz is 690 MB."""
    x = np.arange(8, dtype=np.float32).reshape(-1, 1)
    mono = to_mono(x, None)
    np.testing.assert_array_equal(mono, np.arange(8))
    assert np.shares_memory(mono, x)
