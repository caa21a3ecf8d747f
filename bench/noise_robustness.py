"""Robustness to white noise: the dev-clip metrics of bridge/evaluation.py with noise added.

Every clip gets white Gaussian noise at the given SNR relative to the RMS of its speech samples
(|x| > 1e-3), drawn from a generator seeded with 0 for every clip (the same noise whatever the clip
order). Scored with ``evaluate_grid`` / ``evaluate_mngu0`` exactly as ``avatar-bridge evaluate``.

Usage: ``nice -n 10 .venv/bin/python bench/noise_robustness.py [--weights W.npz] [--out results.json]``.
"""

from __future__ import annotations

import sys

import numpy as np
from degraded_input import Degradation, degraded, parse_args, report  # first: it puts the repository on sys.path

from bridge.evaluation import energy_predictor, evaluate_all, model_predictor
from bridge.frames import F32

SPEECH_THRESHOLD = 1e-3


def add_noise(x: F32, snr_db: float) -> F32:
    """``x`` plus white noise ``snr_db`` below the RMS of its speech samples (seed 0)."""
    speech = x[np.abs(x) > SPEECH_THRESHOLD]
    rms = float(np.sqrt(np.mean(speech.astype(np.float64) ** 2))) if speech.size else 0.0
    noise = np.random.default_rng(0).standard_normal(x.size) * rms * 10.0 ** (-snr_db / 20.0)
    return (x + noise).astype(np.float32)


def noise(snr_db: float | None) -> Degradation | None:
    """White noise at ``snr_db``; None: the clip stays clean."""
    return None if snr_db is None else (lambda x, sr: (add_noise(x, snr_db), sr))


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    methods = {"model": model_predictor(args.weights, args.lookahead_ms), "energy": energy_predictor()}
    rows = ["| SNR | method | GRID r | closure F1 | MNGU0 lip r | jaw r | mean 12-ch r |", "|---" * 7 + "|"]
    results: dict[str, dict[str, float]] = {}
    for label, snr_db in (("clean", None), ("20 dB", 20.0), ("10 dB", 10.0)):
        scores = evaluate_all(args.data, {name: degraded(p, noise(snr_db)) for name, p in methods.items()})
        for name, res in scores.items():
            g, m = res["grid"], res["mngu0"]
            mean_r = f"{m['mean_r']:.2f}" if "mean_r" in m else "n/a"
            rows.append(f"| {label} | {name} | {g['r']:.2f} | {g['closure_f1']:.2f} | {m['lip_aperture_r']:.2f} | "
                        f"{m['jaw_r']:.2f} | {mean_r} |")  # fmt: skip
            results[f"{label}/{name}"] = {k: round(v, 4) for k, v in {**g, **m}.items()}
    return report(rows, results, args.out)


if __name__ == "__main__":
    sys.exit(main())
