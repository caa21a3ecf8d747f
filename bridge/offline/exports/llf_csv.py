"""Live Link Face CSV, the layout the Live Link Face app writes when it exports a take.

Header: ``Timecode,BlendShapeCount`` then 61 PascalCase columns: the 52 ARKit shapes (with
``JawRight,JawLeft`` and ``MouthRight,MouthLeft`` swapped relative to the network/EARFaceBlendShape
order), then HeadYaw, HeadPitch, HeadRoll, LeftEyeYaw, LeftEyePitch, LeftEyeRoll, RightEyeYaw,
RightEyePitch, RightEyeRoll. ``BlendShapeCount`` is always 61. The values are exactly the 61 floats
the bridge's Live Link Face publisher sends (``encoding.llf_values``: angles as -1..1, 1 = 90°),
only reordered into the CSV's columns. Timecode is ``HH:MM:SS:FF.fff`` with FF counted in 60ths
of a second and ``.fff`` the sub-frame fraction, whatever the take's rate: the app writes it so (a
30 fps take steps FF by 2), and importers place rows by it.
"""

from __future__ import annotations

from typing import TextIO

import numpy as np

from bridge.offline.take import Take
from bridge.transports.encoding import LLF_CURVE_NAMES, llf_frame_time, llf_values

# Columns the app writes in a different order from EARFaceBlendShape (protocols.md §2 pitfall).
_CSV_SWAPS = {"JawLeft": "JawRight", "JawRight": "JawLeft", "MouthLeft": "MouthRight", "MouthRight": "MouthLeft"}
CSV_COLUMNS: tuple[str, ...] = tuple(_CSV_SWAPS.get(n, n) for n in LLF_CURVE_NAMES)
HEADER: tuple[str, ...] = ("Timecode", "BlendShapeCount", *CSV_COLUMNS)
BLENDSHAPE_COUNT = 61
_FROM_UDP = np.array([LLF_CURVE_NAMES.index(n) for n in CSV_COLUMNS])


TIMECODE_FPS = 60


def timecode(t_s: float) -> str:
    """``HH:MM:SS:FF.fff`` for a time in seconds, FF in 60ths of a second."""
    number, sub, _, _ = llf_frame_time(t_s, TIMECODE_FPS)
    seconds, ff = divmod(number, TIMECODE_FPS)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}.{min(int(round(sub * 1000)), 999):03d}"


def write(take: Take, out: TextIO) -> None:
    """Write the header and one row per frame."""
    out.write(",".join(HEADER) + "\n")
    for f in take.frames:
        values = np.asarray(llf_values(f), dtype=np.float64)[_FROM_UDP]
        cells = [timecode(f.t_s), str(BLENDSHAPE_COUNT), *(f"{v:.6f}" for v in values.tolist())]
        out.write(",".join(cells) + "\n")
