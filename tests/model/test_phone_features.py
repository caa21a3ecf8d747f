"""Phone posteriors from pocketsphinx's acoustic model: read correctly, recognise phones, stream exactly."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bridge.corpus.mbrola import espeak_available, synthesize
from bridge.errors import ModelError
from bridge.features.logmel import RunningNormaliser
from bridge.features.phones import (
    DELAY_FRAMES,
    N_PHONES,
    StreamingPhonePosteriors,
    phone_features_for,
    raw_log_filterbank,
)
from bridge.model import load_weights

pytest.importorskip("pocketsphinx", reason="the acoustic model ships with pocketsphinx")

from bridge.training.sphinx_am import load_phone_model  # noqa: E402

TEXT = "she sells sea shells by the sea shore. the big ox got mad at a cat. who knew you would move too?"


def test_the_acoustic_model_reads_as_42_phones_with_normalised_state_weights() -> None:
    model = load_phone_model()
    assert len(model.phones) == N_PHONES and model.phones[32] == "SIL" and model.phones[2] == "AA"
    assert model.means.shape == (3, N_PHONES, 128, 13) and model.inv_var.shape == model.means.shape
    sums = model.weights.sum(axis=2)  # 8-bit quantised -log weights sum to about 1 per state and stream
    assert sums.shape == (3, N_PHONES, 3)
    assert 0.9 < sums.min() and sums.max() < 1.05
    assert np.all(np.isfinite(model.inv_var)) and model.inv_var.min() > 0


def _labels(phones: list[tuple[str, float, float]], n: int) -> list[str]:
    centres_s = (np.arange(n) * 160 - 45) / 16000  # window of frame t ends at (t + 1) * 160 samples
    out = ["SIL"] * n
    for name, start_s, end_s in phones:
        for i in np.flatnonzero((centres_s >= start_s) & (centres_s < end_s)):
            out[i] = name.rstrip("012")
    return out


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng with MBROLA us1 is not installed")
def test_posteriors_pick_out_the_spoken_phones() -> None:
    utt = synthesize(TEXT, "mb-us1", speed_wpm=150, pitch=50)
    model = load_phone_model()
    feats = StreamingPhonePosteriors(model, raw_log_filterbank(utt.samples).mean(axis=0)).process(utt.samples)
    rows = feats[DELAY_FRAMES:]
    labels = _labels(utt.phones, rows.shape[0])
    top5 = np.argsort(-rows, axis=1)[:, :5]
    hits = [lab in {model.phones[k] for k in row} for lab, row in zip(labels, top5, strict=True)]
    # Chance is 5 / 42 = 0.12; a front end that does not match the model's training gives about that.
    assert np.mean(hits) > 0.45
    s_frames = [i for i, lab in enumerate(labels) if lab == "S"]
    assert np.mean([model.phones[int(np.argmax(rows[i]))] in {"S", "Z"} for i in s_frames]) > 0.6


def test_streaming_equals_offline_and_rows_come_three_hops_late() -> None:
    model = load_phone_model()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000) * 0.05
    prior = np.full(25, 12.0)
    whole = StreamingPhonePosteriors(model, prior).process(x)
    fe = StreamingPhonePosteriors(model, prior)
    parts, i = [], 0
    while i < x.size:
        k = int(rng.integers(1, 900))
        parts.append(fe.process(x[i : i + k]))
        i += k
    assert whole.shape == (100, N_PHONES)
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-4)
    # Row t describes frame t - 3, whose deltas reach frame t: changing audio after hop 40 leaves rows < 40.
    y = x.copy()
    y[40 * 160 :] = rng.standard_normal(y.size - 40 * 160)
    other = StreamingPhonePosteriors(model, prior).process(y)
    np.testing.assert_array_equal(other[:40], whole[:40])
    assert not np.allclose(other[40], whole[40])
    assert np.all(whole <= 1.0) and np.all(whole >= -1.0)


def test_mean_only_normaliser_subtracts_the_running_mean() -> None:
    rows = np.tile(np.array([[3.0, 5.0]]), (2000, 1))
    out = RunningNormaliser(np.zeros(2), np.ones(2), scale=False)(rows)
    np.testing.assert_allclose(out[-1], [0.0, 0.0], atol=1e-3)  # adapted to the constant input
    np.testing.assert_allclose(out[0], rows[0] * (1 - 0.005), rtol=1e-3)  # one 2 s-time-constant step


def test_weights_with_a_phone_model_but_no_prior_are_refused() -> None:
    arrays = dict(load_phone_model().arrays())
    with pytest.raises(ModelError, match="am_prior_mean"):
        phone_features_for(arrays)
    assert phone_features_for({}) is None


@pytest.mark.slow
@pytest.mark.skipif(not espeak_available(), reason="espeak-ng with MBROLA us1 is not installed")
def test_model_trained_with_phone_features_runs_them_without_torch_state(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="training needs torch")
    from bridge.training.config import QUICK
    from bridge.training.train import train

    path = tmp_path / "pf.npz"
    train(replace(QUICK, phone_features=True, flite_voices=(), paragraphs_per_flite_voice=0), path, threads=1)
    with np.load(path, allow_pickle=False) as z:
        assert z["conv1_w"].shape[1] == 40 + N_PHONES and "am_means" in z.files
    model = load_weights(path, 30)
    x = np.random.default_rng(3).standard_normal(24000).astype(np.float32) * 0.1
    whole = model.process(x)
    tail = model.flush()
    parts = [model.process(x[i : i + 333]) for i in range(0, x.size, 333)] + [model.flush()]
    streamed = np.concatenate([p.ema for p in parts])
    np.testing.assert_allclose(streamed, np.concatenate([whole.ema, tail.ema]), atol=1e-4)
