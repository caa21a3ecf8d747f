"""The optional SSL upstream: wav2avatar-style linear heads read safely, a local WavLM checkpoint streamed in chunks."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression
from transformers import WavLMConfig, WavLMModel

from bridge.audio.files import read_audio
from bridge.cli import main
from bridge.config import ModelConfig
from bridge.corpus.flite import flite_available
from bridge.corpus.mbrola import espeak_available
from bridge.errors import ConfigError, ModelError
from bridge.model import load_default_model
from bridge.training.head import fit_head
from bridge.upstream import build_model, read_head
from bridge.upstream.encoder import SSLEncoder
from tests.conftest import EXAMPLE_WAV, ROOT

LAYER = 1


@pytest.fixture(scope="module")
def tiny_upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer WavLM saved as a Hugging Face model directory."""
    torch.manual_seed(0)
    cfg = WavLMConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(32,) * 7,
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, num_buckets=32, max_bucket_distance=100,
    )
    path = tmp_path_factory.mktemp("upstream") / "tiny-wavlm"
    WavLMModel(cfg).save_pretrained(path)
    return path


def _shipped_ema(x: np.ndarray) -> np.ndarray:
    model = load_default_model(30)
    return np.concatenate([model.process(x).ema, model.flush().ema])


@pytest.fixture(scope="module")
def fitted_head(tiny_upstream: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scikit-learn LinearRegression from the tiny encoder's layer 1 to the shipped model's EMA on the
    example clip, pickled the way wav2avatar publishes its heads (layer in the file name)."""
    x, _ = read_audio(EXAMPLE_WAV)
    ref = _shipped_ema(x)
    feats = SSLEncoder(str(tiny_upstream)).hidden_state(x, LAYER)
    at = (np.arange(feats.shape[0]) * 320 + 200) / 160 - 0.5  # encoder frame centres in 10 ms frames
    target = np.stack([np.interp(at, np.arange(ref.shape[0]), ref[:, c]) for c in range(12)], axis=1)
    path = tmp_path_factory.mktemp("heads") / f"lr_tiny_l{LAYER}_example.pkl"
    path.write_bytes(pickle.dumps(LinearRegression().fit(feats, target)))
    return path


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_sklearn_heads_are_read_without_sklearn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protocol: int
) -> None:
    rng = np.random.default_rng(protocol)
    lr = LinearRegression().fit(rng.normal(size=(50, 16)), rng.normal(size=(50, 12)))
    path = tmp_path / "lr_wlm_l9_mng_all.pkl"
    path.write_bytes(pickle.dumps(lr, protocol=protocol))
    for mod in ("sklearn", "sklearn.linear_model", "sklearn.linear_model._base"):
        monkeypatch.setitem(sys.modules, mod, None)  # importing scikit-learn now fails
    head = read_head(path)
    np.testing.assert_allclose(head.coef, lr.coef_, rtol=1e-6)
    np.testing.assert_allclose(head.intercept, lr.intercept_, rtol=1e-6)
    assert head.layer == 9 and head.n_features == 16


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    lr = LinearRegression().fit(np.eye(12), np.eye(12))
    lr.coef_ = _Exploit(marker)  # a head whose array is really a call to os.system
    for i, payload in enumerate((pickle.dumps(_Exploit(marker)), pickle.dumps(lr))):
        path = tmp_path / f"evil{i}.pkl"
        path.write_bytes(payload)
        with pytest.raises(ModelError, match="refusing pickled global"):
            read_head(path)
    assert not marker.exists()


class _HugeArray:
    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # numpy allocates the shape named here before any data is read: 931 GiB.
        return np._core.multiarray._reconstruct, (np.ndarray, (10**12,), b"b")


class _HugeObjectArray:
    def __reduce__(self) -> tuple[object, ...]:
        # As real pickles do: shape (0,) to _reconstruct, the real shape in the state, where an object
        # array is allocated (and zeroed) before its data is checked.
        return (np._core.multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                (1, (10**12,), np.dtype("O"), False, []))  # fmt: skip


def test_a_pickle_cannot_make_a_huge_array(tmp_path: Path) -> None:
    path = tmp_path / "huge.pkl"
    path.write_bytes(pickle.dumps(_HugeArray(), protocol=2))
    with pytest.raises(ModelError, match=r"refusing an array of shape \(1000000000000,\), too large"):
        read_head(path)
    path.write_bytes(pickle.dumps(_HugeObjectArray(), protocol=2))
    with pytest.raises(ModelError, match=r"refusing an array of Python objects"):
        read_head(path)


def test_bad_heads_give_one_clear_error(tmp_path: Path) -> None:
    three = tmp_path / "three_l2.pkl"
    three.write_bytes(pickle.dumps(LinearRegression().fit(np.eye(5), np.eye(5)[:, :3])))
    (tmp_path / "junk.pkl").write_bytes(b"\x80\x04not a pickle at all")
    np.savez(tmp_path / "noarrays.npz", weights=np.zeros(3))
    with pytest.raises(ModelError, match="12 EMA channels"):
        read_head(three)
    with pytest.raises(ModelError, match="unreadable pickle"):
        read_head(tmp_path / "junk.pkl")
    with pytest.raises(ModelError, match="coef, intercept"):
        read_head(tmp_path / "noarrays.npz")
    with pytest.raises(ModelError, match="head not found"):
        read_head(tmp_path / "missing.pkl")
    # An .npz head of NaN froze the face; a capitalised suffix was read as a pickle; layer 1.7 became 1.
    good = {"coef": np.ones((12, 8), np.float32), "intercept": np.zeros(12, np.float32)}
    np.savez(tmp_path / "nan.npz", coef=good["coef"], intercept=np.full(12, np.nan, np.float32))
    with pytest.raises(ModelError, match="intercept holds non-finite values"):
        read_head(tmp_path / "nan.npz")
    np.savez(tmp_path / "odd.npz", **good, layer=np.array(1.7))
    with pytest.raises(ModelError, match="layer must be one whole number"):
        read_head(tmp_path / "odd.npz")
    (tmp_path / "trunc.npz").write_bytes((tmp_path / "odd.npz").read_bytes()[:100])
    with pytest.raises(ModelError, match="cannot read"):
        read_head(tmp_path / "trunc.npz")
    np.savez(tmp_path / "caps.npz", **good, layer=np.array(2))
    (tmp_path / "caps.npz").rename(tmp_path / "CAPS.NPZ")
    assert read_head(tmp_path / "CAPS.NPZ").layer == 2


def test_npz_heads_carry_their_layer(tmp_path: Path) -> None:
    path = tmp_path / "head.npz"
    np.savez(path, coef=np.ones((12, 8), np.float32), intercept=np.zeros(12, np.float32), layer=np.array(4))
    head = read_head(path)
    assert head.layer == 4 and head.coef.shape == (12, 8)


def test_streaming_equals_offline(tiny_upstream: Path, fitted_head: Path) -> None:
    cfg = ModelConfig(upstream=str(tiny_upstream), head=str(fitted_head))
    model = build_model(cfg)
    assert model.lookahead_s == pytest.approx(0.23)  # 200 ms chunk + 30 ms look-ahead
    x, _ = read_audio(EXAMPLE_WAV)
    x = x[: 16000 * 4]
    whole = [model.process(x), model.flush()]
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(np.arange(1, x.shape[0]), size=40, replace=False))
    parts = [model.process(b) for b in np.split(x, cuts)] + [model.flush()]
    for field in ("ema", "controls", "visemes", "voicing"):
        a = np.concatenate([getattr(p, field) for p in whole])
        b = np.concatenate([getattr(p, field) for p in parts])
        assert a.shape == b.shape and a.shape[0] == -(-x.shape[0] // 160)
        assert np.max(np.abs(a - b)) <= 1e-4, field
    starts = [p.frame_index for p in parts if p.n_frames]
    assert starts == sorted(starts) and starts[0] == 0


def test_upstream_follows_what_its_head_learned(tiny_upstream: Path, fitted_head: Path) -> None:
    """Chunking, resampling 50 -> 100 Hz and the running standardiser keep the head's articulation in time."""
    model = build_model(ModelConfig(upstream=str(tiny_upstream), head=str(fitted_head)))
    x, _ = read_audio(EXAMPLE_WAV)
    ref = _shipped_ema(x)
    out = [model.process(x), model.flush()]
    ema = np.concatenate([p.ema for p in out])
    jaw = 1  # li_y: the channel the shipped model moves most
    assert np.corrcoef(ema[:, jaw], ref[:, jaw])[0, 1] > 0.6
    controls = np.concatenate([p.controls for p in out])
    visemes = np.concatenate([p.visemes for p in out])
    assert controls.min() >= 0 and controls.max() <= 1 and controls[:, 0].std() > 0.02
    np.testing.assert_allclose(visemes.sum(axis=1), 1.0, atol=1e-5)


def test_checkpoints_that_do_not_load_cleanly_are_one_clear_error(tiny_upstream: Path, tmp_path: Path) -> None:
    """Weights that did not fit their config left layers at random (output changed from run to run); a
    truncated file and a pickled checkpoint gave internal or multi-line errors; float16 failed at run time."""
    import json
    import shutil

    edited = tmp_path / "edited"
    shutil.copytree(tiny_upstream, edited)
    config = json.loads((edited / "config.json").read_text())
    config["num_hidden_layers"] = 4
    (edited / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="weights do not match its config.json"):
        SSLEncoder(str(edited))

    truncated = tmp_path / "truncated"
    shutil.copytree(tiny_upstream, truncated)
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:64])
    with pytest.raises(ModelError, match="cannot load its weights") as caught:
        SSLEncoder(str(truncated))
    assert "\n" not in str(caught.value)

    half = tmp_path / "half"
    WavLMModel.from_pretrained(tiny_upstream).half().save_pretrained(half)
    encoder = SSLEncoder(str(half))
    hidden = encoder.hidden_state(np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1, LAYER)
    assert hidden.dtype == np.float32 and np.isfinite(hidden).all()


