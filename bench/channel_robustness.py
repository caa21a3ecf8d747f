"""Robustness to codecs and rooms: the dev-clip metrics of bridge/evaluation.py on degraded audio.

Every clip (at 16 kHz) is passed through one channel and scored with ``evaluate_grid`` /
``evaluate_mngu0`` exactly as ``avatar-bridge evaluate`` scores it:

* Opus and MP3 (constant bit rate) through libsndfile at two low bit rates each, the codec delay
  removed (``bridge.training.augment.codec_roundtrip``): what a VoIP call, a stream or a small
  dialogue file does to speech;
* two rooms of RT60 0.5 s, one with the direct path 5 dB above the reverberation (a laptop at arm's
  length) and one 10 dB below it (far field), the same room (seed 0) for every clip.

"rule" is the mean of GRID r, closure F1, MNGU0 mean 12-channel r, lip r and jaw r (docs/accuracy.md).

Usage: ``nice -n 10 .venv/bin/python bench/channel_robustness.py [--weights W.npz] [--out results.json]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
from degraded_input import Degradation, degraded, parse_args, report  # first: it puts the repository on sys.path
from scipy.signal import fftconvolve

from bridge.audio.resample import StreamingResampler
from bridge.evaluation import evaluate_grid, evaluate_mngu0, model_predictor
from bridge.frames import F32
from bridge.training.augment import SR_HZ, codec_roundtrip, room_impulse_response

Channel = Callable[[np.ndarray], np.ndarray]


def _room(drr_db: float) -> Channel:
    rir = room_impulse_response(0.5, drr_db, np.random.default_rng(0))
    return lambda x: np.asarray(fftconvolve(x, rir)[: x.size])


CHANNELS: dict[str, Channel | None] = {
    "clean": None,
    "Opus ~14 kbit/s": lambda x: codec_roundtrip(x, "opus", 0.97),
    "Opus ~7 kbit/s": lambda x: codec_roundtrip(x, "opus", 1.0),
    "MP3 ~24 kbit/s": lambda x: codec_roundtrip(x, "mp3", 0.9),
    "MP3 ~16 kbit/s": lambda x: codec_roundtrip(x, "mp3", 0.95),
    "room, DRR +5 dB": _room(5.0),
    "room, DRR -10 dB": _room(-10.0),
}


def at_16k(channel: Channel | None) -> Degradation | None:
    """``channel`` applied to the clip resampled to 16 kHz; None leaves the clip as it is."""
    if channel is None:
        return None

    def degrade(x: F32, sr: int) -> tuple[F32, int]:
        x16 = StreamingResampler(sr, SR_HZ).process(x).astype(np.float64)
        return channel(x16).astype(np.float32), SR_HZ

    return degrade


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    model = model_predictor(args.weights, args.lookahead_ms)
    rows = ["| channel | GRID r | closure F1 | MNGU0 mean 12-ch r | lip r | jaw r | rule |", "|---" * 7 + "|"]
    results: dict[str, dict[str, float]] = {}
    for label, channel in CHANNELS.items():
        predict = degraded(model, at_16k(channel))
        g, m = evaluate_grid(args.data / "grid", predict), evaluate_mngu0(args.data / "mngu0", predict)
        vals = [g["r"], g["closure_f1"], m["mean_r"], m["lip_aperture_r"], m["jaw_r"]]
        rows.append(f"| {label} | " + " | ".join(f"{v:.2f}" for v in vals) + f" | {np.mean(vals):.3f} |")
        results[label] = {k: round(v, 4) for k, v in {**g, **m, "rule": float(np.mean(vals))}.items()}
    return report(rows, results, args.out)


if __name__ == "__main__":
    sys.exit(main())
