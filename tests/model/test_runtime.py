"""The shipped model: streaming equals offline, shapes and ranges, weights file, no torch at run time."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.config import ModelConfig
from bridge.errors import ConfigError, ModelError
from bridge.frames import CONTROL_NAMES, EMA_NAMES, VISEMES, ModelOutput
from bridge.model import DEFAULT_WEIGHTS, EnsembleModel, load_default_model, load_model, load_weights
from bridge.model.runtime import ensemble_arrays
from tests.conftest import EXAMPLE_WAV


def _speech() -> np.ndarray:
    x, sr = sf.read(EXAMPLE_WAV, dtype="float32")
    assert sr == 16000
    return x[: 16000 * 2 + 77]


def _concat(parts: list[ModelOutput]) -> np.ndarray:
    return np.concatenate([np.concatenate([p.ema, p.controls, p.visemes, p.voicing[:, None]], axis=1) for p in parts])


@pytest.mark.parametrize("lookahead_ms", [0, 30], ids=["no look-ahead", "30 ms look-ahead"])
def test_streaming_equals_offline_for_any_block_sizes(lookahead_ms: int) -> None:
    x = _speech()
    model = load_default_model(lookahead_ms)
    offline = _concat([model.process(x), model.flush()])
    rng = np.random.default_rng(3)
    parts: list[ModelOutput] = []
    i = 0
    while i < x.size:
        k = int(rng.choice([1, 7, 160, 333, 1024]))
        out = model.process(x[i : i + k])
        assert out.frame_index == sum(p.n_frames for p in parts)
        parts.append(out)
        i += k
    parts.append(model.flush())
    streamed = _concat(parts)
    assert streamed.shape == offline.shape == (-(-x.size // 160), 12 + 7 + 15 + 1)
    assert np.max(np.abs(streamed - offline)) <= 1e-4


def test_output_shapes_and_ranges() -> None:
    model = load_default_model()
    out = model.process(_speech())
    assert out.ema.shape == (out.n_frames, len(EMA_NAMES))
    assert out.controls.shape == (out.n_frames, len(CONTROL_NAMES))
    assert out.visemes.shape == (out.n_frames, len(VISEMES))
    assert out.voicing.shape == (out.n_frames,)
    assert all(a.dtype == np.float32 for a in (out.ema, out.controls, out.visemes, out.voicing))
    assert np.all((out.controls >= 0) & (out.controls <= 1))
    assert np.allclose(out.visemes.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(np.isfinite(out.ema)) and np.abs(out.ema).max() < 50.0


def test_look_ahead_delays_output_by_whole_hops() -> None:
    m0, m3 = load_default_model(0), load_default_model(30)
    assert (m0.lookahead_s, m3.lookahead_s) == (0.0, 0.03)
    x = _speech()[:1600]
    assert m0.process(x).n_frames == 10
    assert m3.process(x).n_frames == 7


def test_speech_opens_the_mouth_more_than_silence() -> None:
    model = load_default_model()
    silence = np.zeros(16000, dtype=np.float32)
    quiet = model.process(np.concatenate([silence, _speech()])).controls
    assert quiet[150:, 0].mean() > quiet[20:90, 0].mean()


def test_weights_file_is_small_and_pickle_free() -> None:
    assert DEFAULT_WEIGHTS.stat().st_size <= 5 * 1024 * 1024
    with np.load(DEFAULT_WEIGHTS, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_config_and_errors(tmp_path: Path) -> None:
    assert load_model(ModelConfig(weights="default", lookahead_ms=20)).lookahead_s == pytest.approx(0.02)
    with pytest.raises(ConfigError):
        load_default_model(15)
    with pytest.raises(ModelError):
        load_weights(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, format_version=np.array(99))
    with pytest.raises(ModelError):
        load_weights(bad)


def test_runs_without_torch() -> None:
    code = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('torch is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import numpy as np\n"
        "from bridge.model import load_default_model\n"
        "m = load_default_model()\n"
        "o = m.process(np.zeros(3200, dtype=np.float32))\n"
        "assert o.n_frames == 17, o.n_frames\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_ensemble_file_averages_its_members_and_streams_exactly(tmp_path: Path) -> None:
    with np.load(DEFAULT_WEIGHTS, allow_pickle=False) as z:
        shipped = {k: z[k] for k in z.files}
    first = {k[3:]: v for k, v in shipped.items() if k.startswith("m0.")} if "members" in shipped else shipped
    other = dict(first, conv1_b=first["conv1_b"] + 0.3)
    paths = [tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "ens.npz"]
    np.savez(paths[0], **first)
    np.savez(paths[1], **other)
    np.savez(paths[2], **ensemble_arrays([first, other]))
    x = _speech()
    singles = [_concat([m.process(x), m.flush()]) for m in (load_weights(paths[0]), load_weights(paths[1]))]
    assert not np.allclose(singles[0], singles[1], atol=1e-3)
    ens = load_weights(paths[2])
    assert isinstance(ens, EnsembleModel) and ens.name.endswith("-x2") and ens.lookahead_s == pytest.approx(0.03)
    whole = _concat([ens.process(x), ens.flush()])
    np.testing.assert_allclose(whole, (singles[0] + singles[1]) / 2, atol=1e-6)
    parts = [ens.process(x[i : i + 333]) for i in range(0, x.size, 333)] + [ens.flush()]
    assert np.max(np.abs(_concat(parts) - whole)) <= 1e-4
    assert np.allclose(whole[:, 19:34].sum(axis=1), 1.0, atol=1e-5)  # averaged visemes stay a distribution
    np.savez(paths[2], **ensemble_arrays([first, dict(other, format_version=np.array(7))]))
    with pytest.raises(ModelError, match="format 7"):
        load_weights(paths[2])


def test_a_long_signal_runs_in_bounded_memory_and_equals_its_stream() -> None:
    """A minute in one call: the network's intermediates once grew with the block (116 MB here, 7 GB an hour)."""
    x = np.tile(_speech(), 30)[: 16000 * 60]
    model = load_default_model(30)
    tracemalloc.start()
    try:
        whole = _concat([model.process(x), model.flush()])
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    assert whole.shape == (6000, 12 + 7 + 15 + 1)
    assert peak_mb < 60, peak_mb
    streamed = _concat([model.process(x[i : i + 16000]) for i in range(0, x.size, 16000)] + [model.flush()])
    assert np.max(np.abs(streamed - whole)) <= 1e-4


