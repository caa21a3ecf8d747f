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
    assert scores == {"jaw_r": pytest.approx(1.0), "clip_jaw_r": pytest.approx(1.0),
                      "jaw_output_r": pytest.approx(1.0), "clips": 2.0}  # fmt: skip
    assert evaluate_facegood(tmp_path, truth(-1.0))["jaw_r"] == pytest.approx(-1.0)

    def jaw_apart(x: np.ndarray, sr: int) -> Prediction:
        # A method with its own jaw: the opening is scored as before, the jaw output on its own.
        p = truth(1.0)(x, sr)
        return Prediction(p.times_s, -p.opening, jaw=p.opening)

    scores = evaluate_facegood(tmp_path, jaw_apart)
    assert scores["jaw_r"] == pytest.approx(-1.0) and scores["jaw_output_r"] == pytest.approx(1.0)


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
    with pytest.raises(ConfigError, match="no GRID clip with a usable"):
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


def _grid_clip(folder: Path, name: str, seed: int, seconds: float = 3.0) -> np.ndarray:
    """A GRID-like clip (noise audio, random aperture at 25 fps); returns the reference."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(folder / f"{name}.wav", (rng.standard_normal(int(16000 * seconds)) * 0.1).astype(np.float32), 16000)
    lips = np.stack([rng.uniform(0.0, 0.05, int(25 * seconds)), np.full(int(25 * seconds), 0.3)], axis=1)
    np.save(folder / f"{name}_lips25fps.npy", lips)
    return lips


def test_clips_that_cannot_be_scored_are_skipped_and_the_rest_scored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Each of these used to stop the whole run (or crash it) or score the clip as r 0.
    grid = tmp_path / "grid"
    good = _grid_clip(grid, "good", 0)
    _grid_clip(grid, "corrupt", 1)
    (grid / "corrupt_lips25fps.npy").write_bytes(b"\x93NUMPY garbage")
    _grid_clip(grid, "short", 2)
    sf.write(grid / "short.wav", np.zeros(400, np.float32), 16000)  # 25 ms
    np.save(grid / "constant_lips25fps.npy", np.full((75, 2), 0.05))
    sf.write(grid / "constant.wav", np.zeros(48000, np.float32), 16000)
    _grid_clip(grid, "transposed", 3)
    np.save(grid / "transposed_lips25fps.npy", np.load(grid / "transposed_lips25fps.npy").T)
    _grid_clip(grid, "empty", 4)
    (grid / "empty_lips25fps.npy").write_bytes(b"")  # EOFError: an internal error that ended the run
    _grid_clip(grid, "archive", 5)
    np.savez(grid / "archive.npz", lips=np.zeros((75, 2)))
    (grid / "archive.npz").rename(grid / "archive_lips25fps.npy")  # an .npz under the .npy name
    (grid / "._good.wav").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # what macOS leaves beside copies
    (grid / "._good_lips25fps.npy").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    caplog.set_level("WARNING")
    results = evaluate_all(tmp_path, {"truth": _truth_predictor({48000: good[:, 0]}, 25)})
    assert results["truth"]["grid"]["clips"] == 1.0 and results["truth"]["grid"]["r"] == pytest.approx(1.0)
    skipped = " ".join(r.getMessage() for r in caplog.records)
    for reason in ("cannot read corrupt_lips25fps.npy", "25 ms of audio", "aperture column is constant",
                   "75 columns: expected (frames, 2)", "cannot read empty_lips25fps.npy",
                   "cannot read archive_lips25fps.npy: an archive of arrays"):  # fmt: skip
        assert reason in skipped
    assert "._good" not in skipped


def test_clips_are_found_in_nested_folders_any_case_and_any_audio_format(tmp_path: Path) -> None:
    lips = _grid_clip(tmp_path / "GRID" / "s1", "a", 0)
    x, sr = sf.read(tmp_path / "GRID" / "s1" / "a.wav", dtype="float32")
    (tmp_path / "GRID" / "s1" / "a.wav").unlink()
    sf.write(tmp_path / "GRID" / "s1" / "a.FLAC", x, sr)
    results = evaluate_all(tmp_path, {"truth": _truth_predictor({48000: lips[:, 0]}, 25)})
    assert results["truth"]["grid"]["clips"] == 1.0


def test_a_wav_beside_another_format_linked_folders_and_two_cased_corpus_folders(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A silent x.flac beside x.wav was scored instead of the .wav (GRID r 0.57 -> 0.40); a linked folder
    of clips was not searched; with grid/ and GRID/ one was ignored without a word."""
    lips = _grid_clip(tmp_path / "data" / "grid", "a", 0)
    sf.write(tmp_path / "data" / "grid" / "a.flac", np.zeros(48000, np.float32), 16000)
    other = _grid_clip(tmp_path / "elsewhere", "b", 1)
    (tmp_path / "data" / "grid" / "more").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "data" / "grid" / "again").symlink_to(tmp_path / "data" / "grid")  # a loop: searched once
    (tmp_path / "data" / "GRID").mkdir()
    caplog.set_level("WARNING")
    truth = _truth_predictor({48000: lips[:, 0]}, 25)
    results = evaluate_all(tmp_path / "data", {"truth": truth})
    assert results["truth"]["grid"]["clips"] == 2.0  # a.wav and the linked b.wav
    assert "a.wav and a.flac share a name: a.wav used" in caplog.text
    assert "GRID are both the grid folder: grid used" in caplog.text
    assert other.shape == lips.shape


