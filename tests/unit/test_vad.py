import numpy as np

from bridge.audio.vad import VoiceActivity
from bridge.config import VadConfig
from tests.conftest import EXAMPLE_WAV


def test_speech_is_active_and_silence_decays_smoothly() -> None:
    from bridge.audio.files import read_audio

    x, rate = read_audio(EXAMPLE_WAV)
    assert rate == 16000
    silence = np.zeros(16000, dtype=np.float32)
    act = VoiceActivity(VadConfig()).process(np.concatenate([x, silence]))
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
    whole = VoiceActivity(VadConfig()).process(x)
    v = VoiceActivity(VadConfig())
    parts = [v.process(x[i : i + 333]) for i in range(0, 16000, 333)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_disabled_vad_is_always_active() -> None:
    act = VoiceActivity(VadConfig(enabled=False)).process(np.zeros(1600, dtype=np.float32))
    np.testing.assert_array_equal(act, 1.0)


def test_speech_far_too_quiet_is_heard_once_the_level_guard_lifts_it() -> None:
    # A microphone with its gain far too low (peaks near -55 dBFS): webrtcvad alone heard nothing, so
    # the face stayed at rest even though the model, behind the same guard, was lifted.
    from bridge.audio.files import read_audio

    x, _ = read_audio(EXAMPLE_WAV)
    quiet = (x / np.abs(x).max() * 10 ** (-55 / 20)).astype(np.float32)
    act = VoiceActivity(VadConfig()).process(np.concatenate([quiet, quiet, quiet]))
    third = act.shape[0] // 3
    assert act[third:].mean() > 0.5  # after the guard's first seconds, as active as normal speech
    assert act[:100].max() < 0.05  # the leading pause stays at rest
