"""BVH motion of the head, jaw and eyes (Biovision hierarchy, the format every DCC imports).

Skeleton (centimetres, Y up, the face looks along +Z, the subject's left is +X)::

    Head (root, 6 channels: position and ZXY rotation)
      Jaw       (3 rotation channels)  hinge below and behind the mouth, End Site at the chin
      LeftEye   (3 rotation channels)
      RightEye  (3 rotation channels)

Rotations are in degrees with the ``Zrotation Xrotation Yrotation`` channel order. Positive
Yrotation turns toward the subject's left (our yaw), positive Xrotation tips the face down, so
head and eye pitch (positive up) are negated and jaw opening is positive; positive Zrotation rolls
toward the subject's right, so roll (positive toward the left) is negated. Positions stay 0: the
bridge animates rotation only. One MOTION row per frame at the take's frame rate.
"""

from __future__ import annotations

from typing import TextIO

import numpy as np

from bridge.frames import JOINT_NAMES
from bridge.offline.take import Take

_J = {n: i for i, n in enumerate(JOINT_NAMES)}
JOINTS: tuple[str, ...] = ("Head", "Jaw", "LeftEye", "RightEye")

_HIERARCHY = """HIERARCHY
ROOT Head
{
\tOFFSET 0.00 0.00 0.00
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\tJOINT Jaw
\t{
\t\tOFFSET 0.00 -2.50 1.50
\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0.00 -4.50 8.00
\t\t}
\t}
\tJOINT LeftEye
\t{
\t\tOFFSET 3.20 4.00 8.50
\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0.00 0.00 1.20
\t\t}
\t}
\tJOINT RightEye
\t{
\t\tOFFSET -3.20 4.00 8.50
\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0.00 0.00 1.20
\t\t}
\t}
}
"""


def motion(joints: np.ndarray) -> np.ndarray:
    """(n, 15) MOTION values in hierarchy/channel order, degrees."""
    j = np.degrees(joints.astype(np.float64))
    n = j.shape[0]
    zero = np.zeros(n)
    return np.stack(
        [
            zero, zero, zero,  # Head position
            -j[:, _J["head_roll_rad"]], -j[:, _J["head_pitch_rad"]], j[:, _J["head_yaw_rad"]],
            zero, j[:, _J["jaw_open_rad"]], zero,
            zero, -j[:, _J["eye_left_pitch_rad"]], j[:, _J["eye_left_yaw_rad"]],
            zero, -j[:, _J["eye_right_pitch_rad"]], j[:, _J["eye_right_yaw_rad"]],
        ],
        axis=1,
    )  # fmt: skip


def write(take: Take, out: TextIO) -> None:
    out.write(_HIERARCHY)
    values = motion(take.joints())
    values = np.round(values, 4) + 0.0  # no "-0.0000" cells, even from tiny negatives
    out.write("MOTION\n")
    out.write(f"Frames: {values.shape[0]}\n")
    # Ten decimals: Blender sets the scene's rate from this, and 0.016667 gives 59.9988 fps (a drift of
    # 72 ms an hour against the audio); 0.0166666667 gives 60.
    out.write(f"Frame Time: {1.0 / take.fps:.10f}\n")
    for row in values.tolist():
        out.write(" ".join(f"{v:.4f}" for v in row) + "\n")
