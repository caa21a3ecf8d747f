"""Robustness to the input level: the dev-clip metrics at other gains, and how long a quiet stream takes to settle.

* Every dev clip is scaled by a gain (clipped to +-1, as a too-hot microphone would) and scored with
  ``evaluate_grid`` / ``evaluate_mngu0`` exactly as ``avatar-bridge evaluate`` scores it. "rule" is
  the mean of GRID r, closure F1, MNGU0 mean 12-channel r, lip r and jaw r (docs/accuracy.md).
  The dev clips are 3-6 s long, so this mostly measures the first seconds of a stream.
* ``examples/hello.wav`` repeated to about 68 s (speech at -19 dBFS RMS) is run through the model at
  each gain and compared with the same stream at 0 dB: the lip-aperture control's r per 5 s window,
  and the time from which every window has r >= 0.95 (how long a quiet microphone takes to settle).

Usage: ``nice -n 10 .venv/bin/python bench/level_robustness.py [--weights W.npz] [--out results.json]``.
"""

from __future__ import annotations

import sys

import numpy as np
from degraded_input import ROOT, Degradation, degraded, parse_args, report  # first: it puts the repository on sys.path

from bridge.audio.files import read_audio
from bridge.audio.resample import StreamingResampler
from bridge.evaluation import evaluate_grid, evaluate_mngu0, model_predictor, pearson
from bridge.features.logmel import SAMPLE_RATE_HZ as MODEL_RATE_HZ
from bridge.frames import F32

GAINS_DB = (-40.0, -30.0, -20.0, -10.0, 0.0, 6.0)
WINDOW_S = 5.0
REPEATS = 8
SETTLED_R = 0.95


def gain(db: float) -> Degradation:
    return lambda x, sr: (np.clip(x * np.float32(10.0 ** (db / 20.0)), -1.0, 1.0).astype(np.float32), sr)


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    predict = model_predictor(args.weights, args.lookahead_ms)
    speech, rate_hz = read_audio(ROOT / "examples" / "hello.wav")
    stream = np.tile(StreamingResampler(rate_hz, MODEL_RATE_HZ).process(speech), REPEATS)

    def aperture(x: F32) -> np.ndarray:
        return predict(x, MODEL_RATE_HZ).opening  # the model's lip-aperture control, from a reset stream

    reference = aperture(stream)
    window = round(WINDOW_S * 100)
    rows = [
        "| gain | GRID r | closure F1 | MNGU0 mean r | lip r | jaw r | rule | long stream r per 5 s | settled after |",
        "|---" * 9 + "|",
    ]
    results: dict[str, dict[str, float]] = {}
    for db in GAINS_DB:
        scaled = degraded(predict, gain(db))
        g, m = evaluate_grid(args.data / "grid", scaled), evaluate_mngu0(args.data / "mngu0", scaled)
        rule = float(np.mean([g["r"], g["closure_f1"], m["mean_r"], m["lip_aperture_r"], m["jaw_r"]]))
        out = aperture(gain(db)(stream, MODEL_RATE_HZ)[0])
        rs = [pearson(out[i : i + window], reference[i : i + window]) for i in range(0, out.size - window + 1, window)]
        unsettled = [k for k, r in enumerate(rs) if r < SETTLED_R]
        settled_s = (unsettled[-1] + 1) * WINDOW_S if unsettled else 0.0
        shown = " ".join(f"{r:.2f}" for r in rs[:6])
        rows.append(
            f"| {db:+.0f} dB | {g['r']:.3f} | {g['closure_f1']:.2f} | {m['mean_r']:.3f} | {m['lip_aperture_r']:.3f} | "
            f"{m['jaw_r']:.3f} | {rule:.3f} | {shown} ... | {settled_s:.0f} s |"
        )
        results[f"{db:+.0f} dB"] = {
            "grid_r": g["r"], "closure_f1": g["closure_f1"], "mngu0_mean_r": m["mean_r"],
            "lip_r": m["lip_aperture_r"], "jaw_r": m["jaw_r"], "rule": rule, "settled_s": settled_s,
            **{f"window_{k}_r": r for k, r in enumerate(rs)},
        }  # fmt: skip
    return report(rows, results, args.out)


if __name__ == "__main__":
    sys.exit(main())
