"""The result of baking one audio file: frames plus what exporters need to describe them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bridge.frames import ARKIT_INDEX, F32, JOINT_NAMES, VISEMES, AnimationFrame


@dataclass(frozen=True, slots=True)
class Phone:
    """One aligned phone.

    Attributes:
        name: ARPAbet symbol without stress digits, "SIL" for pauses.
        start_s: start, seconds from the start of the file.
        end_s: end, seconds from the start of the file.
    """

    name: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Take:
    """A baked file.

    Attributes:
        source: the audio file.
        duration_s: length of the audio.
        fps: frame rate of ``frames``.
        frames: one frame per 1/fps, in time order.
        phones: phones from transcript alignment (empty without a transcript).
        transcript: the normalized words that were aligned ("" without a transcript).
        warnings: problems worth telling the user that did not stop the bake.
    """

    source: Path
    duration_s: float
    fps: int
    frames: tuple[AnimationFrame, ...]
    phones: tuple[Phone, ...] = ()
    transcript: str = ""
    warnings: tuple[str, ...] = field(default=())

    @property
    def times_s(self) -> F32:
        return np.array([f.t_s for f in self.frames], dtype=np.float32)

    def blendshapes(self) -> F32:
        """(n, 52) blendshape weights in ARKIT_NAMES order."""
        return _stack([f.pose.blendshapes for f in self.frames], 52)

    def joints(self) -> F32:
        """(n, 12) joint values in JOINT_NAMES order."""
        return _stack([f.pose.joints for f in self.frames], len(JOINT_NAMES))

    def visemes(self) -> F32:
        """(n, 15) viseme weights in VISEMES order."""
        return _stack([f.pose.visemes for f in self.frames], len(VISEMES))

    def ema(self) -> F32:
        """(n, 12) EMA in mm."""
        return _stack([f.pose.ema for f in self.frames], 12)

    def voice(self) -> F32:
        return np.array([f.pose.voice for f in self.frames], dtype=np.float32)

    def shape(self, name: str) -> F32:
        """One blendshape curve by ARKit name."""
        return self.blendshapes()[:, ARKIT_INDEX[name]]


def _stack(rows: list[F32], width: int) -> F32:
    if not rows:
        return np.zeros((0, width), dtype=np.float32)
    return np.stack(rows).astype(np.float32, copy=False)
