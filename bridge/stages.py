"""Interfaces between pipeline stages: articulation model, face solver, frame sinks."""

from __future__ import annotations

from typing import Protocol

from bridge.frames import F32, AnimationFrame, ArticulationFrame, FacePose, ModelOutput


class ArticulationModel(Protocol):
    """Streaming acoustic-to-articulatory inversion: 16 kHz mono audio in, 100 Hz articulation out.

    ``process`` may be called with blocks of any length; state is carried across calls so that
    streaming and offline output are identical. Output lags the input by ``lookahead_s``.
    """

    sample_rate_hz: int
    lookahead_s: float
    name: str

    def process(self, samples: F32, /) -> ModelOutput: ...

    def flush(self) -> ModelOutput:
        """Emit the frames still held back by look-ahead, as if the audio were padded with silence."""
        ...

    def reset(self) -> None: ...


class FaceSolver(Protocol):
    """Articulation to rig-ready poses, with emotion and secondary motion."""

    def process(self, frame: ArticulationFrame, /) -> FacePose: ...

    def reset(self) -> None: ...


class Sink(Protocol):
    """Publishes frames. Never blocks; a transient network failure is counted, never raised."""

    name: str

    def send(self, frame: AnimationFrame, /) -> None: ...

    def close(self) -> None: ...
