"""Accuracy metric functions on synthetic inputs (and a dev-data smoke run when present)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.errors import ConfigError
from bridge.evaluation import (
    ClosureCounts,
    Prediction,
    energy_predictor,
    evaluate_all,
    evaluate_facegood,
    evaluate_grid,
    evaluate_mngu0,
    format_markdown,
    pearson,
    predicted_closed,
)
from bridge.face import load_profile


def test_pearson() -> None:
    x = np.arange(10.0)
    assert pearson(x, 2 * x + 1) == pytest.approx(1.0)
    assert pearson(x, -x) == pytest.approx(-1.0)
    assert pearson(x, np.ones(10)) == 0.0


def test_pearson_leaves_out_frames_that_are_not_finite() -> None:
    x = np.array([0.0, 1.0, np.nan, 3.0, 4.0])
    y = np.array([0.0, 2.0, 5.0, 6.0, np.inf])
    assert pearson(x, y) == pytest.approx(pearson([0.0, 1.0, 3.0], [0.0, 2.0, 6.0]))
    assert pearson(x, y) == pytest.approx(1.0)
    assert pearson([np.nan, 1.0], [1.0, 2.0]) == 0.0


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


def test_dropped_reference_frames_are_unknown_not_open() -> None:
    truth = _aperture()
    tracked = truth.copy()
    tracked[21] = np.nan  # a dropout inside the first closure: still one event
    tracked[30:33] = np.nan  # and in the open mouth: left out of the frame counts
    c = ClosureCounts()
    c.add(tracked, truth)
    s = c.scores()
    assert (s["closure_recall"], s["closure_precision"], s["closure_mcc"]) == (1.0, 1.0, 1.0)
    assert c.true_events == 2
    assert sum(c.confusion) == 60 - 10 - 4  # speech span minus the 4 unknown frames


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


def _truth_predictor(table: dict[int, np.ndarray], fps: int) -> Callable[[np.ndarray, int], Prediction]:
    """Predicts a clip's own reference (found by the clip's length), with junk where it is unknown."""

    def predict(x: np.ndarray, sr: int) -> Prediction:
        ref = np.nan_to_num(table[x.size], nan=0.5)
        return Prediction((np.arange(ref.size) + 0.5) / fps, ref)

    return predict


def test_grid_skips_clips_without_labels_and_scores_the_known_frames(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    lips = np.stack([rng.uniform(0.0, 0.05, 75), np.full(75, 0.3)], axis=1)
    lips[40:44, 0] = np.nan  # the tracker lost the face for 4 frames
    sf.write(tmp_path / "a.wav", np.zeros(48000, dtype=np.float32), 16000)
    np.save(tmp_path / "a_lips25fps.npy", lips)
    sf.write(tmp_path / "b.wav", np.zeros(32000, dtype=np.float32), 16000)  # no labels
    scores = evaluate_grid(tmp_path, _truth_predictor({48000: lips[:, 0]}, 25))
    assert scores["clips"] == 1.0
    assert scores["r"] == pytest.approx(1.0)
    np.save(tmp_path / "a_lips25fps.npy", lips[:, 0])  # the aperture column alone
    assert evaluate_grid(tmp_path, _truth_predictor({48000: lips[:, 0]}, 25))["r"] == pytest.approx(1.0)
    (tmp_path / "a_lips25fps.npy").unlink()
    with pytest.raises(ConfigError, match="no <id>.wav with a usable"):
        evaluate_grid(tmp_path, _truth_predictor({}, 25))


def test_mngu0_leaves_out_sensor_gaps(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    ema = rng.standard_normal((400, 12))
    ema[100:150, 5] = np.nan  # lower-lip y dropped out
    sf.write(tmp_path / "u.wav", np.zeros(32000, dtype=np.float32), 16000)
    np.save(tmp_path / "u.npy", ema)
    at_100_hz = 0.5 * (ema[0::2] + ema[1::2])
    aperture = at_100_hz[:, 3] - at_100_hz[:, 5]
    scores = evaluate_mngu0(tmp_path, _truth_predictor({32000: aperture}, 100))
    assert scores["utterances"] == 1.0
    assert scores["lip_aperture_r"] == pytest.approx(1.0)


def test_a_data_folder_with_one_corpus_is_scored_on_that_corpus(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="none of the folders"):
        evaluate_all(tmp_path, {"energy": energy_predictor()})
    grid = tmp_path / "grid"
    grid.mkdir()
    rng = np.random.default_rng(3)
    sf.write(grid / "a.wav", (rng.standard_normal(48000) * 0.1).astype(np.float32), 16000)
    np.save(grid / "a_lips25fps.npy", np.stack([rng.uniform(0.0, 0.05, 75), np.full(75, 0.3)], axis=1))
    results = evaluate_all(tmp_path, {"energy": energy_predictor()})
    assert list(results["energy"]) == ["grid"]
    table = format_markdown(results)
    assert table.startswith("| method | GRID r |") and "MNGU0" not in table and "FACEGOOD" not in table
