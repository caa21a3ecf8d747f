"""Accuracy metric functions on synthetic inputs (and a dev-data smoke run when present)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.evaluation import (
    ClosureCounts,
    Prediction,
    energy_predictor,
    evaluate_facegood,
    evaluate_grid,
    pearson,
    predicted_closed,
)
from bridge.face import load_profile


def test_pearson() -> None:
    x = np.arange(10.0)
    assert pearson(x, 2 * x + 1) == pytest.approx(1.0)
    assert pearson(x, -x) == pytest.approx(-1.0)
    assert pearson(x, np.ones(10)) == 0.0


def _aperture() -> np.ndarray:
    a = np.full(60, 0.03)
    a[:5] = a[-5:] = 0.005  # resting mouth: ignored
    a[20:24] = 0.004  # one closure
    a[40:43] = 0.002  # another
    return a


def test_perfect_prediction_scores_perfectly() -> None:
    c = ClosureCounts()
    c.add(_aperture(), _aperture())
    s = c.scores()
    assert (s["closure_recall"], s["closure_precision"], s["closure_f1"], s["closure_mcc"]) == (1.0, 1.0, 1.0, 1.0)
    assert s["onset_error_ms"] == 0.0


def test_late_and_missed_closures() -> None:
    pred = np.full(60, 0.03)
    pred[22:26] = 0.0  # 2 frames late: still matched, 80 ms onset error
    pred[50:52] = 0.0  # a false closure
    c = ClosureCounts()
    c.add(_aperture(), pred)
    s = c.scores()
    assert s["closure_recall"] == 0.5
    assert s["closure_precision"] == 0.5
    assert s["onset_error_ms"] == pytest.approx(80.0)
    assert -1.0 < s["closure_mcc"] < 1.0


def test_prediction_threshold_follows_the_issue_rule() -> None:
    opening = np.linspace(0.0, 1.0, 101)
    closed = predicted_closed(opening)
    # 2nd percentile 0.02, 98th 0.98: threshold 0.02 + 0.15 * 0.96 = 0.164
    assert closed.sum() == 17


def test_energy_baseline_on_dev_grid(dev_data: Path) -> None:
    scores = evaluate_grid(dev_data / "grid", energy_predictor())
    assert scores["clips"] == 5
    assert 0.0 < scores["r"] < 1.0


def test_facegood_jaw_key_correlation(tmp_path: Path) -> None:
    column = load_profile("facegood").names.index("mouth_stretch_c")
    (tmp_path / "wav").mkdir()
    (tmp_path / "bs_value").mkdir()
    rng = np.random.default_rng(0)
    for clip, n_frames in (("a", 90), ("b", 150)):
        sf.write(tmp_path / "wav" / f"{clip}.wav", np.zeros(16000 * n_frames // 30, dtype=np.float32), 16000)
        keys = np.zeros((n_frames, 116))
        keys[:, column] = rng.uniform(0.0, 1.0, n_frames)
        np.save(tmp_path / "bs_value" / f"bs_value_{clip}.npy", keys)

    def truth(sign: float) -> Callable[[np.ndarray, int], Prediction]:
        def predict(x: np.ndarray, sr: int) -> Prediction:
            n = x.size * 30 // sr
            clip = "a" if n == 90 else "b"
            key = np.load(tmp_path / "bs_value" / f"bs_value_{clip}.npy")[:, column]
            return Prediction((np.arange(n) + 0.5) / 30, sign * key)

        return predict

    scores = evaluate_facegood(tmp_path, truth(1.0))
    assert scores == {"jaw_r": pytest.approx(1.0), "clip_jaw_r": pytest.approx(1.0), "clips": 2.0}
    assert evaluate_facegood(tmp_path, truth(-1.0))["jaw_r"] == pytest.approx(-1.0)
