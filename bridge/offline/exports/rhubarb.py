"""Rhubarb Lip Sync mouth cues (shapes A-H and X), TSV and JSON, as Rhubarb's README documents them.

Shapes (Rhubarb's definitions): A closed mouth with slight pressure (P B M); B slightly open,
clenched teeth (most consonants, the EE of "bee"); C open (EH, AE); D wide open (AA); E slightly
rounded (AO, ER); F puckered (UW, OW, W); G upper teeth on the lower lip (F, V); H tongue raised
behind the upper teeth, mouth between C and D (long L); X idle, relaxed closed mouth (pauses).
G, H and X are optional ("extended") and fall back to B, C and A when left out, as in Rhubarb.

Cues come from the baked face (aligned phones when a transcript was given, recognized phones with
``--recognize``, else the frames' lip
opening, rounding, lip-teeth contact and tongue tip, see ``frame_shapes``), are at least
``MIN_CUE_S`` long, start at 0.00 and end at the
duration truncated to centiseconds; times are written with two decimals.
"""

from __future__ import annotations

import heapq
import json
import math
import os
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from bridge.frames import ARKIT_INDEX, F32, JOINT_NAMES, VISEMES
from bridge.offline.take import Take

SHAPES = "ABCDEFGHX"
BASIC_FALLBACK = {"G": "B", "H": "C", "X": "A"}
MIN_CUE_S = 0.04
TWEEN_S = 0.04

# ARPAbet -> shape, following Rhubarb's own phone grouping (its animation rules, simplified).
_PHONE_SHAPE = {
    "SIL": "X", "P": "A", "B": "A", "M": "A", "F": "G", "V": "G", "L": "H",
    "AA": "D", "AE": "C", "AH": "C", "EH": "C", "AW": "D", "AY": "D", "EY": "C",
    "IH": "B", "IY": "B", "AO": "E", "ER": "E", "OW": "F", "OY": "E", "UH": "E", "UW": "F", "W": "F",
    "R": "E", "HH": "C",
}  # fmt: skip
_MIN_OPENING_SCALE = 0.25  # lip opening (jawOpen units) that counts as wide even in a take that barely opens
_J = {n: i for i, n in enumerate(JOINT_NAMES)}
_SIL = VISEMES.index("sil")
_FF = VISEMES.index("FF")
_PP = VISEMES.index("PP")
# A nearly shut mouth with this much rounding, and not a bilabial, is puckered lips ("oo", "w"): the
# face solver narrows rounded lips almost shut, and Rhubarb draws them as F, not as the pressed A.
_PUCKER_SHUT = 0.35
_NOT_BILABIAL = 0.3  # PP viseme weight below which a shut mouth is not a closure


@dataclass(frozen=True, slots=True)
class MouthCue:
    """One mouth shape held from ``start_s`` to ``end_s``."""

    start_s: float
    end_s: float
    value: str


def _restrict(shape: str, extended: str) -> str:
    return shape if shape not in BASIC_FALLBACK or shape in extended else BASIC_FALLBACK[shape]


def frame_shapes(take: Take) -> list[str]:
    """One Rhubarb shape per frame from the face's geometry.

    The lip opening (the face solver's definition: jaw minus closure plus the lips' own motion) is
    scaled by the take's own 95th percentile during speech, so a quiet or small-mouthed take still
    uses the whole A..D range; rounding, lip-teeth contact (FF) and a raised tongue tip pick E/F,
    G and H.
    """
    if not take.frames:
        return []
    bs = take.blendshapes()
    vis = take.visemes()
    voice = take.voice()
    tongue_tip = take.joints()[:, _J["tongue_tip_up"]]

    def col(name: str) -> F32:
        return bs[:, ARKIT_INDEX[name]]

    def both(stem: str) -> F32:
        return 0.5 * (col(stem + "Left") + col(stem + "Right"))

    opening = np.clip(
        col("jawOpen") - col("mouthClose") + 0.5 * both("mouthLowerDown") + 0.5 * both("mouthUpperUp"), 0, None
    )
    speech = voice >= 0.5
    scale = max(float(np.percentile(opening[speech], 95)) if speech.any() else 0.0, _MIN_OPENING_SCALE)
    o = opening / scale
    rounding = np.maximum(col("mouthPucker"), 0.8 * col("mouthFunnel"))
    shapes = []
    puckered = (rounding > _PUCKER_SHUT) & (vis[:, _PP] < _NOT_BILABIAL)
    for i in range(len(take.frames)):
        if speech[i] and vis[i, _FF] > 0.4:
            shape = "G"
        elif o[i] < 0.15 and not puckered[i]:
            shape = "X" if not speech[i] or vis[i, _SIL] > 0.5 else "A"
        elif rounding[i] > _PUCKER_SHUT and o[i] < 0.6:
            shape = "F"
        elif rounding[i] > 0.2:
            shape = "E"
        elif o[i] > 0.7:
            shape = "D"
        elif o[i] > 0.35:
            shape = "H" if tongue_tip[i] > 0.6 else "C"
        else:
            shape = "B"
        shapes.append(shape)
    return shapes


