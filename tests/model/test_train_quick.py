"""``avatar-bridge train --quick`` runs end to end, deterministically, and gives a loadable model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bridge.cli import main
from bridge.corpus.flite import flite_available
from bridge.corpus.mbrola import espeak_available
from bridge.model import load_weights

pytest.importorskip("torch", reason="training needs torch")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (espeak_available() and flite_available()), reason="espeak-ng with MBROLA us1 or flite is not installed"
    ),
]


def test_quick_training_is_reproducible_and_loadable(tmp_path: Path) -> None:
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["train", "--quick", "--out", str(a)]) == 0
    assert main(["train", "--quick", "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()  # no timestamps: a reproduction checks with a checksum
    model = load_weights(a, 30)
    out = model.process(np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1)
    assert out.n_frames == 47 and np.all(np.isfinite(out.ema))


def test_two_members_train_from_consecutive_seeds_into_one_file(tmp_path: Path) -> None:
    from dataclasses import replace

    from bridge.model import EnsembleModel
    from bridge.training.config import QUICK
    from bridge.training.train import train

    single, pair = tmp_path / "seed2.npz", tmp_path / "pair.npz"
    train(replace(QUICK, seed=2), single, threads=1)
    train(replace(QUICK, members=2), pair, threads=1)
    with np.load(single, allow_pickle=False) as zs, np.load(pair, allow_pickle=False) as zp:
        assert int(zp["members"]) == 2
        for k in zs.files:  # member 1 is the seed-2 network, array for array
            np.testing.assert_array_equal(zp[f"m1.{k}"], zs[k])
        assert not np.array_equal(zp["m0.conv1_w"], zp["m1.conv1_w"])
    assert isinstance(load_weights(pair, 30), EnsembleModel)


def test_envelope_features_are_recorded_in_the_weights_and_used_at_run_time(tmp_path: Path) -> None:
    from dataclasses import replace

    from bridge.training.config import QUICK
    from bridge.training.train import train

    path, stripped = tmp_path / "envelope.npz", tmp_path / "stripped.npz"
    train(replace(QUICK, envelope_coeffs=13), path, threads=1)
    with np.load(path, allow_pickle=False) as z:
        assert int(z["envelope_coeffs"]) == 13
        np.savez(stripped, **{k: z[k] for k in z.files if k != "envelope_coeffs"})
    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    smoothed = load_weights(path, 30).process(x)
    plain = load_weights(stripped, 30).process(x)
    assert not np.allclose(smoothed.controls, plain.controls)


def test_closure_weight_reaches_the_loss(tmp_path: Path) -> None:
    from dataclasses import replace

    from bridge.training.config import QUICK
    from bridge.training.train import train

    plain, weighted = tmp_path / "plain.npz", tmp_path / "weighted.npz"
    train(QUICK, plain, threads=1)
    train(replace(QUICK, closure_weight=8.0), weighted, threads=1)
    with np.load(plain, allow_pickle=False) as zp, np.load(weighted, allow_pickle=False) as zw:
        np.testing.assert_array_equal(zp["prior_mean"], zw["prior_mean"])  # same corpus and features
        assert not np.allclose(zp["conv1_w"], zw["conv1_w"])


def test_quick_training_never_replaces_the_packaged_model_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `avatar-bridge train --quick` as the README shows it wrote a 40-step toy over the shipped weights.
    import bridge.training.train as training
    from bridge.model import DEFAULT_WEIGHTS

    written: list[Path] = []

    def fake_train(cfg: object, out: Path, threads: int) -> dict[str, float]:
        written.append(out)
        return {"loss": 0.0, "data_s": 0.0, "total_s": 0.0}

    monkeypatch.setattr(training, "train", fake_train)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--quick"]) == 0
    assert main(["train"]) == 0
    assert written == [Path("model-quick.npz"), DEFAULT_WEIGHTS]
