"""Audio time to scene frames: Maya time units, resampling a take onto whole frames, key thinning.

Host-free (no maya import).
"""

from __future__ import annotations

import math
import re

# Maya's named time units (cmds.currentUnit(q=True, time=True)) in frames per second.
_NAMED_UNITS = {
    "game": 15.0,
    "film": 24.0,
    "pal": 25.0,
    "ntsc": 30.0,
    "show": 48.0,
    "palf": 50.0,
    "ntscf": 60.0,
    "ntscField": 60.0,
    "palField": 50.0,
    "hour": 1.0 / 3600.0,
    "min": 1.0 / 60.0,
    "sec": 1.0,
    "millisec": 1000.0,
}
# Stream time going back further than this is a new run of the sender, not UDP reordering.
RESTART_S = 0.25
# Samples further apart than this are not bridged by interpolated keys (a stray time in a file
# would otherwise key every scene frame up to it).
MAX_GAP_S = 1.0
STRAY_JUMP_S = 60.0
_FPS_UNIT = re.compile(r"^(\d+(?:\.\d+)?)(?:fps|df)$")


def fps_from_time_unit(unit: str) -> float:
    """Frames per second of a Maya time unit ("film", "ntsc", "23.976fps", "29.97df", "120fps"...).

    Raises:
        ValueError: a unit this function does not know.
    """
    if unit in _NAMED_UNITS:
        return _NAMED_UNITS[unit]
    match = _FPS_UNIT.match(unit)
    if match is None:
        raise ValueError(f"unknown Maya time unit {unit!r}")
    return float(match.group(1))


class SceneClock:
    """Maps stream time (seconds from the start of the audio) to scene frames.

    Attributes:
        fps: scene frame rate.
        start_frame: scene frame that shows stream time ``t0_s``.
        t0_s: stream time placed at ``start_frame``.
    """

    __slots__ = ("fps", "start_frame", "t0_s")

    def __init__(self, fps: float, start_frame: float, t0_s: float = 0.0) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = fps
        self.start_frame = start_frame
        self.t0_s = t0_s

    def frame(self, t_s: float) -> float:
        return self.start_frame + (t_s - self.t0_s) * self.fps

    def time_s(self, frame: float) -> float:
        return self.t0_s + (frame - self.start_frame) / self.fps


def drop_strays(times_s: list[float]) -> list[int]:
    """Indices of a live take's samples to keep (arrival order): a lone one more than STRAY_JUMP_S ahead
    of the sample before it (a corrupt or forged packet) is left out; it would have stretched the take
    over hours and moved everything after it. The next sample close to it means the sender's time
    really jumped: then it is kept."""
    keep: list[int] = []
    last = None
    for i, t in enumerate(times_s):
        ahead = last is not None and t - last > STRAY_JUMP_S
        confirmed = i + 1 < len(times_s) and abs(times_s[i + 1] - t) <= MAX_GAP_S
        if ahead and not confirmed:
            continue
        keep.append(i)
        last = t
    return keep


def join_restarts(times_s: list[float]) -> tuple[list[float], int]:
    """A live take's stream times (in arrival order) with each restart of the sender moved to
    follow what came before, so a second run continues the take instead of landing on the first.

    Returns:
        (times, restarts): the adjusted times and how many restarts were found.
    """
    out: list[float] = []
    offset, newest, step_s, restarts = 0.0, float("-inf"), 1.0 / 60.0, 0
    for t in times_s:
        if newest - (t + offset) > RESTART_S:
            offset = newest + step_s - t  # one frame interval after the newest sample so far
            restarts += 1
        elif out and 0.0 < t + offset - out[-1] <= MAX_GAP_S:
            step_s = t + offset - out[-1]
        out.append(t + offset)
        newest = max(newest, t + offset)
    return out, restarts


def resample(times_s: list[float], rows: list[list[float]], clock: SceneClock) -> list[tuple[int, list[float]]]:
    """Linearly interpolate a take onto the whole scene frames it covers.

    Frames between samples more than MAX_GAP_S apart are left unkeyed, and a sample with no whole
    frame between it and its neighbours is keyed on its nearest frame, so every sample shows.

    Args:
        times_s: stream time of each row; need not be sorted (UDP may reorder); duplicates keep
            the last row.
        rows: one list of channel values per time, all the same length.
        clock: where the take sits on the timeline.

    Returns:
        (frame, values) in frame order.
    """
    by_time = dict(zip(times_s, rows))  # noqa: B905 (zip strict= needs Python 3.10)
    ts = sorted(by_time)
    frames = [clock.frame(t) for t in ts]
    out: dict[int, list[float]] = {}
    for i in range(1, len(ts)):
        if ts[i] - ts[i - 1] > MAX_GAP_S:
            continue
        f0, f1 = frames[i - 1], frames[i]
        a, b = by_time[ts[i - 1]], by_time[ts[i]]
        for f in range(int(-(-f0 // 1)), int(f1 // 1) + 1):  # ceil(f0)..floor(f1)
            w = (f - f0) / (f1 - f0)
            out[f] = [x + (y - x) * w for x, y in zip(a, b)]  # noqa: B905
    nearest: dict[int, tuple[float, float]] = {}  # frame -> (distance, time) of its closest sample
    for t, f in zip(ts, frames):  # noqa: B905
        whole = math.floor(f + 0.5)
        if whole not in out and (whole not in nearest or abs(f - whole) < nearest[whole][0]):
            nearest[whole] = (abs(f - whole), t)
    out.update((f, list(by_time[t])) for f, (_, t) in nearest.items())
    return sorted(out.items())


def thin_keys(keys: list[tuple[int, float]], tolerance: float = 1e-5) -> list[tuple[int, float]]:
    """Drop keys that equal both neighbours (the flat middle of a hold); ends are always kept."""
    if len(keys) <= 2:
        return list(keys)
    out = [keys[0]]
    for prev, cur, nxt in zip(keys, keys[1:], keys[2:]):  # noqa: B905
        if abs(cur[1] - prev[1]) <= tolerance and abs(cur[1] - nxt[1]) <= tolerance:
            continue
        out.append(cur)
    out.append(keys[-1])
    return out