def _segments_from_frames(take: Take) -> list[MouthCue]:
    half = 0.5 / take.fps
    return [
        MouthCue(max(0.0, f.t_s - half), f.t_s + half, shape)
        for f, shape in zip(take.frames, frame_shapes(take), strict=True)
    ]


def _segments_from_phones(take: Take) -> list[MouthCue]:
    return [MouthCue(p.start_s, p.end_s, _PHONE_SHAPE.get(p.name, "B")) for p in take.phones]


def _merge_runs(cues: list[MouthCue]) -> list[MouthCue]:
    out: list[MouthCue] = []
    for c in cues:
        if out and out[-1].value == c.value:
            out[-1] = MouthCue(out[-1].start_s, c.end_s, c.value)
        else:
            out.append(c)
    return out


def _drop_short(cues: list[MouthCue], min_s: float) -> list[MouthCue]:
    """Give every cue shorter than ``min_s`` to its longer neighbour, shortest first (earliest on ties).

    ``cues`` has no two neighbours of one shape. A heap and a linked list keep this O(n log n): an
    hour-long take has tens of thousands of cues, and rescanning the list per merge took hours.
    """
    n = len(cues)
    start = [c.start_s for c in cues]
    end = [c.end_s for c in cues]
    prev = list(range(-1, n - 1))
    nxt = [*range(1, n), -1]
    version = [0] * n  # bumped when a cue changes or goes; heap entries of older versions are stale
    heap = [(end[i] - start[i], i, 0) for i in range(n)]
    heapq.heapify(heap)
    alive = n
    while alive > 1:
        length, i, v = heapq.heappop(heap)
        if v != version[i]:
            continue
        if length >= min_s - 1e-9:
            break
        p, q = prev[i], nxt[i]
        prev_len = end[p] - start[p] if p >= 0 else -1.0
        next_len = end[q] - start[q] if q >= 0 else -1.0
        if prev_len >= next_len:
            end[p], grown = end[i], p
        else:
            start[q], grown = start[i], q
        version[i] = -1
        alive -= 1
        if p >= 0:
            nxt[p] = q
        if q >= 0:
            prev[q] = p
        if p >= 0 and q >= 0 and cues[p].value == cues[q].value:  # the two sides now touch: one run
            end[p], grown = end[q], p
            version[q] = -1
            alive -= 1
            nxt[p] = nxt[q]
            if nxt[q] >= 0:
                prev[nxt[q]] = p
        version[grown] += 1
        heapq.heappush(heap, (end[grown] - start[grown], grown, version[grown]))
    return [MouthCue(start[i], end[i], cues[i].value) for i in range(n) if version[i] >= 0]


def _insert_tweens(cues: list[MouthCue]) -> list[MouthCue]:
    """Rhubarb's in-betweens: C between A/B and D, E between C/D and F, taken from the end of the
    first cue when it is long enough."""
    out: list[MouthCue] = []
    for i, c in enumerate(cues):
        nxt = cues[i + 1].value if i + 1 < len(cues) else None
        tween = None
        if c.value in "AB" and nxt == "D":
            tween = "C"
        elif c.value in "CD" and nxt == "F":
            tween = "E"
        if tween is not None and c.end_s - c.start_s >= 2 * TWEEN_S:
            out.append(MouthCue(c.start_s, c.end_s - TWEEN_S, c.value))
            out.append(MouthCue(c.end_s - TWEEN_S, c.end_s, tween))
        else:
            out.append(c)
    return out


def _centis(t_s: float) -> float:
    return math.floor(t_s * 100 + 1e-6) / 100


