"""Transcript-guided timing on the GRID dev clips: does aligning the words improve the mouth?

For each clip (``../shared/data/dev/grid``, transcripts from its README) and each phone weight
(0 = acoustic model alone), bake the clip in memory and compare the face's lip opening (the face
solver's definition: jawOpen - mouthClose + (lowerDown + upperUp) / 2, both sides averaged) with
the inner-lip aperture tracked from the video (25 fps):

* r: Pearson correlation over the whole clip (the measure docs/face.md reports for GRID);
* closure hit rate: share of the tracked lip closures inside the utterance (aperture < 0.010
  between the first and last open frame; /p b m/, heavy rounding) where the face is also nearly
  closed (opening below 30 % of its 95th percentile over the clip).

Usage: ``nice -n 10 .venv/bin/python bench/transcript_gain.py [--out results.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.audio.files import read_audio  # noqa: E402
from bridge.config import Config  # noqa: E402
from bridge.frames import ARKIT_INDEX  # noqa: E402
from bridge.offline.bake import BakeSettings, make_take  # noqa: E402
from bridge.offline.exports import ExportOptions  # noqa: E402
from bridge.offline.take import Take  # noqa: E402

GRID = ROOT.parent / "shared" / "data" / "dev" / "grid"
TRANSCRIPTS = {
    "bbaf2n": "bin blue at f two now",
    "brbk7n": "bin red by k seven now",
    "lbax4n": "lay blue at x four now",
    "lbbc2a": "lay blue by c two again",
    "lrwp9a": "lay red with p nine again",
}
VIDEO_FPS = 25
CLOSED_APERTURE = 0.010  # data README: closures are below about 0.010
OPEN_APERTURE = 0.02
WEIGHTS = (0.0, 0.3, 0.5, 0.7, 1.0)


def opening(take: Take) -> np.ndarray:
    bs = take.blendshapes()

    def both(stem: str) -> np.ndarray:
        return 0.5 * (bs[:, ARKIT_INDEX[stem + "Left"]] + bs[:, ARKIT_INDEX[stem + "Right"]])

    raw = bs[:, ARKIT_INDEX["jawOpen"]] - bs[:, ARKIT_INDEX["mouthClose"]]
    return np.clip(raw + 0.5 * both("mouthLowerDown") + 0.5 * both("mouthUpperUp"), 0.0, None)


def scores(take: Take, aperture: np.ndarray) -> tuple[float, float, int]:
    """(r, closure hit rate, tracked closure frames) of one take against the tracked aperture."""
    t_video = np.arange(aperture.shape[0]) / VIDEO_FPS
    pred = np.interp(t_video, take.times_s, opening(take))
    r = float(np.corrcoef(pred, aperture)[0, 1])
    open_idx = np.nonzero(aperture > OPEN_APERTURE)[0]
    inside = np.zeros(aperture.shape[0], dtype=bool)
    if open_idx.size:
        inside[open_idx[0] : open_idx[-1] + 1] = True
    closed = inside & (aperture < CLOSED_APERTURE)
    threshold = 0.3 * max(float(np.percentile(pred, 95)), 1e-6)
    hits = float(np.mean(pred[closed] < threshold)) if closed.any() else float("nan")
    return r, hits, int(closed.sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args()
    if not GRID.is_dir():
        sys.stderr.write(f"GRID dev clips not found at {GRID}\n")
        return 1
    results: dict[str, dict[str, object]] = {}
    for w in WEIGHTS:
        per_clip = {}
        settings = BakeSettings(Config(), (), ExportOptions(), w)
        for cid, text in TRANSCRIPTS.items():
            path = GRID / f"{cid}.wav"
            samples, rate = read_audio(path)
            take, _ = make_take(path, samples, rate, settings, text if w > 0 else None)
            aperture = np.load(GRID / f"{cid}_lips25fps.npy")[:, 0]
            r, hits, n_closed = scores(take, aperture)
            per_clip[cid] = {"r": round(r, 3), "closure_hits": round(hits, 3), "closed_frames": n_closed}
        rs = [c["r"] for c in per_clip.values()]
        closed_total = sum(int(c["closed_frames"]) for c in per_clip.values())
        hit_total = sum(float(c["closure_hits"]) * int(c["closed_frames"]) for c in per_clip.values())
        results[f"phone_weight={w}"] = {
            "mean_r": round(float(np.mean(rs)), 3),
            "closure_hit_rate": round(hit_total / max(closed_total, 1), 3),
            "clips": per_clip,
        }
    text = json.dumps(results, indent=2)
    sys.stdout.write(text + "\n")
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
