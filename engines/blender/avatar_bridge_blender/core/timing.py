"""Stream time <-> scene frame math and the choice of which samples become keyframes (no bpy)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FrameConfig:
    """A scene's frame rate and where stream time 0 lands.

    Attributes:
        fps: scene frames per second numerator (``scene.render.fps``).
        fps_base: divisor (``scene.render.fps_base``; 1.001 for 29.97).
        start_frame: scene frame (may be fractional) that shows stream time 0.
    """

    fps: int
    fps_base: float = 1.0
    start_frame: float = 1.0

    @property
    def rate_hz(self) -> float:
        return self.fps / self.fps_base


def time_to_frame(t_s: float, cfg: FrameConfig) -> float:
    """Scene frame (fractional) showing stream time ``t_s``."""
    return cfg.start_frame + t_s * cfg.rate_hz


def frame_to_time(frame: float, cfg: FrameConfig) -> float:
    """Stream time (s) shown on scene frame ``frame``."""
    return (frame - cfg.start_frame) / cfg.rate_hz


def nearest_frame(t_s: float, cfg: FrameConfig) -> int:
    """Whole scene frame nearest to stream time ``t_s`` (halves round up, unlike round())."""
    return math.floor(time_to_frame(t_s, cfg) + 0.5)


class KeyPicker:
    """Decides which incoming samples become keyframes on whole scene frames.

    Each sample goes to its nearest scene frame; a frame keeps the sample closest to its exact
    time, so a later, closer sample replaces an earlier one (``keyframe_insert`` overwrites).
    """

    def __init__(self, cfg: FrameConfig) -> None:
        self.cfg = cfg
        self._best: dict[int, float] = {}

    def offer(self, t_s: float) -> int | None:
        """The frame to key this sample on, or None when a closer sample already holds it."""
        exact = time_to_frame(t_s, self.cfg)
        frame = nearest_frame(t_s, self.cfg)
        distance = abs(exact - frame)
        best = self._best.get(frame)
        if best is not None and best <= distance:
            return None
        self._best[frame] = distance
        return frame

    @property
    def frames(self) -> list[int]:
        """The frames keyed so far, sorted."""
        return sorted(self._best)


def pick_keys(times_s: Iterable[float], cfg: FrameConfig) -> dict[int, int]:
    """For a whole recording: scene frame -> index of the sample keyed there."""
    best: dict[int, tuple[float, int]] = {}
    for i, t_s in enumerate(times_s):
        frame = nearest_frame(t_s, cfg)
        distance = abs(time_to_frame(t_s, cfg) - frame)
        if frame not in best or distance < best[frame][0]:
            best[frame] = (distance, i)
    return {f: i for f, (_, i) in sorted(best.items())}


class StrayGate:
    """Passes stream times, except a lone one far ahead of the others (a corrupt or forged packet).

    One frame claiming t = 100,000 s sent every later key of a take past frame 2,400,000. A sender
    whose time really jumped ahead sends more frames near the new time: the second one is let through.
    """

    def __init__(self, max_jump_s: float = 60.0, confirm_s: float = 1.0) -> None:
        self._max_jump_s = max_jump_s
        self._confirm_s = confirm_s
        self._last_s: float | None = None
        self._pending_s: float | None = None
        self.dropped = 0

    def accept(self, t_s: float) -> bool:
        ahead = self._last_s is not None and t_s - self._last_s > self._max_jump_s
        confirmed = self._pending_s is not None and abs(t_s - self._pending_s) <= self._confirm_s
        if ahead and not confirmed:
            self._pending_s = t_s
            self.dropped += 1
            return False
        self._last_s, self._pending_s = t_s, None
        return True
