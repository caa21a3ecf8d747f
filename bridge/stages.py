"""Interfaces between pipeline stages: articulation model, face solver, frame sinks."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from bridge.frames import F32, AnimationFrame, ArticulationFrame, FacePose, ModelOutput, RigChannels
from bridge.logs import RateLimitedLog


class ArticulationModel(Protocol):
    """Streaming acoustic-to-articulatory inversion: 16 kHz mono audio in, 100 Hz articulation out.

    ``process`` may be called with blocks of any length; state is carried across calls so that
    streaming and offline output are identical. Output lags the input by ``lookahead_s``.
    """

    sample_rate_hz: int
    lookahead_s: float
    name: str
    # Whether ``voicing`` is heard in the audio (a trained output), so voice activity may require it.
    hears_voicing: bool

    def process(self, samples: F32, /) -> ModelOutput: ...

    def flush(self) -> ModelOutput:
        """Emit the frames still held back by look-ahead, as if the audio were padded with silence."""
        ...

    def reset(self) -> None: ...


class FaceSolver(Protocol):
    """Articulation to rig-ready poses, with emotion and secondary motion."""

    def process(self, frame: ArticulationFrame, /) -> FacePose: ...

    def rig(self, pose: FacePose, /) -> RigChannels | None:
        """The pose in the rig profile's channels, None without a profile. Called on each output
        frame's pose: the profile's curves and limits are not linear, so it cannot run before the
        frame clock blends the 100 Hz poses."""
        ...

    def reset(self) -> None: ...


class Sink(Protocol):
    """Publishes frames. Never blocks; a transient network failure is counted, never raised."""

    name: str

    def send(self, frame: AnimationFrame, /) -> None: ...

    def close(self) -> None: ...


def send_to_sinks(sinks: Sequence[Sink], frame: AnimationFrame, errors: RateLimitedLog) -> None:
    """Send a frame to every sink; a sink that raises is logged (rate-limited) and the others still get it."""
    for sink in sinks:
        try:
            sink.send(frame)
        except Exception as e:  # a publisher's bug must not end the stream for the other publishers
            errors.log(
                logging.ERROR, "%s publisher failed: %s: %s; the other publishers go on", sink.name,
                type(e).__name__, e, key=sink.name,
            )  # fmt: skip
