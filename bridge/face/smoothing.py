"""Output smoothing: a one-pole low-pass per channel, with clamping to each channel's range."""

from __future__ import annotations

import math

import numpy as np

from bridge.frames import F32


class OnePole:
    """y += a * (x - y) with a = 1 - exp(-dt / tau).

    A one-pole filter's output is a convex combination of its inputs, so it never overshoots: inputs
    inside [lo, hi] give outputs inside [lo, hi]. Its group delay at low frequencies equals tau, so
    tau <= 10 ms adds at most 10 ms of lag. The first sample passes through unchanged.
    """

    def __init__(self, tau_ms: float, lo: F32, hi: F32) -> None:
        self.tau_ms = tau_ms
        self.lo = lo
        self.hi = hi
        self._y: F32 | None = None

    def process(self, x: F32, dt_s: float) -> F32:
        x = np.clip(x, self.lo, self.hi)
        if self._y is None or self.tau_ms <= 0.0:
            self._y = x.astype(np.float32)
        else:
            a = 1.0 - math.exp(-dt_s * 1000.0 / self.tau_ms)
            self._y = (self._y + np.float32(a) * (x - self._y)).astype(np.float32)
        return np.clip(self._y, self.lo, self.hi)

    def reset(self) -> None:
        self._y = None
