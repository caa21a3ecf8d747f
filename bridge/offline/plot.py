"""``preview --plot``: the main face curves over the waveform, one PNG (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bridge.errors import BridgeError, ConfigError
from bridge.frames import F32, JOINT_NAMES, VISEMES
from bridge.offline.take import Take

_J = {n: i for i, n in enumerate(JOINT_NAMES)}
MIN_LABEL_S = 0.05
LABEL_SHARE = 1 / 60  # a label at fontsize 6 needs about this share of the 12-inch axis to be legible
_CURVES = (
    ("jawOpen", "jaw open", "tab:red"),
    ("mouthClose", "lips together (mouthClose)", "tab:brown"),
    ("mouthFunnel", "funnel", "tab:purple"),
    ("mouthPucker", "pucker", "tab:pink"),
    ("mouthSmileLeft", "smile", "tab:olive"),
    ("mouthLowerDownLeft", "lower lip down", "tab:orange"),
    ("tongueOut", "tongue out", "tab:cyan"),
)


def viseme_runs(names: Sequence[str], times_s: F32, fps: int) -> list[tuple[str, float, float]]:
    """(viseme, start s, end s) of each run of one dominant viseme, frames centred on ``times_s``."""
    runs = []
    start = 0
    half = 0.5 / fps
    for i in range(1, len(names) + 1):
        if i == len(names) or names[i] != names[start]:
            runs.append((names[start], float(times_s[start]) - half, float(times_s[i - 1]) + half))
            start = i
    return runs


def check_plot_path(path: Path) -> None:
    """Check, before any work, that matplotlib can write a picture with the suffix of ``path``.

    Raises:
        ConfigError: matplotlib is not installed, or the suffix names no format it writes.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as e:
        raise ConfigError("--plot needs matplotlib: pip install 'avatar-bridge[offline]'") from e
    formats = sorted(FigureCanvasAgg.get_supported_filetypes())
    if path.suffix.lower().lstrip(".") not in formats:
        raise ConfigError(
            f"--plot {path}: unsupported picture format {path.suffix or '(no suffix)'!r} "
            f"(use one of {', '.join('.' + f for f in formats)})"
        )


def plot_take(take: Take, samples: F32, sample_rate_hz: int, path: Path) -> None:
    """Write a PNG: waveform with the main blendshapes and voice activity on top, visemes (and aligned
    phones) as a strip below.

    Raises:
        ConfigError: matplotlib is not installed.
        BridgeError: the image cannot be written.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ConfigError("--plot needs matplotlib: pip install 'avatar-bridge[offline]'") from e
    t = take.times_s
    bs = take.blendshapes()
    from bridge.frames import ARKIT_INDEX

    fig, (ax, strip) = plt.subplots(
        2, 1, figsize=(12, 5.5), sharex=True, gridspec_kw={"height_ratios": [5, 1]}, constrained_layout=True
    )
    # Waveform as its peak envelope over 5 ms blocks, behind the 0..1 curves.
    block = max(1, sample_rate_hz // 200)
    n_blocks = samples.shape[0] // block
    env = np.abs(samples[: n_blocks * block]).reshape(n_blocks, block).max(axis=1) if n_blocks else np.zeros(1)
    env_t = (np.arange(env.shape[0]) + 0.5) * block / sample_rate_hz
    peak = float(env.max()) or 1.0
    ax.fill_between(env_t, 0.0, env / peak, color="0.85", lw=0, label="waveform (peak)")
    for name, label, color in _CURVES:
        ax.plot(t, bs[:, ARKIT_INDEX[name]], color=color, lw=1.4, label=label)
    ax.plot(t, take.voice(), color="k", lw=1.0, ls="--", label="voice activity")
    tongue = (take.joints()[:, _J["tongue_tip_up"]] + 1.0) / 2.0
    ax.plot(t, tongue, color="tab:blue", lw=0.9, ls=":", label="tongue tip height")
    ax.set_ylim(-0.02, 1.05)
    ax.set_ylabel("weight 0..1")
    ax.legend(loc="upper right", fontsize=7, ncol=3)
    title = f"{take.source.name}  ({take.duration_s:.2f} s, {take.fps} fps"
    if take.transcript:
        title += f", aligned: \u201c{take.transcript}\u201d)"
    else:
        title += ", recognized phones)" if take.phones else ", acoustic model)"
    ax.set_title(title, fontsize=9)
    # Viseme strip: one collection of spans per viseme (an hour has tens of thousands of runs).
    cmap = plt.get_cmap("tab20")
    min_label_s = max(MIN_LABEL_S, take.duration_s * LABEL_SHARE)
    spans: dict[str, list[tuple[float, float]]] = {}
    for name, x0, x1 in viseme_runs([f.pose.viseme for f in take.frames], t, take.fps):
        spans.setdefault(name, []).append((x0, x1 - x0))
        if x1 - x0 > min_label_s:
            strip.text((x0 + x1) / 2, 0.75, name, ha="center", va="center", fontsize=6)
    for name, bars in spans.items():
        strip.broken_barh(bars, (0.5, 0.5), facecolors=cmap(VISEMES.index(name) % 20), lw=0)
    for p in take.phones:
        if p.name != "SIL":
            strip.axvline(p.start_s, ymax=0.5, color="0.5", lw=0.5)
            if p.end_s - p.start_s > min_label_s:
                strip.text((p.start_s + p.end_s) / 2, 0.25, p.name, ha="center", va="center", fontsize=6)
    strip.set_ylim(0, 1)
    strip.set_yticks([0.25, 0.75], ["phones" if take.phones else "", "viseme"], fontsize=7)
    strip.set_xlabel("time (s)")
    strip.set_xlim(0, take.duration_s)
    try:
        fig.savefig(path, dpi=110)
    except OSError as e:
        raise BridgeError(f"{path}: cannot write ({e.strerror or e})") from e
    except (RuntimeError, ValueError) as e:  # a format whose writer is missing here (pgf without LaTeX)
        raise BridgeError(f"{path}: cannot write the picture ({e})") from e
    finally:
        plt.close(fig)
