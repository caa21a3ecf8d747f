"""Audio time to scene frames: Maya time units, resampling a take onto whole frames, key thinning.

Host-free (no maya import).
"""

from __future__ import annotations

import bisect
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
    "sec": 1.0,
    "millisec": 1000.0,
}
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


def resample(
    times_s: list[float], rows: list[list[float]], clock: SceneClock
) -> list[tuple[int, list[float]]]:
    """Linearly interpolate a take onto every whole scene frame it covers.

    Args:
        times_s: stream time of each row; need not be sorted (UDP may reorder); duplicates keep
            the last row.
        rows: one list of channel values per time, all the same length.
        clock: where the take sits on the timeline.

    Returns:
        (frame, values) for each whole frame from the first to the last sample, in order.
    """
    by_time = dict(zip(times_s, rows))  # noqa: B905 (zip strict= needs Python 3.10)
    ts = sorted(by_time)
    if not ts:
        return []
    if len(ts) == 1:
        frame = round(clock.frame(ts[0]))
        return [(frame, list(by_time[ts[0]]))]
    frames = [clock.frame(t) for t in ts]
    out: list[tuple[int, list[float]]] = []
    first = int(-(-frames[0] // 1))  # ceil
    for f in range(first, int(frames[-1] // 1) + 1):
        i = bisect.bisect_right(frames, f)
        if i >= len(frames):
            out.append((f, list(by_time[ts[-1]])))
            continue
        f0, f1 = frames[i - 1], frames[i]
        a, b = by_time[ts[i - 1]], by_time[ts[i]]
        w = (f - f0) / (f1 - f0)
        out.append((f, [x + (y - x) * w for x, y in zip(a, b)]))  # noqa: B905
    return out


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
