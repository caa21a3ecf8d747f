"""Live Link Face CSV, the layout the Live Link Face app writes when it exports a take.

Header: ``Timecode,BlendShapeCount`` then 61 PascalCase columns: the 52 ARKit shapes (with
``JawRight,JawLeft`` and ``MouthRight,MouthLeft`` swapped relative to the network/EARFaceBlendShape
order), then HeadYaw, HeadPitch, HeadRoll, LeftEyeYaw, LeftEyePitch, LeftEyeRoll, RightEyeYaw,
RightEyePitch, RightEyeRoll. ``BlendShapeCount`` is always 61. Timecode is ``HH:MM:SS:FF.fff``: FF
counts frames at the take's rate and ``.fff`` is the sub-frame fraction.
"""

from __future__ import annotations

from typing import TextIO

import numpy as np

from bridge.frames import ARKIT_INDEX, ARKIT_NAMES, JOINT_NAMES
from bridge.offline.take import Take

# Columns the app writes in a different order from ARKit/EARFaceBlendShape (protocols.md §2 pitfall).
_CSV_SWAPS = {"jawLeft": "jawRight", "jawRight": "jawLeft", "mouthLeft": "mouthRight", "mouthRight": "mouthLeft"}
CSV_SHAPES: tuple[str, ...] = tuple(_CSV_SWAPS.get(n, n) for n in ARKIT_NAMES)
ROTATION_COLUMNS: tuple[str, ...] = (
    "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)  # fmt: skip
HEADER: tuple[str, ...] = (
    "Timecode",
    "BlendShapeCount",
    *(n[0].upper() + n[1:] for n in CSV_SHAPES),
    *ROTATION_COLUMNS,
)
BLENDSHAPE_COUNT = 61
_SHAPE_COLUMNS = np.array([ARKIT_INDEX[n] for n in CSV_SHAPES])
_J = {n: i for i, n in enumerate(JOINT_NAMES)}


def timecode(t_s: float, fps: int) -> str:
    """``HH:MM:SS:FF.fff`` for a time in seconds at ``fps`` frames per second."""
    frames_total = t_s * fps
    whole = int(np.floor(frames_total + 1e-9))
    sub = max(0.0, frames_total - whole)
    seconds, ff = divmod(whole, fps)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}.{min(int(round(sub * 1000)), 999):03d}"


def rotations(joints: np.ndarray) -> np.ndarray:
    """(n, 9) head and eye rotations in the CSV's column order, radians; eyes have no roll."""
    zero = np.zeros(joints.shape[0], dtype=np.float64)
    return np.stack(
        [
            joints[:, _J["head_yaw_rad"]], joints[:, _J["head_pitch_rad"]], joints[:, _J["head_roll_rad"]],
            joints[:, _J["eye_left_yaw_rad"]], joints[:, _J["eye_left_pitch_rad"]], zero,
            joints[:, _J["eye_right_yaw_rad"]], joints[:, _J["eye_right_pitch_rad"]], zero,
        ],
        axis=1,
    )  # fmt: skip


def write(take: Take, out: TextIO) -> None:
    """Write the header and one row per frame."""
    out.write(",".join(HEADER) + "\n")
    shapes = np.clip(take.blendshapes()[:, _SHAPE_COLUMNS], 0.0, 1.0)
    rots = rotations(take.joints())
    for f, row_shapes, row_rots in zip(take.frames, shapes.tolist(), rots.tolist(), strict=True):
        cells = [timecode(f.t_s, take.fps), str(BLENDSHAPE_COUNT)]
        cells += [f"{v:.6f}" for v in row_shapes]
        cells += [f"{v:.6f}" for v in row_rots]
        out.write(",".join(cells) + "\n")
