"""Control-channel requests, replies and the status snapshot that cross the transport boundary. No logic."""

from __future__ import annotations

from dataclasses import dataclass

# Limits every control endpoint enforces (documented in schemas/control.md).
MAX_CONTROL_BYTES = 1024
MAX_TRANSITION_S = 60.0


@dataclass(frozen=True, slots=True)
class BridgeStatus:
    """A snapshot of the running bridge, published on ``status/<subject>`` and returned by ``status``.

    Attributes:
        subject: current subject name.
        fps: output frame rate.
        frames: frames published since start.
        dropped_audio_s: audio dropped by capture overflow since start.
        latency_ms: audio-complete to publish latency of the latest frame.
        vad: voice activity of the latest frame, 0..1.
        model: name of the articulation model.
        mood: current mood (one of bridge.frames.MOODS).
        mood_intensity: 0..1.
        muted: the face is held at rest.
    """

    subject: str
    fps: int
    frames: int
    dropped_audio_s: float
    latency_ms: float
    vad: float
    model: str
    mood: str
    mood_intensity: float
    muted: bool


@dataclass(frozen=True, slots=True)
class SetMood:
    """Blend to ``mood`` at ``intensity`` over ``transition_s`` (None: the configured default)."""

    mood: str
    intensity: float
    transition_s: float | None = None


@dataclass(frozen=True, slots=True)
class SetMuted:
    """Hold the face at rest (True) or animate again (False)."""

    muted: bool


@dataclass(frozen=True, slots=True)
class Calibrate:
    """Re-estimate the speaker's neutral (rest pose) from the next seconds of speech."""


@dataclass(frozen=True, slots=True)
class SetSubject:
    """Publish under a new subject name from the next frame on."""

    subject: str


@dataclass(frozen=True, slots=True)
class QueryStatus:
    """Ask for a BridgeStatus snapshot."""


ControlRequest = SetMood | SetMuted | Calibrate | SetSubject | QueryStatus


@dataclass(frozen=True, slots=True)
class ControlReply:
    """Answer to a control request: ``ok`` with an optional status, or an ``error`` reason."""

    ok: bool
    error: str | None = None
    status: BridgeStatus | None = None
