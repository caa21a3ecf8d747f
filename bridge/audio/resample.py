"""Streaming polyphase resampling and channel handling (pure numpy/scipy)."""

from __future__ import annotations

from math import gcd

import numpy as np
import numpy.typing as npt
from scipy.signal import firwin

from bridge.frames import F32

_HALF_TAPS_PER_PHASE = 10  # same filter length rule as scipy.signal.resample_poly
_MAX_BLOCK = 1 << 16  # input samples resampled at once


def to_mono(samples: npt.NDArray[np.floating], channel: int | None) -> F32:
    """Downmix (channel None) or select one channel of a (n,) or (n, channels) array.

    Raises:
        IndexError: the selected channel does not exist (callers turn this into their own error).
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 1:
        if channel not in (None, 0):
            raise IndexError(f"channel {channel} requested but the audio is mono")
        return x
    if channel is None:
        if x.shape[1] == 1:  # no downmix: a view, not a second copy of a long file
            return np.ascontiguousarray(x[:, 0])
        return np.ascontiguousarray(x.mean(axis=1, dtype=np.float32))
    if not 0 <= channel < x.shape[1]:
        n = x.shape[1]
        raise IndexError(f"channel {channel} requested but the audio has {n} channel{'s' if n > 1 else ''}"
                         f" (numbered from 0: {'0' if n == 1 else f'0-{n - 1}'})")  # fmt: skip
    return np.ascontiguousarray(x[:, channel])


class StreamingResampler:
    """Rational-ratio polyphase FIR resampler that carries its history across blocks.

    Feeding a signal in any block sizes gives exactly the same output as feeding it whole.
    The anti-aliasing filter is causal: output lags by (taps - 1) / 2 input-rate-upsampled samples
    (0.6 ms for 48 kHz -> 16 kHz).
    """

    def __init__(self, in_rate_hz: int, out_rate_hz: int) -> None:
        g = gcd(in_rate_hz, out_rate_hz)
        self.up = out_rate_hz // g
        self.down = in_rate_hz // g
        self.identity = self.up == 1 and self.down == 1
        max_rate = max(self.up, self.down)
        n_taps = 2 * _HALF_TAPS_PER_PHASE * max_rate + 1
        # At equal rates the filter is never used, and firwin rejects a cutoff of 1.
        h = np.zeros(n_taps) if self.identity else firwin(n_taps, 1.0 / max_rate, window=("kaiser", 5.0)) * self.up
        # Pad so every phase has the same number of taps; phase p uses h[p + j*up].
        self.taps_per_phase = -(-n_taps // self.up)
        h = np.concatenate([h, np.zeros(self.taps_per_phase * self.up - n_taps)])
        self.poly = h.reshape(self.taps_per_phase, self.up).T.astype(np.float64)  # (up, taps)
        self.history = np.zeros(self.taps_per_phase - 1, dtype=np.float64)
        self.n_in = 0  # input samples consumed so far
        self.n_out = 0  # output samples produced so far

    def process(self, block: F32) -> F32:
        if self.identity:
            return np.asarray(block, dtype=np.float32)
        if block.shape[0] > _MAX_BLOCK:
            # The gather below holds taps_per_phase values per output sample; bounded pieces keep a long
            # file's memory flat (an hour at 48 kHz whole would need tens of GB), with identical output.
            pieces = [self._process(block[i : i + _MAX_BLOCK]) for i in range(0, block.shape[0], _MAX_BLOCK)]
            return np.concatenate(pieces)
        return self._process(block)

    def _process(self, block: F32) -> F32:
        x = np.concatenate([self.history, np.asarray(block, dtype=np.float64)])
        base = self.n_in - self.history.size  # stream index of x[0]
        self.n_in += block.size
        # Output m needs input index n0 = floor(m*down/up) to be available.
        m_end = (self.n_in * self.up + self.down - 1) // self.down
        m = np.arange(self.n_out, m_end)
        out = np.empty(0, dtype=np.float32)
        if m.size:
            n0 = (m * self.down) // self.up
            phase = (m * self.down) % self.up
            # The history (zeros before the stream starts) always holds every earlier sample needed.
            idx = (n0 - base)[:, None] - np.arange(self.taps_per_phase)[None, :]
            out = np.einsum("ij,ij->i", x[idx], self.poly[phase]).astype(np.float32)
            self.n_out = int(m_end)
        keep = self.taps_per_phase - 1
        self.history = x[-keep:] if keep else x[:0]
        return out


def resample(samples: F32, in_rate_hz: int, out_rate_hz: int) -> F32:
    """Resample a whole signal with the same filter as the streaming path."""
    return StreamingResampler(in_rate_hz, out_rate_hz).process(samples)
