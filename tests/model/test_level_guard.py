"""The input level guard: quiet speech is lifted into the trained range, everything else passes untouched."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from bridge.features.level import CEILING_DBFS, MIN_SPEECH_S, PEAK_TARGET_DBFS, LevelGuard
from bridge.frames import ModelOutput
from bridge.model import load_default_model
from tests.conftest import EXAMPLE_WAV

HOP = 160


def _speech(repeats: int = 2) -> np.ndarray:
    x, sr = sf.read(EXAMPLE_WAV, dtype="float32")
    assert sr == 16000
    return np.tile(x, repeats)


def _gains(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Output and the gain after every hop, fed one hop at a time."""
    guard = LevelGuard()
    out, gains = [], []
    for i in range(0, x.size, HOP):
        out.append(guard.process(x[i : i + HOP]))
        gains.append(guard.gain_db)
    return np.concatenate(out), np.array(gains)


def _hop_dbfs(x: np.ndarray) -> np.ndarray:
    n = x.size // HOP
    return 10.0 * np.log10((x[: n * HOP].reshape(n, HOP).astype(np.float64) ** 2).mean(axis=1) + 1e-20)


def test_speech_at_a_trained_level_passes_bit_for_bit() -> None:
    x = _speech()
    for db in (0.0, -10.0, -20.0):
        y = (x * np.float32(10.0 ** (db / 20.0))).astype(np.float32)
        out, gains = _gains(y)
        assert np.all(gains == 0.0)
        np.testing.assert_array_equal(out, y)


def test_quiet_speech_is_lifted_toward_the_target_after_a_few_seconds() -> None:
    quiet = (_speech(4) * np.float32(10.0 ** (-35.0 / 20.0))).astype(np.float32)  # peaks about -45 dBFS
    out, gains = _gains(quiet)
    hops_per_s = 100
    assert np.all(gains[: int(MIN_SPEECH_S * hops_per_s) - 1] == 0.0)  # not before enough speech was heard
    assert gains[-1] > 15.0
    settled = out[10 * 16000 :]
    assert abs(_hop_dbfs(settled).max() - PEAK_TARGET_DBFS) < 3.0


def test_noise_silence_and_clicks_get_no_gain() -> None:
    rng = np.random.default_rng(0)
    hiss = (rng.standard_normal(16000 * 10) * 10.0 ** (-60.0 / 20.0)).astype(np.float32)
    assert np.all(_gains(hiss)[1] == 0.0)
    assert np.all(_gains(np.zeros(16000 * 5, dtype=np.float32))[1] == 0.0)
    clicks = (rng.standard_normal(16000 * 10) * 10.0 ** (-70.0 / 20.0)).astype(np.float32)
    for t in rng.integers(0, clicks.size - 80, 60):  # keyboard clicks before the voice
        clicks[t : t + 80] += rng.standard_normal(80).astype(np.float32) * np.float32(10.0 ** (-40.0 / 20.0))
    assert np.all(_gains(np.concatenate([clicks, _speech(1)]))[1] == 0.0)


def test_a_loud_voice_after_quiet_speech_cuts_the_gain_at_once() -> None:
    quiet = (_speech(2) * np.float32(10.0 ** (-35.0 / 20.0))).astype(np.float32)
    x = np.concatenate([quiet, _speech(1)])
    out, gains = _gains(x)
    before, after = _hop_dbfs(x), _hop_dbfs(out)
    start = quiet.size // HOP
    assert gains[start - 1] > 10.0
    # From the first hop the gain would push past the ceiling, the gain follows the rising voice down
    # (a hop late, so an onset can overshoot the ceiling by a few dB) and is gone within half a second.
    reveal = start + int(np.argmax(before[start:] + gains[start - 1] > CEILING_DBFS))
    assert after[start:].max() < -1.0
    assert np.all(gains[reveal + 50 :] == 0.0)
    np.testing.assert_array_equal(out[(reveal + 51) * HOP :], x[(reveal + 51) * HOP :])


def test_any_block_sizes_give_the_same_output() -> None:
    quiet = (_speech(3) * np.float32(10.0 ** (-35.0 / 20.0))).astype(np.float32)
    whole = LevelGuard().process(quiet)
    guard = LevelGuard()
    rng = np.random.default_rng(1)
    parts, i = [], 0
    while i < quiet.size:
        k = int(rng.choice([1, 7, 160, 333, 4096]))
        parts.append(guard.process(quiet[i : i + k]))
        i += k
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert not np.array_equal(whole, quiet)  # the guard did act on this stream


def test_the_model_streams_exactly_on_quiet_speech() -> None:
    quiet = (_speech(2)[: 16000 * 12] * np.float32(10.0 ** (-35.0 / 20.0))).astype(np.float32)
    model = load_default_model(30)
    offline = [model.process(quiet), model.flush()]
    parts: list[ModelOutput] = []
    for i in range(0, quiet.size, 333):
        parts.append(model.process(quiet[i : i + 333]))
    parts.append(model.flush())

    def rows(outs: list[ModelOutput]) -> np.ndarray:
        return np.concatenate([np.concatenate([o.ema, o.controls], axis=1) for o in outs])

    assert np.max(np.abs(rows(parts) - rows(offline))) <= 1e-4


def test_a_click_in_quiet_speech_does_not_switch_the_guard_off() -> None:
    # A desk knock or a plosive pop on a quiet microphone: a few hops near full scale between words.
    quiet = (_speech(3) * np.float32(10.0 ** (-35.0 / 20.0))).astype(np.float32)
    click_at = 12 * 16000
    x = quiet.copy()
    x[click_at : click_at + 2 * HOP] = np.float32(0.5) * np.sign(np.sin(np.arange(2 * HOP) * 0.3)).astype(np.float32)
    _, gains = _gains(x)
    _, undisturbed = _gains(quiet)
    hop = click_at // HOP
    assert gains[hop - 1] > 15.0  # lifted before the click
    # The click itself gets its gain cut (ceiling), and within a second the quiet voice is lifted as before.
    assert gains[hop + 2] < gains[hop - 1]
    np.testing.assert_allclose(gains[hop + 100 : hop + 300], undisturbed[hop + 100 : hop + 300], atol=0.5)


def test_a_whole_recordings_gain_is_known_from_its_start() -> None:
    """Offline (bake) the level of all of the speech is known at once: a -40 dB line is raised from its first
    sample, where the causal guard needs MIN_SPEECH_S of it first. In range, silence and a click: no gain."""
    from bridge.features.level import MAX_GAIN_DB, PEAK_FLOOR_DBFS, offline_gain_db

    x = _speech(1)
    assert offline_gain_db(x)[0] == 0.0
    gain_db, peak_dbfs = offline_gain_db(x * np.float32(0.01))
    assert peak_dbfs < PEAK_FLOOR_DBFS and gain_db == MAX_GAIN_DB
    short = (x * np.float32(0.01))[: 2 * 16000]  # less speech than the causal guard waits for
    assert offline_gain_db(short)[0] > 10.0
    rng = np.random.default_rng(1)
    clicks = (rng.standard_normal(16000 * 10) * 10.0 ** (-70.0 / 20.0)).astype(np.float32)
    for t in rng.integers(0, clicks.size - 80, 30):  # quiet keyboard clicks, no voice
        clicks[t : t + 80] += rng.standard_normal(80).astype(np.float32) * np.float32(10.0 ** (-50.0 / 20.0))
    assert offline_gain_db(clicks)[0] == 0.0 and offline_gain_db(np.zeros(32000, np.float32))[0] == 0.0
