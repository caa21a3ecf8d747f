"""Which samples are sound: finite, and within MAX_SAMPLE_ABS of zero."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# Float audio may go past full scale (1.0), but not 36 dB past it: beyond that a sample is corrupt data.
# One 0.5 s burst of +-3e38 overflowed the level guard and held the face nearly shut for 15 s.
MAX_SAMPLE_ABS = 64.0


def unusable(samples: npt.NDArray[np.floating]) -> npt.NDArray[np.bool_]:
    """True where a sample is NaN, infinite or beyond +-MAX_SAMPLE_ABS."""
    # Comparisons only (NaN compares false): np.abs would copy an hour of audio to check it.
    bad: npt.NDArray[np.bool_] = ~((samples >= -MAX_SAMPLE_ABS) & (samples <= MAX_SAMPLE_ABS))
    return bad
