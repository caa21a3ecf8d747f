"""Streaming articulation from an SSL encoder and a linear EMA head (the wav2avatar recipe).

The encoder is a bidirectional transformer, so it runs on chunks: chunk k holds output frames
[k*C, (k+1)*C) and is computed once the audio up to its end plus the look-ahead has arrived, on a
window that adds ``context_ms`` of audio before it. Chunks sit on a fixed grid, so the output does
not depend on how the audio was blocked (streaming equals offline). The first frame of a chunk
waits for the whole chunk plus the look-ahead: that sum is the model's ``lookahead_s``.

The head's EMA comes in its training corpus' units and origin (wav2avatar: MNGU0 coordinates), so
each channel is standardised by running statistics over speech frames (time constant 3 s, frames
above -50 dBFS) and rescaled to the spread of the bridge's phone-table EMA; controls are the least
squares inverse of the table's EMA map, visemes and voicing the phones nearest in control space.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from bridge.errors import AudioError, ConfigError
from bridge.frames import F32, VISEMES, ModelOutput
from bridge.phonetics import PHONES, controls_to_ema, ema_to_controls
from bridge.upstream.heads import LinearHead

log = logging.getLogger(__name__)

HOP = 160
SAMPLE_RATE_HZ = 16000
_TAU_FRAMES = 300.0  # 3 s running statistics
_SPEECH_DB = -50.0
_VAR_FLOOR = 1e-6
_PHONE_SIGMA = 0.15  # control-space width of the nearest-phone softmax

_TARGETS = np.array([p.controls for p in PHONES.values()], dtype=np.float32).clip(0.0, 1.0)
_TARGET_EMA = controls_to_ema(_TARGETS)
_EMA_MEAN = _TARGET_EMA.mean(axis=0)
_EMA_STD = _TARGET_EMA.std(axis=0)
_PHONE_VISEMES = np.zeros((len(PHONES), len(VISEMES)), dtype=np.float32)
_PHONE_VISEMES[np.arange(len(PHONES)), [VISEMES.index(p.viseme) for p in PHONES.values()]] = 1.0
_PHONE_VOICED = np.array([p.voiced for p in PHONES.values()], dtype=np.float32)


class Encoder(Protocol):
    name: str
    n_hidden_states: int
    hidden_size: int
    stride_samples: int
    receptive_samples: int

    def hidden_state(self, samples: F32, layer: int, /) -> F32: ...


class _Standardiser:
    """Per-channel running mean and variance over speech frames, started from the first speech."""

    def __init__(self, n: int) -> None:
        self.mean = np.zeros(n, dtype=np.float64)
        self.var = np.ones(n, dtype=np.float64)
        self.started = False

    def process(self, x: F32, speech: np.ndarray) -> F32:
        """Standardised rows; NaN rows before the first speech frame."""
        out = np.full_like(x, np.nan)
        a = 1.0 / _TAU_FRAMES
        for i in range(x.shape[0]):
            if speech[i]:
                if not self.started:
                    first = x[i:][speech[i:]]
                    self.mean = first.mean(axis=0).astype(np.float64)
                    self.var = np.maximum(first.var(axis=0), _VAR_FLOOR).astype(np.float64)
                    self.started = True
                d = x[i] - self.mean
                self.mean += a * d
                self.var = np.maximum((1 - a) * (self.var + a * d * d), _VAR_FLOOR)
            if self.started:
                out[i] = (x[i] - self.mean) / np.sqrt(self.var)
        return out


def _nearest_phones(controls: F32) -> tuple[F32, F32]:
    """Viseme probabilities and voicing from a softmax over phones by distance in control space."""
    d2 = ((controls[:, None, :] - _TARGETS[None, :, :]) ** 2).sum(axis=2)
    logits = -d2 / (2 * _PHONE_SIGMA**2)
    w = np.exp(logits - logits.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return (w @ _PHONE_VISEMES).astype(np.float32), (w @ _PHONE_VOICED).astype(np.float32)


class SSLArticulationModel:
    """ArticulationModel over an SSL encoder layer and a linear head.

    Args:
        encoder: a loaded encoder (``SSLEncoder``).
        head: a 12-d EMA head fitted on ``layer``.
        layer: hidden-state index fed to the head.
        lookahead_ms: audio after a chunk's end that its window includes (multiple of 10).
        chunk_ms: frames computed per encoder run (multiple of 20, the encoder's frame step).
        context_ms: audio before a chunk that its window includes (multiple of 20).

    Raises:
        ConfigError: a layer the encoder lacks, a head of another width, or a bad chunk geometry.
    """

    sample_rate_hz: int = SAMPLE_RATE_HZ
    # Its voicing is the nearest phone's in control space, not heard: voice activity must not rely on it.
    hears_voicing: bool = False

    def __init__(
        self, encoder: Encoder, head: LinearHead, layer: int, lookahead_ms: int, chunk_ms: int, context_ms: int
    ) -> None:
        if not 0 <= layer < encoder.n_hidden_states:
            raise ConfigError(
                f"model.upstream_layer: {layer} is not a hidden state of {encoder.name} "
                f"(0..{encoder.n_hidden_states - 1})"
            )
        if head.n_features != encoder.hidden_size:
            raise ConfigError(
                f"model.head: {Path(head.source).name} expects {head.n_features} features, "
                f"{encoder.name} layer {layer} has {encoder.hidden_size}"
            )
        step_ms = encoder.stride_samples * 1000 // SAMPLE_RATE_HZ
        if chunk_ms % step_ms or context_ms % step_ms or lookahead_ms % 10:
            raise ConfigError(f"model.upstream_chunk_ms and upstream_context_ms must be multiples of {step_ms} ms")
        self.encoder = encoder
        self.head = head
        self.layer = layer
        self.name = f"ssl:{encoder.name}:L{layer}:{Path(head.source).name}"
        self.lookahead_s = (chunk_ms + lookahead_ms) / 1000
        self._chunk = chunk_ms // 10
        self._ahead = lookahead_ms // 10
        self._context = context_ms * SAMPLE_RATE_HZ // 1000
        self.reset()

    def reset(self) -> None:
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = 0  # stream index of _buf[0]
        self._n = 0
        self._next = 0  # next chunk to compute
        self._norm = _Standardiser(self.head.coef.shape[0])

    def process(self, samples: F32, /) -> ModelOutput:
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise AudioError(f"the model takes mono audio, got shape {x.shape}")
        self._buf = np.concatenate([self._buf, x])
        self._n += x.shape[0]
        first = self._next * self._chunk
        parts = []
        while ((self._next + 1) * self._chunk + self._ahead) * HOP <= self._n:
            parts.append(self._compute(self._next))
            self._next += 1
        keep_from = max(0, self._next * self._chunk * HOP - self._context)
        self._buf = self._buf[keep_from - self._buf_start :]
        self._buf_start = keep_from
        return ModelOutput.concat(first, parts)

    def flush(self) -> ModelOutput:
        n_frames = -(-self._n // HOP)
        first = self._next * self._chunk
        if n_frames <= first:
            self.reset()
            return ModelOutput.concat(first, [])
        last_chunk = (n_frames - 1) // self._chunk
        pad = ((last_chunk + 1) * self._chunk + self._ahead) * HOP - self._n
        self._buf = np.concatenate([self._buf, np.zeros(max(0, pad), dtype=np.float32)])
        parts = [self._compute(k) for k in range(self._next, last_chunk + 1)]
        out = ModelOutput.concat(first, parts)
        keep = n_frames - first
        self.reset()
        return ModelOutput(first, out.ema[:keep], out.controls[:keep], out.visemes[:keep], out.voicing[:keep])

    def _compute(self, k: int) -> ModelOutput:
        start = k * self._chunk * HOP
        win_start = max(0, start - self._context)
        win_end = ((k + 1) * self._chunk + self._ahead) * HOP
        audio = self._buf[win_start - self._buf_start : win_end - self._buf_start]
        if audio.shape[0] < self.encoder.receptive_samples:
            audio = np.pad(audio, (0, self.encoder.receptive_samples - audio.shape[0]))
        raw = self.head.apply(self.encoder.hidden_state(audio, self.layer))
        centres = win_start + np.arange(raw.shape[0]) * self.encoder.stride_samples + self.encoder.receptive_samples / 2
        idx = np.arange(k * self._chunk, (k + 1) * self._chunk)
        at = idx * HOP + HOP / 2
        ema_raw = np.stack([np.interp(at, centres, raw[:, c]) for c in range(raw.shape[1])], axis=1)
        at_buf = start - self._buf_start
        hops = self._buf[at_buf : at_buf + self._chunk * HOP].reshape(self._chunk, HOP)
        level_db = 10 * np.log10(np.mean(hops.astype(np.float64) ** 2, axis=1) + 1e-12)
        z = self._norm.process(ema_raw.astype(np.float32), level_db > _SPEECH_DB)
        # Before any speech there is nothing to scale by: the rest posture (EMA 0).
        ema = np.nan_to_num(_EMA_MEAN + _EMA_STD * z, nan=0.0).astype(np.float32)
        controls = ema_to_controls(ema)
        visemes, voicing = _nearest_phones(controls)
        return ModelOutput(int(idx[0]), ema, controls, visemes, voicing)

