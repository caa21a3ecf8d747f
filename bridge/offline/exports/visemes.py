"""Oculus viseme track: per-frame weights of the 15 Oculus/Meta visemes (OVRLipSync order).

CSV with header ``time,sil,PP,FF,TH,DD,kk,CH,SS,nn,RR,aa,E,ih,oh,ou``; one row per frame, ``time``
in seconds (frame centre), weights 0..1 (the same values as OVRLipSync's ``Frame.Visemes``
array, index = viseme number). Import each column as an animation curve on the matching
``viseme_*`` morph target (Ready Player Me / TalkingHead names, Meta's ``I O U`` = ``ih oh ou``).
"""

from __future__ import annotations

from typing import TextIO

import numpy as np

from bridge.frames import VISEMES
from bridge.offline.take import Take

HEADER: tuple[str, ...] = ("time", *VISEMES)


def write(take: Take, out: TextIO) -> None:
    out.write(",".join(HEADER) + "\n")
    weights = np.clip(take.visemes(), 0.0, 1.0)
    for f, row in zip(take.frames, weights.tolist(), strict=True):
        out.write(f"{f.t_s:.6f}," + ",".join(f"{v:.4f}" for v in row) + "\n")
