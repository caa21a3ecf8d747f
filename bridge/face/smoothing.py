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
        # ufuncs with out= instead of np.clip and temporaries: this runs on ~100 channels per 10 ms frame.
        x = np.maximum(x, self.lo, dtype=np.float32)
        np.minimum(x, self.hi, out=x)
        if self._y is None or self.tau_ms <= 0.0:
            self._y = x
        else:
            a = 1.0 - math.exp(-dt_s * 1000.0 / self.tau_ms)
            x -= self._y
            x *= np.float32(a)
            self._y += x
        y: F32 = np.maximum(self._y, self.lo)
        np.minimum(y, self.hi, out=y)
        return y

    def reset(self) -> None:
        self._y = None