def mouth_cues(take: Take, extended_shapes: str = "GHX") -> list[MouthCue]:
    """Mouth cues covering 0 .. duration (truncated to 0.01 s), on a centisecond grid."""
    end_s = _centis(take.duration_s)
    raw = _segments_from_phones(take) if take.phones else _segments_from_frames(take)
    raw = [MouthCue(c.start_s, c.end_s, _restrict(c.value, extended_shapes)) for c in raw]
    rest = _restrict("X", extended_shapes)
    # Quantize to centiseconds and fill gaps with the rest shape.
    grid: list[MouthCue] = []
    t = 0.0
    for c in raw:
        start, stop = _centis(c.start_s), min(_centis(c.end_s), end_s)
        start = max(start, t)
        if start > t + 1e-9:
            grid.append(MouthCue(t, start, rest))
        if stop > start + 1e-9:
            grid.append(MouthCue(start, stop, c.value))
            t = stop
    if end_s > t + 1e-9 or not grid:
        grid.append(MouthCue(t, max(end_s, t), rest))
    cues = _insert_tweens(_drop_short(_merge_runs(grid), MIN_CUE_S))
    return [MouthCue(round(c.start_s, 2), round(c.end_s, 2), c.value) for c in cues]


def write_tsv(take: Take, extended_shapes: str, out: TextIO) -> None:
    """Rhubarb TSV: ``start<TAB>shape`` per cue, then a final line at the end time with the rest shape."""
    cues = mouth_cues(take, extended_shapes)
    for c in cues:
        # The zero-length cue of a clip under 10 ms is JSON's placeholder; Rhubarb's TSV has the end line only.
        if c.end_s > c.start_s:
            out.write(f"{c.start_s:.2f}\t{c.value}\n")
    out.write(f"{cues[-1].end_s:.2f}\t{_restrict('X', extended_shapes)}\n")


def write_json(take: Take, extended_shapes: str, out: TextIO) -> None:
    """Rhubarb JSON: ``{"metadata": {"soundFile", "duration"}, "mouthCues": [{"start","end","value"}]}``.

    ``soundFile`` is absolute, as Rhubarb writes it (``absolute(inputFilePath)``: the working directory
    joined in front, symlinks and ``..`` left as they are). Bytes of the name that are not UTF-8 become
    U+FFFD: Python's stand-ins for them are lone surrogates, which strict JSON readers refuse.
    """
    cues = mouth_cues(take, extended_shapes)
    name = os.fsencode(take.source.absolute()).decode("utf-8", "replace")
    lines = [
        "{",
        '  "metadata": {',
        f'    "soundFile": {json.dumps(name)},',
        f'    "duration": {_centis(take.duration_s):.2f}',
        "  },",
        '  "mouthCues": [',
        ",\n".join(f'    {{ "start": {c.start_s:.2f}, "end": {c.end_s:.2f}, "value": "{c.value}" }}' for c in cues),
        "  ]",
        "}",
    ]
    out.write("\n".join(lines) + "\n")


# Rhubarb's names of its shapes in Preston Blair's set (its ``--datUsePrestonBlair``).
PRESTON_BLAIR = {"A": "MBP", "B": "etc", "C": "E", "D": "AI", "E": "O", "F": "U", "G": "FV", "H": "L", "X": "rest"}
DAT_FRAME_RATES = (24.0, 100.0)  # the range Rhubarb accepts for ``--datFrameRate``


def write_dat(take: Take, extended_shapes: str, frame_rate: float, preston_blair: bool, out: TextIO) -> None:
    """Moho's switch data file (Rhubarb's ``-f dat``): ``MohoSwitch1``, then ``<frame> <shape>`` per cue
    with 1-based frames at ``frame_rate`` (a cue that starts in the frame of the one before is left out),
    then the rest shape at the end. Moho and OpenToonz read it into a switch layer."""
    cues = mouth_cues(take, extended_shapes)

    def frame(t_s: float) -> int:
        # As Rhubarb: centiseconds as double seconds, times the rate, truncated, plus one.
        return 1 + int(frame_rate * (round(t_s * 100) / 100))

    def name(shape: str) -> str:
        return PRESTON_BLAIR[shape] if preston_blair else shape

    lines = ["MohoSwitch1"]
    last = 0
    for c in cues:
        if c.end_s > c.start_s and frame(c.start_s) != last:
            last = frame(c.start_s)
            lines.append(f"{last} {name(c.value)}")
    end = frame(cues[-1].end_s)
    lines.append(f"{end + 1 if end == last else end} {name(_restrict('X', extended_shapes))}")
    out.write("\n".join(lines) + "\n")
