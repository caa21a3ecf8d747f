"""Transcript-guided timing on the GRID dev clips, scored with the project's GRID metrics.

For each phone weight (0 = the acoustic model alone, the ``face`` method of bridge/evaluation.py),
every GRID clip is baked in memory with its transcript (from the data README) and scored by
``bridge.evaluation.evaluate_grid``: Pearson r of the face's mouth opening (jawOpen - mouthClose +
mean(mouthLowerDown)/2 + mean(mouthUpperUp)/2) with the inner-lip aperture tracked from the video,
and closure recall / precision / F1 / onset error / MCC.

Usage: ``nice -n 10 .venv/bin/python bench/transcript_gain.py [--out results.json]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.config import Config  # noqa: E402
from bridge.evaluation import Prediction, Predictor, evaluate_grid, read_wav  # noqa: E402
from bridge.frames import ARKIT_INDEX, F32  # noqa: E402
from bridge.offline.bake import BakeSettings, make_take  # noqa: E402
from bridge.offline.exports import ExportOptions  # noqa: E402

GRID = ROOT.parent / "shared" / "data" / "dev" / "grid"
TRANSCRIPTS = {
    "bbaf2n": "bin blue at f two now",
    "brbk7n": "bin red by k seven now",
    "lbax4n": "lay blue at x four now",
    "lbbc2a": "lay blue by c two again",
    "lrwp9a": "lay red with p nine again",
}
WEIGHTS = (0.0, 0.3, 0.5, 0.7, 1.0)


def _key(x: F32) -> str:
    return hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest()


def guided_predictor(weight: float, texts: dict[str, str]) -> Predictor:
    """The offline bake with transcripts; ``evaluate_grid`` passes samples only, so the clip's
    transcript is found by the samples' hash."""
    settings = BakeSettings(Config(), (), ExportOptions(), weight)

    def predict(x: F32, sr: int) -> Prediction:
        text = texts[_key(x)] if weight > 0 else None
        take, _ = make_take(Path("grid.wav"), x, sr, settings, text)
        bs = take.blendshapes().astype(np.float64)

        def both(stem: str) -> np.ndarray:
            return 0.5 * (bs[:, ARKIT_INDEX[stem + "Left"]] + bs[:, ARKIT_INDEX[stem + "Right"]])

        raw = bs[:, ARKIT_INDEX["jawOpen"]] - bs[:, ARKIT_INDEX["mouthClose"]]
        opening = raw + 0.5 * both("mouthLowerDown") + 0.5 * both("mouthUpperUp")
        return Prediction(take.times_s.astype(np.float64), opening)

    return predict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args()
    if not GRID.is_dir():
        sys.stderr.write(f"GRID dev clips not found at {GRID}\n")
        return 1
    texts = {_key(read_wav(GRID / f"{cid}.wav")[0]): text for cid, text in TRANSCRIPTS.items()}
    results = {
        f"phone_weight={w}": {k: round(v, 3) for k, v in evaluate_grid(GRID, guided_predictor(w, texts)).items()}
        for w in WEIGHTS
    }
    text = json.dumps(results, indent=2)
    sys.stdout.write(text + "\n")
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
