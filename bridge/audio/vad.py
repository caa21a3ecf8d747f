"""Voice activity per 10 ms frame: webrtcvad's decision, confirmed by voicing, with hangover and release.

The audio first passes the model's input level guard (``bridge.features.level``): webrtcvad misses
speech that quiet too, and would hold the face at rest while the model, lifted, hears it.

webrtcvad alone calls keyboard clicks speech (every click, and the hangovers bridge the gaps of a
typist's 5-10 keys a second), so the face looks like it is talking while the streamer types. Speech
always has voiced sounds within a few hundred milliseconds and clicks have none, so with
``require_voicing`` a frame counts as speech only while the model has heard voicing in the last
VOICING_WINDOW_MS. It is off by default: the breath and lip noises before a sentence, which webrtcvad
also hears, then no longer part the lips, and real speakers part them there (docs/face.md).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import numpy.typing as npt
import webrtcvad
from scipy.signal import lfilter

from bridge.config import VadConfig
from bridge.features.level import LevelGuard
from bridge.frames import F32

VAD_RATE_HZ = 16000
VAD_FRAME = 160  # 10 ms at 16 kHz, the model's hop
_ATTACK_MS = 20.0  # fast rise so the first syllable is not clipped
# Voicing evidence: this many frames with the model's voicing probability at or above VOICED_P. Two
# frames, not one: loud clicks reach 0.5 in about 1 frame in 300 (docs/face.md).
VOICED_P = 0.5
VOICED_FRAMES = 2
VOICING_WINDOW_MS = 300
# DC blocker pole: a 13 Hz corner at 16 kHz, far below speech.
_DC_POLE = 0.995


def _pcm16(samples_16k: F32, n_frames: int) -> npt.NDArray[np.int16]:
    return (np.clip(samples_16k[: n_frames * VAD_FRAME], -1.0, 1.0) * 32767).astype("<i2")


def voiced_frames(samples_16k: F32, aggressiveness: int) -> npt.NDArray[np.bool_]:
    """webrtcvad's own decision for every complete 10 ms frame: no hangover, no smoothing."""
    return SpeechFrames(aggressiveness).process(samples_16k)


class DcBlocker:
    """Removes a constant offset from a stream, starting from its first sample.

    A recording with a DC offset starts with a step from zero that webrtcvad calls speech, parting
    the lips for a quarter of a second before anyone speaks; the filter starts settled at the first
    sample's value, so there is no step to hear.
    """

    def __init__(self) -> None:
        self._state: npt.NDArray[np.float64] | None = None

    def process(self, samples: F32) -> F32:
        if samples.shape[0] == 0:
            return samples
        if self._state is None:  # settled at the first sample: as if it had always been there
            self._state = np.array([-float(samples[0])])
        y, self._state = lfilter([1.0, -1.0], [1.0, -_DC_POLE], samples.astype(np.float64), zi=self._state)
        out: F32 = y.astype(np.float32)
        return out

    def reset(self) -> None:
        self._state = None


class SpeechFrames:
    """webrtcvad's decision for every complete 10 ms frame of a 16 kHz stream (DC removed, behind the
    level guard)."""

    def __init__(self, aggressiveness: int) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)
        self._dc = DcBlocker()
        self._guard = LevelGuard()
        self._pending = np.zeros(0, dtype=np.float32)

    def process(self, samples_16k: F32) -> npt.NDArray[np.bool_]:
        x = np.concatenate([self._pending, self._guard.process(self._dc.process(samples_16k))])
        n = x.shape[0] // VAD_FRAME
        self._pending = x[n * VAD_FRAME :]
        pcm = _pcm16(x, n).tobytes()
        step = 2 * VAD_FRAME
        return np.array([self._vad.is_speech(pcm[i * step : (i + 1) * step], VAD_RATE_HZ) for i in range(n)], bool)

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.float32)
        self._dc.reset()
        self._guard.reset()


class VoiceActivity:
    """Streaming voice activity 0..1 at 100 Hz, one ``step`` per frame in time order.

    A frame is speech when webrtcvad says so and, with ``cfg.require_voicing`` and a model that
    ``hears_voicing``, the model's voicing reached VOICED_P in VOICED_FRAMES of the last
    VOICING_WINDOW_MS. Speech is held
    for ``hangover_ms`` after the last speech frame, then the activity decays with time constant
    ``release_ms``, so the face returns to rest smoothly.
    """

    def __init__(self, cfg: VadConfig, hears_voicing: bool) -> None:
        self._enabled = cfg.enabled
        self._hangover = max(0, cfg.hangover_ms // 10)
        self._attack = 1.0 - math.exp(-10.0 / _ATTACK_MS)
        self._release = 1.0 - math.exp(-10.0 / cfg.release_ms)
        use = cfg.require_voicing and hears_voicing
        self._voiced: deque[bool] | None = deque(maxlen=VOICING_WINDOW_MS // 10) if use else None
        self._since_speech = self._hangover + 1
        self._level = 0.0

    def step(self, speech: bool, voicing: float) -> float:
        """Activity of the next frame from webrtcvad's ``speech`` and the model's ``voicing`` (0..1)."""
        if not self._enabled:
            return 1.0
        if self._voiced is not None:
            self._voiced.append(voicing >= VOICED_P)
            speech = speech and sum(self._voiced) >= VOICED_FRAMES
        self._since_speech = 0 if speech else self._since_speech + 1
        target = 1.0 if self._since_speech <= self._hangover else 0.0
        rate = self._attack if target > self._level else self._release
        self._level += rate * (target - self._level)
        return self._level

    def process(self, speech: npt.NDArray[np.bool_], voicing: F32) -> npt.NDArray[np.float64]:
        """``step`` over aligned arrays of frames (float64: the very values ``step`` gives the live path)."""
        return np.array([self.step(bool(s), float(v)) for s, v in zip(speech, voicing, strict=True)], np.float64)

    def reset(self) -> None:
        self._since_speech = self._hangover + 1
        self._level = 0.0
        if self._voiced is not None:
            self._voiced.clear()
