"""Transcript-guided articulation: aligned phones through the phonetics model, blended with the acoustic model."""

from __future__ import annotations

import numpy as np

from bridge.frames import ModelOutput
from bridge.offline.take import Phone
from bridge.phonetics import phones_to_model_output


def phone_articulation(phones: tuple[Phone, ...], n_frames: int) -> ModelOutput:
    """100 Hz articulation of aligned phones (the live path's phone table and coarticulation)."""
    return phones_to_model_output([(p.name, p.start_s, p.end_s) for p in phones], n_frames=n_frames)


def blend(acoustic: ModelOutput, guided: ModelOutput, weight: float) -> ModelOutput:
    """``weight * guided + (1 - weight) * acoustic``, row by row over the acoustic model's length.

    Viseme rows are renormalized to sum to 1; rows the phones do not cover keep the acoustic values.
    """
    n = acoustic.n_frames
    m = min(n, guided.n_frames)
    w = np.float32(weight)

    def mix(a: np.ndarray, g: np.ndarray) -> np.ndarray:
        out = a.astype(np.float32, copy=True)
        out[:m] = (1 - w) * a[:m] + w * g[:m]
        return out

    visemes = mix(acoustic.visemes, guided.visemes)
    visemes /= np.maximum(visemes.sum(axis=1, keepdims=True), np.float32(1e-6))
    return ModelOutput(
        frame_index=acoustic.frame_index,
        ema=mix(acoustic.ema, guided.ema),
        controls=mix(acoustic.controls, guided.controls),
        visemes=visemes,
        voicing=mix(acoustic.voicing, guided.voicing),
    )
