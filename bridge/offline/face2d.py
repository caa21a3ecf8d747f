"""A 2-D vector face drawn from one FacePose (PIL): enough to judge lip sync, gaze, brows, head and mood.

Everything is built as polygons in face coordinates (origin at the face centre, x to the viewer's
right, y down, unit = head half-height), then rolled, shifted by yaw and pitch, and scaled to the
image. The subject faces the viewer, so the subject's left is the viewer's right.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from bridge.frames import ARKIT_INDEX, JOINT_NAMES, FacePose

Points = npt.NDArray[np.float64]
RGB = tuple[int, int, int]

_I = ARKIT_INDEX
_J = {n: i for i, n in enumerate(JOINT_NAMES)}

MOOD_TINT: dict[str, RGB] = {
    "neutral": (58, 64, 78), "happy": (120, 96, 40), "sad": (40, 60, 110), "angry": (120, 40, 40),
    "disgusted": (60, 100, 50), "afraid": (90, 60, 110), "surprised": (130, 90, 40),
}  # fmt: skip
SKIN: RGB = (236, 200, 170)
LIP: RGB = (196, 92, 96)
MOUTH: RGB = (70, 20, 30)
TEETH: RGB = (245, 245, 240)
TONGUE: RGB = (222, 110, 120)
INK: RGB = (60, 40, 35)
IRIS: RGB = (70, 110, 150)


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 40) -> Points:
    a = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], axis=1)


def _bs(pose: FacePose, name: str) -> float:
    return float(pose.blendshapes[_I[name]])


def _mean(pose: FacePose, stem: str) -> float:
    return 0.5 * (_bs(pose, stem + "Left") + _bs(pose, stem + "Right"))


class FaceRenderer:
    """Draws poses into ``size`` x ``size`` RGB frames.

    Args:
        size: image width and height in pixels (even, for yuv420p video).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._scale = size * 0.36

    def _to_image(self, pts: Points, pose: FacePose, depth: float = 1.0) -> list[tuple[float, float]]:
        yaw = float(pose.joints[_J["head_yaw_rad"]])
        pitch = float(pose.joints[_J["head_pitch_rad"]])
        roll = float(pose.joints[_J["head_roll_rad"]])
        # Roll toward the subject's left tips the top of the head to the viewer's right (clockwise).
        c, s = np.cos(-roll), np.sin(-roll)
        x = c * pts[:, 0] - s * pts[:, 1]
        y = s * pts[:, 0] + c * pts[:, 1]
        # Features on the front of the face move more with a turn than the outline (depth < 1),
        # which reads as a rotation on a flat drawing.
        x = x + 0.9 * depth * np.sin(yaw)
        y = y - 0.9 * depth * np.sin(pitch)
        cx, cy = self.size / 2, self.size * 0.5
        return list(zip((cx + x * self._scale).tolist(), (cy + y * self._scale).tolist(), strict=True))

    def _poly(self, draw: ImageDraw.ImageDraw, pts: Points, pose: FacePose, fill: RGB | None,
              outline: RGB | None = None, width: int = 1, depth: float = 1.0) -> None:  # fmt: skip
        draw.polygon(self._to_image(pts, pose, depth), fill=fill, outline=outline, width=width)

    def _line(self, draw: ImageDraw.ImageDraw, pts: Points, pose: FacePose, fill: RGB, width: int) -> None:
        draw.line(self._to_image(pts, pose), fill=fill, width=width, joint="curve")

    def render(self, pose: FacePose, caption: str = "") -> Image.Image:
        """One frame; ``caption`` is written in the top-left corner."""
        tint = MOOD_TINT.get(pose.mood, MOOD_TINT["neutral"])
        base = np.array(MOOD_TINT["neutral"], dtype=float)
        bg = tuple(int(v) for v in base + pose.mood_intensity * (np.array(tint, dtype=float) - base))
        img = Image.new("RGB", (self.size, self.size), bg)
        draw = ImageDraw.Draw(img)
        jaw = _bs(pose, "jawOpen")
        self._head(draw, pose, jaw)
        for side, sx in (("Left", 1.0), ("Right", -1.0)):
            self._eye(draw, pose, side, sx)
            self._brow(draw, pose, side, sx)
        self._nose(draw, pose)
        self._mouth(draw, pose, jaw)
        if caption:
            draw.text((6, 4), caption, fill=(235, 235, 235))
        return img

    def _head(self, draw: ImageDraw.ImageDraw, pose: FacePose, jaw: float) -> None:
        head = _ellipse(0.0, 0.0, 0.78 + 0.06 * _bs(pose, "cheekPuff"), 1.0, 64)
        lower = head[:, 1] > 0.1
        head[lower, 1] += (head[lower, 1] - 0.1) * 0.35 * jaw  # the chin drops with the jaw
        self._poly(draw, head, pose, SKIN, INK, 2, depth=0.5)
        for sx, side in ((1.0, "Left"), (-1.0, "Right")):
            blush = _bs(pose, "cheekSquint" + side) + 0.5 * _bs(pose, "mouthSmile" + side)
            if blush > 0.05:
                c = tuple(int(v) for v in np.array(SKIN) + min(1.0, blush) * (np.array((240, 140, 140)) - SKIN))
                self._poly(draw, _ellipse(sx * 0.45, 0.28, 0.14, 0.08, 20), pose, c)  # type: ignore[arg-type]

    def _eye(self, draw: ImageDraw.ImageDraw, pose: FacePose, side: str, sx: float) -> None:
        ex, ey = sx * 0.32, -0.18
        blink = _bs(pose, "eyeBlink" + side)
        open_ = (
            max(0.0, 1.0 - blink)
            * (1.0 + 0.5 * _bs(pose, "eyeWide" + side))
            * (1.0 - 0.4 * _bs(pose, "eyeSquint" + side))
        )
        half_h = 0.09 * open_
        if half_h < 0.008:
            self._line(draw, np.array([[ex - 0.13, ey], [ex, ey + 0.015], [ex + 0.13, ey]]), pose, INK, 2)
            return
        white = _ellipse(ex, ey, 0.13, half_h, 28)
        self._poly(draw, white, pose, (250, 250, 250), INK, 1)
        prefix = "eye_left" if side == "Left" else "eye_right"
        gx = np.sin(float(pose.joints[_J[prefix + "_yaw_rad"]])) * 0.16
        gy = -np.sin(float(pose.joints[_J[prefix + "_pitch_rad"]])) * 0.16
        ir = min(0.06, half_h * 0.95)
        self._poly(draw, _ellipse(ex + gx, ey + gy, 0.06, ir, 20), pose, IRIS)
        self._poly(draw, _ellipse(ex + gx, ey + gy, 0.028, min(0.028, ir), 12), pose, (20, 20, 25))

    def _brow(self, draw: ImageDraw.ImageDraw, pose: FacePose, side: str, sx: float) -> None:
        inner_up = _bs(pose, "browInnerUp")
        outer_up = _bs(pose, "browOuterUp" + side)
        down = _bs(pose, "browDown" + side)
        inner = np.array([sx * 0.14, -0.38 - 0.15 * inner_up + 0.16 * down])
        outer = np.array([sx * 0.46, -0.36 - 0.15 * outer_up + 0.04 * down])
        mid = 0.5 * (inner + outer) + np.array([0.0, -0.04])
        self._line(draw, np.stack([inner, mid, outer]), pose, INK, max(2, self.size // 90))

    def _nose(self, draw: ImageDraw.ImageDraw, pose: FacePose) -> None:
        sneer = _mean(pose, "noseSneer")
        pts = np.array([[0.0, -0.1], [-0.05, 0.12 - 0.04 * sneer], [0.05, 0.14 - 0.04 * sneer]])
        self._line(draw, pts, pose, INK, 2)

    def _mouth(self, draw: ImageDraw.ImageDraw, pose: FacePose, jaw: float) -> None:
        round_ = max(_bs(pose, "mouthPucker"), 0.8 * _bs(pose, "mouthFunnel"))
        half_w = 0.26 * (1.0 + 0.3 * _mean(pose, "mouthStretch") + 0.2 * _mean(pose, "mouthSmile") - 0.45 * round_)
        shift = 0.08 * (_bs(pose, "mouthLeft") - _bs(pose, "mouthRight")) + 0.05 * (
            _bs(pose, "jawLeft") - _bs(pose, "jawRight")
        )
        my = 0.45 + 0.12 * jaw
        # Opening as the face solver defines it: jaw minus closure plus the lips' own motion.
        opening = max(
            0.0, jaw - _bs(pose, "mouthClose") + 0.5 * _mean(pose, "mouthLowerDown") + 0.5 * _mean(pose, "mouthUpperUp")
        )
        gap = 0.45 * opening
        corners = []
        for side, sx in (("Left", 1.0), ("Right", -1.0)):
            lift = 0.06 * _bs(pose, "mouthSmile" + side) - 0.06 * _bs(pose, "mouthFrown" + side)
            corners.append(np.array([shift + sx * half_w, my - lift]))
        left, right = corners
        thick = 0.045 * (1.0 - 0.5 * _bs(pose, "mouthRollUpper")) * (1.0 + 0.6 * round_)
        thick_lo = 0.055 * (1.0 - 0.5 * _bs(pose, "mouthRollLower")) * (1.0 + 0.6 * round_)
        press = _mean(pose, "mouthPress")
        t = np.linspace(0.0, 1.0, 13)
        xs = right[0] + (left[0] - right[0]) * t
        base_y = right[1] + (left[1] - right[1]) * t
        bulge = np.sin(np.pi * t)
        inner_top = base_y - 0.5 * gap * bulge
        inner_bot = base_y + 0.5 * gap * bulge
        outer_top = inner_top - thick * (0.4 + 0.6 * bulge) * (1.0 - 0.3 * press)
        outer_bot = inner_bot + thick_lo * (0.4 + 0.6 * bulge) * (1.0 - 0.3 * press)
        if gap > 0.004:
            cavity = np.concatenate([np.stack([xs, inner_top], 1), np.stack([xs, inner_bot], 1)[::-1]])
            self._poly(draw, cavity, pose, MOUTH)
            teeth_h = min(gap * 0.45, 0.05)
            teeth = np.concatenate([np.stack([xs, inner_top], 1), np.stack([xs, inner_top + teeth_h * bulge], 1)[::-1]])
            self._poly(draw, teeth[np.r_[2:11, 15:24]], pose, TEETH)
            tip_up = float(pose.joints[_J["tongue_tip_up"]])
            out = _bs(pose, "tongueOut")
            ty = my + 0.5 * gap - 0.35 * gap * max(0.0, tip_up) - 0.02
            tongue = _ellipse(shift, ty + 0.04 * out, half_w * 0.55, max(0.02, 0.4 * gap) + 0.03 * out, 24)
            tongue[:, 1] = np.minimum(tongue[:, 1], my + 0.5 * gap + 0.05 * out)
            self._poly(draw, tongue, pose, TONGUE)
        upper = np.concatenate([np.stack([xs, outer_top], 1), np.stack([xs, inner_top], 1)[::-1]])
        lower = np.concatenate([np.stack([xs, inner_bot], 1), np.stack([xs, outer_bot], 1)[::-1]])
        self._poly(draw, upper, pose, LIP, INK)
        self._poly(draw, lower, pose, LIP, INK)


def frame_array(img: Image.Image) -> npt.NDArray[np.uint8]:
    return np.asarray(img, dtype=np.uint8)
