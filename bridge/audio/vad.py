"""Voice activity (webrtcvad) per 10 ms frame, with hangover and a smooth release toward rest.

The audio first passes the model's input level guard (``bridge.features.level``): webrtcvad misses
speech that quiet too, and would hold the face at rest while the model, lifted, hears it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import webrtcvad

from bridge.config import VadConfig
from bridge.features.level import LevelGuard
from bridge.frames import F32

VAD_RATE_HZ = 16000
VAD_FRAME = 160  # 10 ms at 16 kHz, the model's hop
_ATTACK_MS = 20.0  # fast rise so the first syllable is not clipped


def _pcm16(samples_16k: F32, n_frames: int) -> npt.NDArray[np.int16]:
    return (np.clip(samples_16k[: n_frames * VAD_FRAME], -1.0, 1.0) * 32767).astype("<i2")


def voiced_frames(samples_16k: F32, aggressiveness: int) -> npt.NDArray[np.bool_]:
    """webrtcvad's own decision for every complete 10 ms frame: no hangover, no smoothing."""
    vad = webrtcvad.Vad(aggressiveness)
    n = samples_16k.shape[0] // VAD_FRAME
    pcm = _pcm16(LevelGuard().process(samples_16k), n)
    return np.array(
        [vad.is_speech(pcm[i * VAD_FRAME : (i + 1) * VAD_FRAME].tobytes(), VAD_RATE_HZ) for i in range(n)], dtype=bool
    )


class VoiceActivity:
    """Streaming voice activity 0..1 at 100 Hz from 16 kHz audio.

    Raw webrtcvad decisions are held for ``hangover_ms`` after the last voiced frame, then the
    activity decays with time constant ``release_ms``, so the face returns to rest smoothly.
    """

    def __init__(self, cfg: VadConfig) -> None:
        self._vad = webrtcvad.Vad(cfg.aggressiveness)
        self._enabled = cfg.enabled
        self._hangover = max(0, cfg.hangover_ms // 10)
        self._attack = 1.0 - math.exp(-10.0 / _ATTACK_MS)
        self._release = 1.0 - math.exp(-10.0 / cfg.release_ms)
        self._pending = np.zeros(0, dtype=np.float32)
        self._since_voiced = self._hangover + 1
        self._level = 0.0
        self._guard = LevelGuard()

    def process(self, samples_16k: F32) -> F32:
        """Activity for every complete 10 ms frame in the buffered audio."""
        x = np.concatenate([self._pending, self._guard.process(samples_16k)])
        n = x.shape[0] // VAD_FRAME
        self._pending = x[n * VAD_FRAME :]
        out = np.empty(n, dtype=np.float32)
        pcm = _pcm16(x, n)
        for i in range(n):
            if not self._enabled:
                out[i] = 1.0
                continue
            voiced = self._vad.is_speech(pcm[i * VAD_FRAME : (i + 1) * VAD_FRAME].tobytes(), VAD_RATE_HZ)
            self._since_voiced = 0 if voiced else self._since_voiced + 1
            target = 1.0 if self._since_voiced <= self._hangover else 0.0
            rate = self._attack if target > self._level else self._release
            self._level += rate * (target - self._level)
            out[i] = self._level
        return out

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.float32)
        self._since_voiced = self._hangover + 1
        self._level = 0.0
        self._guard.reset()