def _damaged(tmp_path: Path, kind: str) -> Path:
    with np.load(DEFAULT_WEIGHTS, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    path = tmp_path / f"{kind}.npz"
    if kind == "empty":
        path.write_bytes(b"")
        return path
    if kind == "plain npy":
        np.save(path.with_suffix(".npy"), np.zeros(3))
        path.with_suffix(".npy").rename(path)
        return path
    first_array = next(k for k in arrays if k.startswith("m0.") and arrays[k].ndim == 2)
    if kind == "missing array":
        del arrays[first_array]
    elif kind == "wrong shape":
        arrays[first_array] = arrays[first_array][:, :-1]
    elif kind == "no members":
        arrays["members"] = np.array(0, dtype=np.int32)
    elif kind == "a billion members":  # built a billion empty networks until memory ran out
        arrays["members"] = np.array(10**9)
    elif kind == "members as a list":
        arrays["members"] = np.array([1, 2])
    elif kind == "a head":
        arrays = {"coef": np.zeros((12, 8), np.float32), "intercept": np.zeros(12, np.float32), "layer": np.array(1)}
    elif kind == "other files in the zip":
        import zipfile

        np.savez(path, **arrays)
        with zipfile.ZipFile(path, "a") as z:
            z.writestr("notes.txt", "hi")  # np.load returns its bytes: 'bytes' object has no attribute 'dtype'
        return path
    elif kind == "nan weights":
        arrays[first_array] = np.full_like(arrays[first_array], np.nan)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("kind", ["empty", "plain npy", "missing array", "wrong shape", "no members", "nan weights",
                                  "a billion members", "members as a list", "a head", "other files in the zip"])
def test_a_damaged_weights_file_is_one_model_error_at_load(tmp_path: Path, kind: str) -> None:
    # These raised KeyError, IndexError or ValueError (an "internal error"), a wrong shape only at the
    # first block of a live stream, and NaN weights loaded without complaint.
    with pytest.raises(ModelError, match="weights"):
        load_weights(_damaged(tmp_path, kind))
