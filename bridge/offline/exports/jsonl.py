"""The bake contract (schemas/bake.md): one JSON object per frame, one frame per line."""

from __future__ import annotations

import json
from typing import TextIO

import numpy as np

from bridge.frames import ARKIT_NAMES, JOINT_NAMES, VISEMES, VRM_PRESETS
from bridge.offline.take import Take

SCHEMA_VERSION = 1


def _object_template(key: str, names: tuple[str, ...], fmt: str) -> str:
    body = ",".join(f"{json.dumps(n).replace('%', '%%')}:{fmt}" for n in names)  # a rig name may hold a %
    return f'"{key}":{{{body}}}'


# A %-template per line is ~5x faster than json.dumps of nested dicts (bake speed matters).
_LINE = (
    '{"v":%d,"seq":%d,"t":%.6f,'
    + _object_template("blendshapes", ARKIT_NAMES, "%.4f")
    + ',"ema":['
    + ",".join(["%.3f"] * 12)
    + '],"viseme":"%s","voice":%.4f,'
    + _object_template("visemes", VISEMES, "%.4f")
    + ","
    + _object_template("joints", JOINT_NAMES, "%.5f")
    + ","
    + _object_template("vrm", VRM_PRESETS, "%.4f")
    + ',"mood":"%s","mood_intensity":%.4f'
)

# The decimals of each value in the template's order: blendshapes, ema, voice, visemes, joints, vrm.
_SCALE = 10.0 ** np.array([4] * 52 + [3] * 12 + [4] + [4] * 15 + [5] * 12 + [4] * 10)


def _rig_template(names: tuple[str, ...]) -> str:
    return "," + _object_template("rig", names, "%.4f")


def write(take: Take, out: TextIO) -> None:
    """Write every frame of ``take`` as one line; frames with rig channels also get a ``rig`` object.

    Values are rounded (1e-4 for weights and rig channels, 1e-3 mm for EMA, 1e-5 rad for joints): far
    below what a rig shows, and it keeps files small. Negative zero is written as 0.
    """
    rig_names: tuple[str, ...] = ()
    rig_line = ""
    for f in take.frames:
        p = f.pose
        values = np.concatenate(
            [np.clip(p.blendshapes, 0.0, 1.0), p.ema, [p.voice], p.visemes, p.joints, np.clip(p.vrm, 0.0, 1.0)]
        ).astype(np.float64)
        # Rounded to the written decimals first, so a tiny negative is not written as "-0.000".
        values = np.round(values * _SCALE) / _SCALE + 0.0  # + 0.0 turns -0.0 into 0.0
        v = values.tolist()
        bs, ema, voice, vis, joints, vrm = v[:52], v[52:64], v[64], v[65:80], v[80:92], v[92:102]
        line = (
            _LINE
            % (
                SCHEMA_VERSION,
                f.seq,
                f.t_s,
                *bs,
                *ema,
                p.viseme,
                voice,
                *vis,
                *joints,
                *vrm,
                p.mood,
                p.mood_intensity,
            )  # fmt: skip
        )
        if f.rig is not None:
            if f.rig.names != rig_names:  # one profile per take: the template is built once
                rig_names, rig_line = f.rig.names, _rig_template(f.rig.names)
            rig = np.round(f.rig.values.astype(np.float64) * 1e4) / 1e4 + 0.0
            line += rig_line % tuple(rig.tolist())
        out.write(line + "}\n")
