import numpy as np
import pytest

from bridge.audio.vad import SpeechFrames, VoiceActivity
from bridge.config import VadConfig
from bridge.frames import F32
from tests.conftest import EXAMPLE_WAV


def _activity(x: F32, cfg: VadConfig, voicing: F32 | None = None, hears_voicing: bool = True) -> F32:
    speech = SpeechFrames(cfg.aggressiveness).process(x)
    v = np.zeros(speech.shape[0], np.float32) if voicing is None else voicing[: speech.shape[0]]
    return VoiceActivity(cfg, hears_voicing).process(speech, v)


def _typing(seconds: float, peak_dbfs: float, seed: int = 1) -> F32:
    """Keyboard clicks: broadband bursts decaying in 4 ms (press, and a weaker release 60-90 ms later),
    6-7 keys a second."""
    rng = np.random.default_rng(seed)
    rate = 16000
    y = np.zeros(int(rate * seconds))
    t_s = 0.3
    while t_s < seconds - 0.2:
        i = int(t_s * rate)
        burst = rng.standard_normal(480) * np.exp(-np.arange(480) / 64)
        y[i : i + 480] += burst
        j = i + int(rng.uniform(0.06, 0.09) * rate)
        y[j : j + 480] += 0.5 * burst
        t_s += rng.exponential(1 / 7) + 0.05
    return (y * 10 ** (peak_dbfs / 20) / np.abs(y).max()).astype(np.float32)


def _voicing(x: F32) -> F32:
    from bridge.config import ModelConfig
    from bridge.frames import ModelOutput
    from bridge.model import load_model

    model = load_model(ModelConfig())
    return ModelOutput.concat(0, [model.process(x), model.flush()]).voicing


def test_speech_is_active_and_silence_decays_smoothly() -> None:
    from bridge.audio.files import read_audio

    x, rate = read_audio(EXAMPLE_WAV)
    assert rate == 16000
    silence = np.zeros(16000, dtype=np.float32)
    act = _activity(np.concatenate([x, silence]), VadConfig())
    n_speech = x.shape[0] // 160
    assert act[:40].max() < 0.05  # leading 0.6 s pad
    assert act[100:n_speech - 100].mean() > 0.6
    tail = act[n_speech + 40 :]
    assert tail.max() < 0.05  # back at rest within 0.4 s of silence
    steps = np.abs(np.diff(act))
    assert steps.max() < 0.5  # no jumps


def test_streaming_blocks_match_whole() -> None:
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(16000) * 0.3).astype(np.float32)
    whole = SpeechFrames(2).process(x)
    v = SpeechFrames(2)
    parts = [v.process(x[i : i + 333]) for i in range(0, 16000, 333)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize("offset", [0.02, 0.1, 0.4])
def test_a_dc_offset_is_not_heard_as_speech(offset: float) -> None:
    """A recording whose samples sit at a constant offset: the step from zero at its start made webrtcvad
    call the first frames speech, and the lips parted for a quarter of a second before anyone spoke."""
    from bridge.audio.files import read_audio

    x, _ = read_audio(EXAMPLE_WAV)
    quiet = np.random.default_rng(0).normal(0.0, 1e-4, 16000).astype(np.float32)
    shifted = np.concatenate([quiet, x]) + np.float32(offset)
    speech = SpeechFrames(2).process(shifted)
    assert not speech[:90].any()  # the second of quiet before the words
    plain = SpeechFrames(2).process(np.concatenate([quiet, x]))
    assert np.mean(speech == plain) > 0.97  # and the speech is heard as without the offset


def test_disabled_vad_is_always_active() -> None:
    act = _activity(np.zeros(1600, dtype=np.float32), VadConfig(enabled=False))
    np.testing.assert_array_equal(act, 1.0)


def test_speech_far_too_quiet_is_heard_once_the_level_guard_lifts_it() -> None:
    # A microphone with its gain far too low (peaks near -55 dBFS): webrtcvad alone heard nothing, so
    # the face stayed at rest even though the model, behind the same guard, was lifted.
    from bridge.audio.files import read_audio

    x, _ = read_audio(EXAMPLE_WAV)
    quiet = (x / np.abs(x).max() * 10 ** (-55 / 20)).astype(np.float32)
    act = _activity(np.concatenate([quiet, quiet, quiet]), VadConfig())
    third = act.shape[0] // 3
    assert act[third:].mean() > 0.5  # after the guard's first seconds, as active as normal speech
    assert act[:100].max() < 0.05  # the leading pause stays at rest


@pytest.mark.parametrize("peak_dbfs", [-30.0, -10.0])
def test_required_voicing_keeps_the_face_still_while_typing(peak_dbfs: float) -> None:
    x = _typing(6.0, peak_dbfs)
    voicing = _voicing(x)
    # webrtcvad alone holds the face "speaking" through most of the typing.
    assert _activity(x, VadConfig(), voicing).mean() > 0.5
    act = _activity(x, VadConfig(require_voicing=True), voicing)
    assert act.max() < 0.05


def test_required_voicing_still_follows_speech() -> None:
    from bridge.audio.files import read_audio

    x, _ = read_audio(EXAMPLE_WAV)
    voicing = _voicing(x)
    plain = _activity(x, VadConfig(), voicing)
    act = _activity(x, VadConfig(require_voicing=True), voicing)
    assert act.mean() > 0.85 * plain.mean()
    # Typing under speech: the words still move the face, the typing after them does not.
    typing = _typing(3.0, -20.0, seed=2)
    mixed = np.concatenate([x + _typing(x.shape[0] / 16000, -30.0, seed=3), typing])
    act = _activity(mixed, VadConfig(require_voicing=True), _voicing(mixed))
    n = x.shape[0] // 160
    assert act[:n].mean() > 0.85 * plain.mean()
    assert act[n + 50 :].max() < 0.05


def test_a_model_without_heard_voicing_is_not_required_to_hear_it() -> None:
    # An SSL upstream's voicing is the nearest phone's, not heard: with it, webrtcvad alone decides.
    x = _typing(3.0, -20.0)
    zeros = np.zeros(x.shape[0] // 160 + 3, np.float32)
    act = _activity(x, VadConfig(require_voicing=True), zeros, hears_voicing=False)
    np.testing.assert_array_equal(act, _activity(x, VadConfig(), zeros))
    assert act.mean() > 0.5
