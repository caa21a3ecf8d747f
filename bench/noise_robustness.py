"""Robustness to white noise: the dev-clip metrics of bridge/evaluation.py with noise added.

Every clip gets white Gaussian noise at the given SNR relative to the RMS of its speech samples
(|x| > 1e-3), drawn from a generator seeded with 0 for every clip (the same noise whatever the clip
order). Scored with ``evaluate_grid`` / ``evaluate_mngu0`` exactly as ``avatar-bridge evaluate``.

Usage: ``nice -n 10 .venv/bin/python bench/noise_robustness.py [--weights W.npz] [--out results.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.evaluation import (  # noqa: E402
    DEFAULT_DATA_DIR,
    Prediction,
    Predictor,
    energy_predictor,
    evaluate_all,
    model_predictor,
)
from bridge.frames import F32  # noqa: E402

SPEECH_THRESHOLD = 1e-3


def add_noise(x: F32, snr_db: float) -> F32:
    """``x`` plus white noise ``snr_db`` below the RMS of its speech samples (seed 0)."""
    speech = x[np.abs(x) > SPEECH_THRESHOLD]
    rms = float(np.sqrt(np.mean(speech.astype(np.float64) ** 2))) if speech.size else 0.0
    noise = np.random.default_rng(0).standard_normal(x.size) * rms * 10.0 ** (-snr_db / 20.0)
    return (x + noise).astype(np.float32)


def noisy(predict: Predictor, snr_db: float | None) -> Predictor:
    """``predict`` on noisy input; ``snr_db`` None leaves the clip clean."""

    def wrapped(x: F32, sr: int) -> Prediction:
        return predict(x if snr_db is None else add_noise(x, snr_db), sr)

    return wrapped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=None, help="weights file (default: the packaged model)")
    parser.add_argument("--lookahead-ms", type=int, default=30, choices=(0, 10, 20, 30))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="folder with grid/ and mngu0/")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args()
    methods = {"model": model_predictor(args.weights, args.lookahead_ms), "energy": energy_predictor()}
    rows = ["| SNR | method | GRID r | closure F1 | MNGU0 lip r | jaw r | mean 12-ch r |", "|---" * 7 + "|"]
    results: dict[str, dict[str, dict[str, float]]] = {}
    for label, snr_db in (("clean", None), ("20 dB", 20.0), ("10 dB", 10.0)):
        scores = evaluate_all(args.data, {name: noisy(p, snr_db) for name, p in methods.items()})
        for name, res in scores.items():
            g, m = res["grid"], res["mngu0"]
            mean_r = f"{m['mean_r']:.2f}" if "mean_r" in m else "n/a"
            rows.append(f"| {label} | {name} | {g['r']:.2f} | {g['closure_f1']:.2f} | {m['lip_aperture_r']:.2f} | "
                        f"{m['jaw_r']:.2f} | {mean_r} |")  # fmt: skip
            results[f"{label}/{name}"] = {k: round(v, 4) for k, v in {**g, **m}.items()}
    sys.stdout.write("\n".join(rows) + "\n")
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
