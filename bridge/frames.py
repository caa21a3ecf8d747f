"""Data that crosses stage boundaries: audio blocks, model output, face poses, animation frames. No logic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

# Apple ARKit blendshape names, lowerCamelCase, in Apple's grouping; identical to Unreal's
# EARFaceBlendShape order 0..51 (Live Link Face sends them in this order).
ARKIT_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight", "jawForward",
    "jawLeft", "jawRight", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft",
    "mouthRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft",
    "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
)  # fmt: skip
ARKIT_INDEX: dict[str, int] = {n: i for i, n in enumerate(ARKIT_NAMES)}

# Oculus/Meta viseme set, in the Oculus Lipsync order (index = VRChat viseme integer).
VISEMES: tuple[str, ...] = (
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou",
)  # fmt: skip

# wav2avatar's 12-d EMA layout: lower incisor (jaw), upper lip, lower lip, tongue tip, body, dorsum.
# x points forward (anterior), y points up.
EMA_NAMES: tuple[str, ...] = (
    "li_x", "li_y", "ul_x", "ul_y", "ll_x", "ll_y", "tt_x", "tt_y", "tb_x", "tb_y", "td_x", "td_y",
)  # fmt: skip

# Named articulator controls, each 0..1 (0 = closed / retracted / low / back).
CONTROL_NAMES: tuple[str, ...] = (
    "jaw_open", "lip_aperture", "lip_protrusion", "lip_spread",
    "tongue_tip_height", "tongue_body_height", "tongue_body_front",
)  # fmt: skip

# Joint channels sent with every frame: angles in radians, tongue channels in -1..1.
JOINT_NAMES: tuple[str, ...] = (
    "jaw_open_rad", "head_yaw_rad", "head_pitch_rad", "head_roll_rad",
    "eye_left_yaw_rad", "eye_left_pitch_rad", "eye_right_yaw_rad", "eye_right_pitch_rad",
    "tongue_tip_up", "tongue_body_up", "tongue_front", "breath",
)  # fmt: skip

# VRM 0.x blendshape presets the face solver fills (VRM 1.0 names are a profile mapping).
VRM_PRESETS: tuple[str, ...] = ("A", "I", "U", "E", "O", "Blink", "Joy", "Angry", "Sorrow", "Fun")

MOODS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "disgusted", "afraid", "surprised")

# A subject becomes part of ZeroMQ topics, OSC strings and Live Link Face names.
MAX_SUBJECT_BYTES = 64


def subject_problem(subject: str) -> str | None:
    """Why a subject name is invalid (None when valid): the one rule of config, control and recordings."""
    if not 0 < len(subject.encode()) <= MAX_SUBJECT_BYTES:
        return f"must be 1-{MAX_SUBJECT_BYTES} bytes of UTF-8"
    if not subject.isprintable():
        return "control characters are not allowed"
    return None


@dataclass(frozen=True, slots=True)
class AudioBlock:
    """A block of mono audio as captured.

    Attributes:
        samples: float32, shape (n,), range [-1, 1], mono.
        sample_rate_hz: sample rate of ``samples``.
        t_capture_s: time.monotonic() when the block's last sample was captured.
        t_stream_s: position of the block's first sample in the stream, seconds from the start.
    """

    samples: F32
    sample_rate_hz: int
    t_capture_s: float
    t_stream_s: float


@dataclass(frozen=True, slots=True)
class ModelOutput:
    """Articulation predicted for consecutive 10 ms frames (100 Hz).

    Attributes:
        frame_index: index of the first row in the stream (row i describes the audio centred at
            (frame_index + i) * 0.01 + 0.005 s).
        ema: (n, 12) EMA in mm relative to the model's canonical neutral, EMA_NAMES order.
        controls: (n, 7) articulator controls 0..1, CONTROL_NAMES order.
        visemes: (n, 15) viseme probabilities, VISEMES order, rows sum to 1.
        voicing: (n,) probability that the frame is voiced.
    """

    frame_index: int
    ema: F32
    controls: F32
    visemes: F32
    voicing: F32

    @property
    def n_frames(self) -> int:
        return int(self.ema.shape[0])

    @staticmethod
    def concat(frame_index: int, parts: Sequence[ModelOutput]) -> ModelOutput:
        """Consecutive outputs as one, starting at ``frame_index`` (no parts: zero rows)."""
        if not parts:
            return ModelOutput(
                frame_index,
                np.zeros((0, len(EMA_NAMES)), np.float32),
                np.zeros((0, len(CONTROL_NAMES)), np.float32),
                np.zeros((0, len(VISEMES)), np.float32),
                np.zeros(0, np.float32),
            )
        return ModelOutput(
            frame_index,
            np.concatenate([p.ema for p in parts]),
            np.concatenate([p.controls for p in parts]),
            np.concatenate([p.visemes for p in parts]),
            np.concatenate([p.voicing for p in parts]),
        )


@dataclass(frozen=True, slots=True)
class ArticulationFrame:
    """One 10 ms model frame with its timing and voice activity, input of the face solver."""

    t_s: float
    t_capture_s: float
    ema: F32
    controls: F32
    visemes: F32
    voicing: float
    voice_activity: float


@dataclass(frozen=True, slots=True)
class FacePose:
    """What rigs consume for one instant.

    Attributes:
        blendshapes: (52,) float32 0..1 in ARKIT_NAMES order.
        joints: (12,) float32 in JOINT_NAMES order.
        ema: (12,) float32, mm displacement from the speaker's estimated neutral, EMA_NAMES order.
        visemes: (15,) float32 viseme weights 0..1, VISEMES order.
        vrm: (10,) float32 VRM 0.x preset weights 0..1, VRM_PRESETS order.
        viseme: the dominant Oculus viseme.
        voice: voice activity 0..1.
        mood: dominant mood name and its intensity 0..1.
    """

    blendshapes: F32
    joints: F32
    ema: F32
    visemes: F32
    vrm: F32
    viseme: str
    voice: float
    mood: str = "neutral"
    mood_intensity: float = 0.0


@dataclass(frozen=True, slots=True)
class RigChannels:
    """A pose in a rig profile's own channel names (bridge/face/profiles.py).

    Attributes:
        profile: the profile's name.
        names: channel names, in the profile's order.
        values: (len(names),) float32, in ``names`` order.
    """

    profile: str
    names: tuple[str, ...]
    values: F32


@dataclass(frozen=True, slots=True)
class AnimationFrame:
    """A published frame.

    Attributes:
        seq: increasing frame counter, from 0.
        t_s: stream time of the instant the frame shows (seconds from the start of the audio).
        t_capture_s: time.monotonic() when the audio this frame needs was complete.
        t_publish_s: time.monotonic() when the frame was handed to the publishers.
        fps: output frame rate.
        subject: subject name receivers display.
        pose: the face.
        rig: the pose in the configured rig profile's channels; None without a profile.
    """

    seq: int
    t_s: float
    t_capture_s: float
    t_publish_s: float
    fps: int
    subject: str
    pose: FacePose
    rig: RigChannels | None = None
    schema_version: ClassVar[int] = 1