def test_a_reference_longer_than_its_audio_is_scored_where_both_exist(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # np.interp held the last prediction flat over the reference's extra frames (r 0.57 -> 0.28 for 3x).
    lips = _grid_clip(tmp_path, "a", 0)
    exact = evaluate_grid(tmp_path, _truth_predictor({48000: lips[:, 0]}, 25))
    np.save(tmp_path / "a_lips25fps.npy", np.concatenate([lips, lips[::-1], lips]))
    caplog.set_level("WARNING")
    longer = evaluate_grid(tmp_path, _truth_predictor({48000: lips[:, 0]}, 25))
    assert longer == exact and longer["r"] == pytest.approx(1.0)
    assert "lasts 9.00 s at 25 frames/s but its audio 3.00 s" in caplog.text


def test_infinite_ema_values_are_left_out_like_nan(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    ema = rng.standard_normal((400, 12))
    sf.write(tmp_path / "u.wav", np.zeros(32000, dtype=np.float32), 16000)
    at_100_hz = 0.5 * (ema[0::2] + ema[1::2])

    def scores(bad: float) -> dict[str, float]:
        e = ema.copy()
        e[100, 9] = bad
        np.save(tmp_path / "u.npy", e)
        return evaluate_mngu0(tmp_path, _truth_ema_predictor(at_100_hz))

    assert scores(np.inf) == scores(np.nan)
    assert scores(np.nan)["r_tb_y"] == pytest.approx(1.0, abs=1e-3)


def _truth_ema_predictor(ema_100hz: np.ndarray) -> Callable[[np.ndarray, int], Prediction]:
    def predict(x: np.ndarray, sr: int) -> Prediction:
        n = ema_100hz.shape[0]
        return Prediction((np.arange(n) + 0.5) / 100, ema_100hz[:, 3] - ema_100hz[:, 5], ema_100hz)

    return predict


def test_a_dead_ema_channel_is_left_out_of_its_utterance_not_scored_zero(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    for name, dead in (("u", False), ("v", True)):
        ema = rng.standard_normal((400, 12))
        if dead:
            ema[:, 2] = 0.0  # upper lip x sensor flat
        sf.write(tmp_path / f"{name}.wav", np.zeros(32000 + (1600 if dead else 0), np.float32), 16000)
        np.save(tmp_path / f"{name}.npy", ema)
    table = {}
    for name in ("u", "v"):
        e = np.load(tmp_path / f"{name}.npy")
        table[32000 + (1600 if name == "v" else 0)] = 0.5 * (e[0::2] + e[1::2])

    def predict(x: np.ndarray, sr: int) -> Prediction:
        return _truth_ema_predictor(table[x.size])(x, sr)

    scores = evaluate_mngu0(tmp_path, predict)
    assert scores["utterances"] == 2.0
    assert scores["r_ul_x"] == pytest.approx(1.0, abs=1e-3)  # from the live sensor alone, not (1 + 0) / 2


def test_facegood_reads_the_jaw_key_column_from_the_data_names_file(tmp_path: Path) -> None:
    names = [f"ch{i}" for i in range(117)]
    names[3] = "mouth_stretch_c"  # another rig order than FACEGOOD's (column 74)
    np.save(tmp_path / "rig_bs_name.npy", np.array(names))
    (tmp_path / "wav").mkdir()
    (tmp_path / "bs_value").mkdir()
    rng = np.random.default_rng(0)
    keys = rng.uniform(0.0, 1.0, (90, 117))
    sf.write(tmp_path / "wav" / "a.wav", np.zeros(48000, np.float32), 16000)
    np.save(tmp_path / "bs_value" / "a.npy", keys)  # without the bs_value_ prefix

    def predict(x: np.ndarray, sr: int) -> Prediction:
        return Prediction((np.arange(90) + 0.5) / 30, keys[:, 3])

    assert evaluate_facegood(tmp_path, predict)["jaw_r"] == pytest.approx(1.0)
    (tmp_path / "bs_value").rename(tmp_path / "BS_VALUE")  # folder names in any case, as wav/ already was
    assert evaluate_facegood(tmp_path, predict)["jaw_r"] == pytest.approx(1.0)


def test_evaluate_command_checks_its_arguments_before_the_run(tmp_path: Path) -> None:
    from bridge.cli import main

    _grid_clip(tmp_path / "data" / "grid", "a", 0)
    data = str(tmp_path / "data")
    assert main(["evaluate", "--data", data, "--methods", " , "]) == 2
    assert main(["evaluate", "--data", data, "--methods", "energy", "--markdown", str(tmp_path / "no" / "t.md")]) == 2
    assert main(["evaluate", "--data", str(tmp_path / "missing"), "--methods", "energy"]) == 2
    out = tmp_path / "t.md"
    assert main(["evaluate", "--data", data, "--methods", "energy", "--markdown", str(out)]) == 0
    setup, header = out.read_text().splitlines()[:2]
    assert setup == f"<!-- avatar-bridge evaluate: data {data}, weights shipped, look-ahead 30 ms, methods energy -->"
    assert "| energy |" in out.read_text() and header.endswith("| clips |")


def test_evaluate_writes_its_tables_to_standard_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`evaluate > results.md` wrote an empty file: the tables were only in the log, on stderr."""
    from bridge.cli import main

    _grid_clip(tmp_path / "data" / "grid", "a", 0)
    assert main(["evaluate", "--data", str(tmp_path / "data"), "--methods", "energy", "--log-level", "warning"]) == 0
    out, err = capsys.readouterr()
    assert "| energy |" in out and "| energy |" not in err
