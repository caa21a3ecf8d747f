"""Training crops: where they start, and that the default draws stay what they were."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bridge.errors import ConfigError
from bridge.training.config import QUICK
from bridge.training.dataset import TrainingData

pytest.importorskip("torch", reason="training needs torch")


def _data() -> TrainingData:
    rows = [np.arange(n * 2, dtype=np.float32).reshape(n, 2) + 1000 * i for i, n in enumerate((400, 520, 610))]
    return TrainingData(rows, [r.copy() for r in rows], np.zeros(2), np.ones(2))


def test_start_crops_begin_at_the_stream_start() -> None:
    from bridge.training.train import sample_batch

    data = _data()
    cfg = replace(QUICK, batch_size=16, crop_frames=100)
    x, y = sample_batch(data, replace(cfg, start_crop_fraction=1.0), np.random.default_rng(0))
    assert np.all(x[:, 0, 0].numpy() % 1000 == 0)  # row 0 of whichever paragraph was picked
    np.testing.assert_array_equal(x.numpy(), y.numpy())
    x, _ = sample_batch(data, cfg, np.random.default_rng(0))
    assert np.sum(x[:, 0, 0].numpy() % 1000 == 0) < 4


def test_no_start_crops_draw_the_same_batches_as_before_the_option() -> None:
    from bridge.training.train import sample_batch

    data = _data()
    cfg = replace(QUICK, batch_size=8, crop_frames=100)
    rng = np.random.default_rng(3)
    # What the sampler drew before start crops existed: a paragraph by usable length, then a start.
    lengths = np.array([400, 520, 610])
    usable = lengths - 100 + 1
    picks = rng.choice(3, size=8, p=usable / usable.sum())
    starts = [int(rng.integers(0, lengths[i] - 100 + 1)) for i in picks]
    x, _ = sample_batch(data, cfg, np.random.default_rng(3))
    expected = [1000 * i + 2 * s for i, s in zip(picks, starts, strict=True)]
    np.testing.assert_array_equal(x[:, 0, 0].numpy(), np.array(expected, dtype=np.float32))


def test_start_crop_fraction_must_be_a_share() -> None:
    with pytest.raises(ConfigError, match="start_crop_fraction"):
        replace(QUICK, start_crop_fraction=1.5)


def test_an_ensemble_needs_at_least_one_member() -> None:
    with pytest.raises(ConfigError, match="members"):
        replace(QUICK, members=0)


def test_envelope_coefficients_must_fit_the_mel_bands() -> None:
    with pytest.raises(ConfigError, match="envelope_coeffs"):
        replace(QUICK, envelope_coeffs=41)


def test_closure_weight_must_not_be_negative() -> None:
    with pytest.raises(ConfigError, match="closure_weight"):
        replace(QUICK, closure_weight=-1.0)
