"""Synthetic takes for export tests: known poses without running the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bridge.frames import ARKIT_INDEX, JOINT_NAMES, VISEMES, VRM_PRESETS, AnimationFrame, FacePose
from bridge.offline.take import Phone, Take

J = {n: i for i, n in enumerate(JOINT_NAMES)}


def pose(
    viseme: str = "sil",
    jaw: float = 0.0,
    voice: float = 0.0,
    joints: dict[str, float] | None = None,
    shapes: dict[str, float] | None = None,
) -> FacePose:
    bs = np.zeros(52, np.float32)
    bs[ARKIT_INDEX["jawOpen"]] = jaw
    for name, v in (shapes or {}).items():
        bs[ARKIT_INDEX[name]] = v
    js = np.zeros(len(JOINT_NAMES), np.float32)
    for name, v in (joints or {}).items():
        js[J[name]] = v
    vis = np.zeros(len(VISEMES), np.float32)
    vis[VISEMES.index(viseme)] = 1.0
    return FacePose(
        blendshapes=bs,
        joints=js,
        ema=np.linspace(-1, 1, 12, dtype=np.float32),
        visemes=vis,
        vrm=np.zeros(len(VRM_PRESETS), np.float32),
        viseme=viseme,
        voice=voice,
    )


def take_from_poses(
    poses: list[FacePose], fps: int = 60, duration_s: float | None = None, phones: tuple[Phone, ...] = ()
) -> Take:
    frames = tuple(
        AnimationFrame(seq=k, t_s=k / fps, t_capture_s=0.0, t_publish_s=0.0, fps=fps, subject="avatar", pose=p)
        for k, p in enumerate(poses)
    )
    return Take(
        source=Path("/clips/line 1.wav"),
        duration_s=duration_s if duration_s is not None else len(poses) / fps,
        fps=fps,
        frames=frames,
        phones=phones,
    )


def speech_like_take(fps: int = 60) -> Take:
    """0.5 s rest, 0.3 s /m/, 0.4 s /aa/ wide open, 0.3 s /ou/, 0.2 s /f/, 0.5 s rest."""
    segments = [
        ("sil", 0.0, 0.0, 0.5),
        ("PP", 0.0, 1.0, 0.3),
        ("aa", 0.7, 1.0, 0.4),
        ("ou", 0.2, 1.0, 0.3),
        ("FF", 0.1, 1.0, 0.2),
        ("sil", 0.0, 0.0, 0.5),
    ]
    poses: list[FacePose] = []
    for vis, jaw, voice, dur in segments:
        shapes = {"mouthPucker": 0.7} if vis == "ou" else {}
        poses += [
            pose(vis, jaw, voice, joints={"jaw_open_rad": jaw * 0.4, "head_yaw_rad": 0.1}, shapes=shapes)
            for _ in range(round(dur * fps))
        ]
    return take_from_poses(poses, fps)
