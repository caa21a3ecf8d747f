"""The numpy runtime computes exactly what the torch network it was exported from computes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bridge.features.logmel import StreamingLogMel
from bridge.model import load_weights

torch = pytest.importorskip("torch", reason="torch is a training-only dependency")


@pytest.mark.parametrize("lookahead", [0, 2, 3])
def test_numpy_runtime_matches_torch(tmp_path: Path, lookahead: int) -> None:
    from bridge.training.net import ArticulationNet, export_weights

    torch.manual_seed(0)
    net = ArticulationNet(16, 24, 8).eval()
    prior_mean, prior_var = np.full(40, -8.0), np.full(40, 9.0)
    path = tmp_path / "w.npz"
    np.savez(path, **export_weights(net, prior_mean, prior_var))
    x = (np.random.default_rng(1).standard_normal(8000) * 0.1).astype(np.float32)
    feats = StreamingLogMel(prior_mean, prior_var).process(x)
    with torch.no_grad():
        ref = net(torch.from_numpy(feats)[None])[lookahead][0].numpy()
    out = load_weights(path, lookahead * 10).process(x)
    assert out.n_frames == feats.shape[0] - lookahead
    np.testing.assert_allclose(out.ema, ref[:, :12] * 10.0, atol=1e-4)
    np.testing.assert_allclose(out.controls, 1 / (1 + np.exp(-ref[:, 12:19])), atol=1e-5)
