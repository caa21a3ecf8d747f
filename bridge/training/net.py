"""The articulation network in torch (training only) and its export to the numpy weights file.

Causal conv (k=3) -> causal conv (k=3) -> GRU -> one head per look-ahead L in LOOKAHEADS.
Head L predicts frame t from [h(t + L), h(t)]: the GRU has then heard L frames past t, which is
the whole look-ahead; the runtime picks the head matching the requested look-ahead.
Each head outputs EMA/10 mm (12), control logits (7), viseme logits (15), voicing logit (1).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bridge.features.logmel import N_MELS

LOOKAHEADS = (0, 1, 2, 3)
N_OUT = 12 + 7 + 15 + 1
EMA_SCALE_MM = 10.0


class ArticulationNet(nn.Module):
    """Causal streaming network; ``forward`` returns one (B, T - L, N_OUT) tensor per look-ahead."""

    def __init__(self, conv_channels: int, hidden: int, head_hidden: int, n_in: int = N_MELS) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_in, conv_channels, 3)
        self.conv2 = nn.Conv1d(conv_channels, conv_channels, 3)
        self.gru = nn.GRU(conv_channels, hidden, batch_first=True)
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(2 * hidden, head_hidden), nn.ReLU(), nn.Linear(head_hidden, N_OUT))
            for _ in LOOKAHEADS
        )

    def trunk(self, feats: torch.Tensor) -> torch.Tensor:
        x = feats.transpose(1, 2)
        x = torch.relu(self.conv1(nn.functional.pad(x, (2, 0))))
        x = torch.relu(self.conv2(nn.functional.pad(x, (2, 0))))
        h: torch.Tensor = self.gru(x.transpose(1, 2))[0]
        return h

    def forward(self, feats: torch.Tensor) -> list[torch.Tensor]:
        h = self.trunk(feats)
        t = h.shape[1]
        pairs = zip(LOOKAHEADS, self.heads, strict=True)
        return [head(torch.cat([h[:, la:], h[:, : t - la]], dim=2)) for la, head in pairs]


def export_weights(net: ArticulationNet, prior_mean: np.ndarray, prior_var: np.ndarray) -> dict[str, np.ndarray]:
    """Plain float32 arrays (no pickle) in the layout bridge.model.runtime reads."""
    sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    out: dict[str, np.ndarray] = {
        "format_version": np.array(1, dtype=np.int32),
        "lookaheads": np.array(LOOKAHEADS, dtype=np.int32),
        "ema_scale_mm": np.array(EMA_SCALE_MM, dtype=np.float32),
        "prior_mean": prior_mean.astype(np.float32),
        "prior_var": prior_var.astype(np.float32),
        "conv1_w": sd["conv1.weight"], "conv1_b": sd["conv1.bias"],
        "conv2_w": sd["conv2.weight"], "conv2_b": sd["conv2.bias"],
        "gru_w_ih": sd["gru.weight_ih_l0"], "gru_w_hh": sd["gru.weight_hh_l0"],
        "gru_b_ih": sd["gru.bias_ih_l0"], "gru_b_hh": sd["gru.bias_hh_l0"],
    }  # fmt: skip
    for i, la in enumerate(LOOKAHEADS):
        out[f"head{la}_w1"] = sd[f"heads.{i}.0.weight"]
        out[f"head{la}_b1"] = sd[f"heads.{i}.0.bias"]
        out[f"head{la}_w2"] = sd[f"heads.{i}.2.weight"]
        out[f"head{la}_b2"] = sd[f"heads.{i}.2.bias"]
    return out