def test_a_layer_other_than_the_heads_own_is_warned_about(
    tiny_upstream: Path, fitted_head: Path, caplog: pytest.LogCaptureFixture
) -> None:
    build_model(ModelConfig(upstream=str(tiny_upstream), head=str(fitted_head), upstream_layer=LAYER + 1))
    assert f"model.upstream_layer {LAYER + 1} overrides layer {LAYER}, which {fitted_head.name} was fitted on" in (
        caplog.text
    )


def test_config_errors(tiny_upstream: Path, fitted_head: Path) -> None:
    with pytest.raises(ConfigError, match="needs a linear head"):
        build_model(ModelConfig(upstream=str(tiny_upstream)))
    with pytest.raises(ConfigError, match="needs an SSL upstream"):
        build_model(ModelConfig(head=str(fitted_head)))
    with pytest.raises(ConfigError, match="not a hidden state"):
        build_model(ModelConfig(upstream=str(tiny_upstream), head=str(fitted_head), upstream_layer=5))
    with pytest.raises(ConfigError, match="multiples of 20"):
        build_model(ModelConfig(upstream=str(tiny_upstream), head=str(fitted_head), upstream_chunk_ms=110))


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HOME": str(home)}  # an empty cache: nothing to find, nothing downloaded
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_run_and_bake_with_an_upstream(tiny_upstream: Path, fitted_head: Path, tmp_path: Path) -> None:
    flags = ["--upstream", str(tiny_upstream), "--head", str(fitted_head)]
    rec = tmp_path / "rec.jsonl"
    p = _cli("run", "--input", str(EXAMPLE_WAV), "--fast", "--no-zmq", "--no-status", "--record", str(rec), *flags,
             home=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and "ssl:" in p.stderr
    frames = [json.loads(line) for line in rec.read_text().splitlines()]
    assert len(frames) > 400
    out = tmp_path / "take.jsonl"
    p = _cli("bake", str(EXAMPLE_WAV), "-o", str(out), "--no-progress", *flags, home=tmp_path)
    assert p.returncode == 0, p.stderr
    assert len(out.read_text().splitlines()) > 400


@pytest.mark.parametrize(
    ("upstream", "expect", "code"),
    [
        ("wavlm_large", "not in the local Hugging Face cache", 2),  # usage errors, as in bake
        ("/nonexistent/wavlm", "no such directory", 2),
    ],
)
def test_missing_or_hub_only_upstream_is_one_clear_error(
    fitted_head: Path, tmp_path: Path, upstream: str, expect: str, code: int
) -> None:
    p = _cli("run", "--input", str(EXAMPLE_WAV), "--fast", "--no-zmq", "--no-status", "--upstream", upstream,
             "--head", str(fitted_head), home=tmp_path)
    assert p.returncode == code
    assert "Traceback" not in p.stderr
    errors = [line for line in p.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and expect in errors[0], p.stderr


@pytest.mark.skipif(
    not (espeak_available() and flite_available()), reason="train-head needs espeak-ng, the MBROLA voices and flite"
)
def test_train_head_fits_an_npz_head_the_bridge_runs(tiny_upstream: Path, tmp_path: Path) -> None:
    out = tmp_path / "head.npz"
    assert main(["train-head", "--upstream", str(tiny_upstream), "--layer", str(LAYER), "--out", str(out),
                 "--quick"]) == 0  # fmt: skip
    head = read_head(out)
    assert head.layer == LAYER and head.coef.shape == (12, 32) and np.all(np.isfinite(head.coef))
    model = build_model(ModelConfig(upstream=str(tiny_upstream), head=str(out)))  # layer taken from the head
    x, _ = read_audio(EXAMPLE_WAV)
    out_rows = model.process(x).n_frames + model.flush().n_frames
    assert out_rows == -(-x.shape[0] // 160)


def test_fit_head_recovers_a_linear_map(tiny_upstream: Path) -> None:
    """Targets that are an exact linear function of the features are fitted almost exactly."""
    encoder = SSLEncoder(str(tiny_upstream))
    x, _ = read_audio(EXAMPLE_WAV)
    feats = encoder.hidden_state(x, LAYER)
    true = np.random.default_rng(1).normal(size=(12, 32)).astype(np.float32)
    per_frame = feats @ true.T  # at the encoder's 50 Hz frames; repeat to 100 Hz frames
    at_100 = np.repeat(per_frame, 2, axis=0)
    head = fit_head(encoder, LAYER, [(x, at_100)], ridge=1e-6, source="test")
    fitted = head.apply(feats)
    r = [np.corrcoef(fitted[:, c], per_frame[:, c])[0, 1] for c in range(12)]
    assert min(r) > 0.95
