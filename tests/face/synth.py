"""Synthetic articulation from a phone string, for tests that must not depend on the trained model.

Each phone has articulatory targets (controls 0..1) and a viseme; the trajectory is a first-order
lag toward the current target (a crude coarticulation), plus a speaker-specific rest offset that the
face solver's neutral estimation must remove.
"""

from __future__ import annotations

import numpy as np

from bridge.frames import VISEMES, ArticulationFrame

# jaw, aperture, protrusion, spread, tongue tip, tongue body, tongue front, viseme
PHONES: dict[str, tuple[float, float, float, float, float, float, float, str]] = {
    "_": (0.0, 0.0, 0.1, 0.1, 0.3, 0.4, 0.5, "sil"),
    "p": (0.12, 0.0, 0.2, 0.1, 0.3, 0.4, 0.5, "PP"),
    "b": (0.12, 0.0, 0.2, 0.1, 0.3, 0.4, 0.5, "PP"),
    "m": (0.12, 0.0, 0.2, 0.1, 0.3, 0.4, 0.5, "PP"),
    "f": (0.15, 0.08, 0.1, 0.2, 0.3, 0.4, 0.5, "FF"),
    "T": (0.2, 0.2, 0.1, 0.2, 0.6, 0.4, 0.7, "TH"),
    "t": (0.15, 0.15, 0.1, 0.3, 0.9, 0.5, 0.6, "DD"),
    "n": (0.15, 0.15, 0.1, 0.3, 0.9, 0.5, 0.6, "nn"),
    "s": (0.12, 0.12, 0.1, 0.4, 0.8, 0.5, 0.7, "SS"),
    "k": (0.25, 0.25, 0.1, 0.2, 0.3, 0.9, 0.3, "kk"),
    "r": (0.3, 0.3, 0.5, 0.1, 0.6, 0.5, 0.4, "RR"),
    "a": (0.8, 0.85, 0.1, 0.3, 0.2, 0.2, 0.3, "aa"),
    "e": (0.5, 0.55, 0.1, 0.5, 0.4, 0.5, 0.7, "E"),
    "i": (0.3, 0.35, 0.0, 0.8, 0.5, 0.8, 0.9, "ih"),
    "o": (0.55, 0.45, 0.8, 0.0, 0.3, 0.4, 0.2, "oh"),
    "u": (0.2, 0.12, 1.0, 0.0, 0.3, 0.7, 0.2, "ou"),
}
BILABIAL = set("pbm")
PHONE_S = 0.09
LAG_S = 0.03


def phone_track(text: str, phone_s: float = PHONE_S) -> list[str]:
    """One phone label per 10 ms frame; '_' is silence."""
    frames: list[str] = []
    for ph in text.replace(" ", ""):
        frames += [ph] * round(phone_s * 100) * (3 if ph == "_" else 1)
    return frames


def speech_frames(
    text: str,
    rest: tuple[float, float] = (0.0, 0.0),
    jaw_scale: float = 1.0,
    phone_s: float = PHONE_S,
) -> tuple[list[ArticulationFrame], list[str]]:
    """ArticulationFrames at 100 Hz for ``text`` and the phone label of each frame.

    Args:
        rest: (jaw, aperture) the model outputs for this speaker's closed mouth.
        jaw_scale: how strongly this speaker moves the jaw and lips.
    """
    labels = phone_track(text, phone_s)
    state = np.array(PHONES["_"][:7], dtype=np.float64)
    a = 1.0 - np.exp(-0.01 / LAG_S)
    va = 0.0
    out: list[ArticulationFrame] = []
    for i, ph in enumerate(labels):
        target = np.array(PHONES[ph][:7], dtype=np.float64)
        state += a * (target - state)
        speaking = ph != "_"
        va += (1.0 if speaking else -1.0) * 0.2
        va = min(1.0, max(0.0, va))
        c = state.copy()
        c[:2] = rest[0] + (1.0 - rest[0]) * jaw_scale * c[0], rest[1] + (1.0 - rest[1]) * jaw_scale * c[1]
        vis = np.full(len(VISEMES), 0.02, dtype=np.float32)
        vis[VISEMES.index(PHONES[ph][7])] = 1.0
        vis /= vis.sum()
        ema = np.zeros(12, dtype=np.float32)
        ema[1] = -12.0 * c[0]  # jaw opening lowers the lower incisor
        ema[3], ema[5] = 3.0 * c[1], -12.0 * c[0] - 6.0 * c[1]
        out.append(
            ArticulationFrame(
                t_s=(i + 0.5) * 0.01,
                t_capture_s=0.0,
                ema=ema,
                controls=np.clip(c, 0.0, 1.0).astype(np.float32),
                visemes=vis,
                voicing=1.0 if speaking and ph not in "ptkfsT" else 0.0,
                voice_activity=va,
            )
        )
    return out, labels


SENTENCE = "_ bab pa mi tomu bue pakan mopa sumo batip _ abu pim kapo mabe _ fabo tepi maku ibo pum _"
