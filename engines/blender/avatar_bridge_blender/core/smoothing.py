"""One-pole smoothing of a frame's channel values, driven by stream time (no bpy)."""

from __future__ import annotations

import math
from collections.abc import Sequence

# A gap this long (or time going backwards) means a new utterance or stream: start fresh.
RESET_GAP_S = 0.5


class Smoother:
    """Exponential smoothing with time constant ``time_constant_s`` (0 passes values through).

    The step uses the difference of the frames' stream times, so the result does not depend on
    how often the host polls.
    """

    def __init__(self, time_constant_s: float) -> None:
        self.time_constant_s = max(0.0, time_constant_s)
        self._state: list[float] | None = None
        self._t_s = 0.0

    def reset(self) -> None:
        self._state = None

    def step(self, values: Sequence[float], t_s: float) -> list[float]:
        """Smoothed copy of ``values`` for a frame at stream time ``t_s``."""
        state = self._state
        dt_s = t_s - self._t_s
        self._t_s = t_s
        if self.time_constant_s <= 0.0 or state is None or len(state) != len(values) or not 0.0 <= dt_s <= RESET_GAP_S:
            self._state = list(values)
            return list(values)
        alpha = 1.0 - math.exp(-dt_s / self.time_constant_s)
        for i, v in enumerate(values):
            state[i] += alpha * (v - state[i])
        return list(state)
