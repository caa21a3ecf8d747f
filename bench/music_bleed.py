"""Background sounds: how much the face's mouth moves when music or typing, not speech, reaches the microphone.

VTubers often have game or stream music bleeding into the microphone, and type while they stream. This
runs the full offline path (model, voice activity, face solver; ``render_offline``) on 8 s of each
signal below and reports the mouth opening (jawOpen - mouthClose + mouthLowerDown/2 + mouthUpperUp/2,
averaged L/R) and how often the voice activity is above one half:

* silence, white noise at -30 dBFS RMS, and the bundled speech example (8 s of it), as references;
* "music": 32 plucked notes (5 harmonics, decaying at 3/s, a new note every 0.25 s, pitches drawn
  from A3-C5), peak -10 dBFS. Synthetic: no real music ships with the project or its dev data;
* speech with that music added at half its level;
* "typing": keystrokes at 4-10 a second, each a key-cap click (three damped resonances at 1-6 kHz), a
  bottoming-out thump (a damped 100-300 Hz resonance) and a weaker release click 50-120 ms later, at
  peaks of -30, -20 and -6 dBFS (a mechanical keyboard beside the microphone); and speech with typing
  at -30 dBFS under it. Synthetic as well: no keyboard recording is available here.

Usage: ``.venv/bin/python bench/music_bleed.py [--require-voicing] [--weights model.npz] [--out results.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.config import Config  # noqa: E402
from bridge.face.solver import mouth_opening  # noqa: E402
from bridge.frames import F32  # noqa: E402
from bridge.pipeline import render_offline  # noqa: E402

RATE_HZ = 16000
DURATION_S = 8


def plucked_music(rng: np.random.Generator) -> F32:
    t = np.arange(RATE_HZ * DURATION_S) / RATE_HZ
    y = np.zeros_like(t)
    starts_s = np.arange(0, DURATION_S, 0.25)
    pitches_hz = rng.choice([220, 262, 330, 392, 440, 523], starts_s.size)
    for start_s, f_hz in zip(starts_s, pitches_hz, strict=True):
        on = (t >= start_s) & (t < start_s + 0.5)
        tt = t[on] - start_s
        for h in range(1, 6):
            y[on] += np.exp(-3 * tt) * np.sin(2 * np.pi * f_hz * h * tt) / h
    return (10 ** (-10 / 20) * y / np.abs(y).max()).astype(np.float32)


def _damped(f_hz: float, decay_s: float, n: int) -> np.ndarray:
    t = np.arange(n) / RATE_HZ
    return np.exp(-t / decay_s) * np.sin(2 * np.pi * f_hz * t)


def typing(rng: np.random.Generator, peak_dbfs: float) -> F32:
    y = np.zeros(RATE_HZ * DURATION_S)
    n = RATE_HZ // 20  # 50 ms per transient
    t_s = 0.2
    while t_s < DURATION_S - 0.3:
        click = sum(_damped(rng.uniform(1000, 6000), rng.uniform(0.002, 0.008), n) for _ in range(3))
        thump = 1.5 * _damped(rng.uniform(100, 300), 0.015, n)
        i = int(t_s * RATE_HZ)
        j = i + int(rng.uniform(0.05, 0.12) * RATE_HZ)
        y[i : i + n] += click + thump
        y[j : j + n] += 0.4 * sum(_damped(rng.uniform(1000, 6000), 0.003, n) for _ in range(2))
        t_s += rng.uniform(0.1, 0.25)
    return (10 ** (peak_dbfs / 20) * y / np.abs(y).max()).astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    parser.add_argument("--weights", default="default", help="weights file (default: the packaged model)")
    parser.add_argument("--require-voicing", action="store_true", help="as `run --require-voicing`")
    args = parser.parse_args()
    cfg = Config()
    cfg = replace(cfg, model=replace(cfg.model, weights=args.weights),
                  vad=replace(cfg.vad, require_voicing=args.require_voicing))  # fmt: skip
    rng = np.random.default_rng(0)
    speech, rate = sf.read(str(ROOT / "examples" / "hello.wav"), dtype="float32")
    assert rate == RATE_HZ
    speech = speech[: RATE_HZ * DURATION_S]
    music = plucked_music(rng)
    signals = {
        "silence": np.zeros(RATE_HZ * DURATION_S, np.float32),
        "white noise -30 dBFS": (10 ** (-30 / 20) * rng.standard_normal(RATE_HZ * DURATION_S)).astype(np.float32),
        "music": music,
        "speech": speech,
        "speech + music at half level": (speech + 0.5 * music).astype(np.float32),
        **{f"typing {db} dBFS": typing(rng, db) for db in (-30, -20, -6)},
        "speech + typing -30 dBFS": (speech + typing(rng, -30)).astype(np.float32),
    }
    results: dict[str, dict[str, float]] = {}
    sys.stdout.write("| signal | opening mean | p95 | frames above 0.1 | voice above 0.5 |\n|---|---|---|---|---|\n")
    for name, x in signals.items():
        frames = render_offline(x, RATE_HZ, cfg)
        opening = np.array([mouth_opening(f.pose.blendshapes) for f in frames])
        voice = np.array([f.pose.voice for f in frames])
        row = {
            "mean": round(float(opening.mean()), 3),
            "p95": round(float(np.percentile(opening, 95)), 3),
            "above_0.1": round(float(np.mean(opening > 0.1)), 2),
            "voice_above_0.5": round(float(np.mean(voice > 0.5)), 2),
        }
        results[name] = row
        sys.stdout.write(f"| {name} | {row['mean']:.3f} | {row['p95']:.3f} | {row['above_0.1']:.2f} "
                         f"| {row['voice_above_0.5']:.2f} |\n")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
