"""Compare the full offline path (model -> face solver -> facegood profile) with FACEGOOD's animator keys.

FACEGOOD's data: Mandarin speech (16 kHz) with per-frame weights of a 116-shape rig keyed by an
animator at 30 fps. For each main mouth channel this prints Pearson r between our curve and the
animator's, pooled over all clips, at lag 0 and at the best lag within +-MAX_LAG frames (positive lag:
ours is late), plus the mean of per-clip r at lag 0.

    nice -n 10 .venv/bin/python bench/facegood_check.py [--max-s 60] [--mood happy]
"""

from __future__ import annotations

import argparse
import logging
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

from bridge.config import Config, FaceConfig, OutputConfig
from bridge.face import load_profile
from bridge.pipeline import render_offline

log = logging.getLogger("facegood_check")
DATA = Path(__file__).resolve().parents[1] / "../shared/data/dev/facegood"
MAIN_CHANNELS = (
    "mouth_stretch_c", "mouth_oh_c", "mouth_oo_c", "mouth_funnel_dl", "mouth_funnel_ul", "mouth_pucker_l",
    "mouth_lowerLipDepress_l", "mouth_upperLipRaise_l", "mouth_lipCornerPull_l", "mouth_press_l",
)  # fmt: skip
MAX_LAG = 6


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() < 1e-9 or b.std() < 1e-9:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def lagged(ours: np.ndarray, keys: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    if lag > 0:
        return ours[lag:], keys[: len(keys) - lag]
    if lag < 0:
        return ours[: len(ours) + lag], keys[-lag:]
    return ours, keys


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-s", type=float, default=None, help="use at most this many seconds per clip")
    ap.add_argument("--mood", default="neutral")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not DATA.exists():
        raise SystemExit(f"FACEGOOD dev data not found at {DATA}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        names = [str(n) for n in np.load(DATA / "shirley_1015_bs_name.npy", allow_pickle=True)]
    profile = load_profile("facegood")
    assert list(profile.names) == names
    cols = [names.index(c) for c in MAIN_CHANNELS]
    cfg = replace(Config(), face=FaceConfig(profile="facegood", mood=args.mood), output=OutputConfig(fps=30))
    ours_all: list[np.ndarray] = []
    keys_all: list[np.ndarray] = []
    per_clip: list[list[float]] = []
    for wav in sorted((DATA / "wav").glob("*.wav")):
        x, sr = sf.read(wav, dtype="float32", always_2d=True)
        x = x[:, 0]
        if args.max_s is not None:
            x = x[: int(args.max_s * sr)]
        keys = np.load(DATA / "bs_value" / f"bs_value_{wav.stem}.npy")
        frames = render_offline(x, sr, cfg)
        ours = np.array([profile.values(f.pose) for f in frames])
        n = min(len(ours), len(keys))
        ours, keys = ours[:n][:, cols], keys[:n][:, cols]
        ours_all.append(ours)
        keys_all.append(keys)
        per_clip.append([pearson(ours[:, k], keys[:, k]) for k in range(len(cols))])
        log.info("%s: %d frames (%.1f s)", wav.name, n, n / 30)
    ours_cat, keys_cat = np.concatenate(ours_all), np.concatenate(keys_all)
    clip_r = np.nanmean(np.array(per_clip), axis=0)
    log.info("%-26s %8s %8s %5s %10s", "channel", "r(lag0)", "r(best)", "lag", "clip mean")
    for k, name in enumerate(MAIN_CHANNELS):
        rs = {lag: pearson(*lagged(ours_cat[:, k], keys_cat[:, k], lag)) for lag in range(-MAX_LAG, MAX_LAG + 1)}
        best = max(rs, key=lambda lag: -np.inf if np.isnan(rs[lag]) else rs[lag])
        log.info("%-26s %8.3f %8.3f %5d %10.3f", name, rs[0], rs[best], best, clip_r[k])
    log.info("total: %d frames, %.1f s", len(ours_cat), len(ours_cat) / 30)


if __name__ == "__main__":
    main()
