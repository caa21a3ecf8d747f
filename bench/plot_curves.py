"""Draw the face solver's main curves for a clip as a PNG, so a person can look at them.

Panels: mouth (jawOpen, mouthClose, mouth opening, funnel, pucker, press, smile) with voice activity;
eyes (blinks, eye yaw/pitch); head (yaw, pitch, roll) and breath.

    nice -n 10 .venv/bin/python bench/plot_curves.py CLIP.wav out.png [--mood happy --intensity 1]
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from bridge.config import Config, FaceConfig, OutputConfig  # noqa: E402
from bridge.face import mouth_opening  # noqa: E402
from bridge.frames import ARKIT_INDEX, JOINT_NAMES  # noqa: E402
from bridge.pipeline import render_offline  # noqa: E402

log = logging.getLogger("plot_curves")
MOUTH = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthPressLeft", "mouthSmileLeft")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wav", type=Path)
    ap.add_argument("png", type=Path)
    ap.add_argument("--mood", default="neutral")
    ap.add_argument("--intensity", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    x, sr = sf.read(args.wav, dtype="float32", always_2d=True)
    face = FaceConfig(mood=args.mood, intensity=args.intensity, seed=args.seed)
    frames = render_offline(x[:, 0], sr, replace(Config(), face=face, output=OutputConfig(fps=100)))
    t = np.array([f.t_s for f in frames])
    bs = np.array([f.pose.blendshapes for f in frames])
    joints = np.array([f.pose.joints for f in frames])
    voice = np.array([f.pose.voice for f in frames])
    j = {n: i for i, n in enumerate(JOINT_NAMES)}

    fig, axes = plt.subplots(4, 1, figsize=(12, 10), sharex=True, height_ratios=[1, 2, 1, 1])
    wave_t = np.arange(x.shape[0]) / sr
    axes[0].plot(wave_t, x[:, 0], color="0.5", lw=0.4)
    axes[0].set_ylabel("audio")
    ax = axes[1]
    for name in MOUTH:
        ax.plot(t, bs[:, ARKIT_INDEX[name]], lw=1.1, label=name)
    ax.plot(t, [mouth_opening(b) for b in bs], color="k", lw=1.8, label="mouth opening")
    ax.plot(t, voice, color="k", lw=0.8, ls="--", label="voice activity")
    ax.set_ylabel("mouth")
    ax.legend(loc="upper right", fontsize=7, ncol=4)
    ax = axes[2]
    ax.plot(t, bs[:, ARKIT_INDEX["eyeBlinkLeft"]], label="eyeBlinkLeft")
    ax.plot(t, joints[:, j["eye_left_yaw_rad"]], label="eye yaw (rad)")
    ax.plot(t, joints[:, j["eye_left_pitch_rad"]], label="eye pitch (rad)")
    ax.set_ylabel("eyes")
    ax.legend(loc="upper right", fontsize=7, ncol=3)
    ax = axes[3]
    for name in ("head_yaw_rad", "head_pitch_rad", "head_roll_rad"):
        ax.plot(t, joints[:, j[name]], label=name)
    ax.plot(t, 0.1 * joints[:, j["breath"]], label="breath x 0.1", ls=":")
    ax.set_ylabel("head")
    ax.set_xlabel("time (s)")
    ax.legend(loc="upper right", fontsize=7, ncol=4)
    fig.suptitle(f"{args.wav.name}  mood={args.mood} {args.intensity:g}")
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)
    log.info("wrote %s", args.png)


if __name__ == "__main__":
    main()
