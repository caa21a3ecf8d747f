"""The training loop: deterministic, CPU-friendly, writes the numpy weights file."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bridge.model.runtime import ensemble_arrays
from bridge.training.config import TrainConfig
from bridge.training.dataset import TrainingData, build
from bridge.training.net import LOOKAHEADS, ArticulationNet, export_weights
from bridge.training.output import write_npz

log = logging.getLogger(__name__)

_HEAD_WEIGHTS = (0.5, 0.6, 0.8, 1.0)
# Per-control loss weights: jaw and lip aperture drive the visible mouth the most.
_CONTROL_WEIGHTS = torch.tensor([2.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0])


def _loss(pred: torch.Tensor, tgt: torch.Tensor, closure_weight: float) -> torch.Tensor:
    ema = nn.functional.mse_loss(pred[..., :12], tgt[..., :12])
    err = (torch.sigmoid(pred[..., 12:19]) - tgt[..., 12:19]) ** 2 * _CONTROL_WEIGHTS
    # Lip contact is rare but what viewers notice most: weigh closed-lip frames up.
    closed = (tgt[..., 13] < 0.05).to(err.dtype)
    err = err.clone()
    err[..., 1] = err[..., 1] * (1.0 + closure_weight * closed)
    ctrl = err.mean()
    vis = -(tgt[..., 19:34] * torch.log_softmax(pred[..., 19:34], dim=-1)).sum(-1).mean()
    voi = nn.functional.binary_cross_entropy_with_logits(pred[..., 34], tgt[..., 34])
    return ema + 4.0 * ctrl + 0.3 * vis + 0.2 * voi


def sample_batch(data: TrainingData, cfg: TrainConfig, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``cfg.batch_size`` crops of ``cfg.crop_frames`` rows (features, targets), padded at the end."""
    lengths = np.array([f.shape[0] for f in data.features])
    usable = np.maximum(lengths - cfg.crop_frames, 0) + 1
    picks = rng.choice(len(lengths), size=cfg.batch_size, p=usable / usable.sum())
    xs, ys = [], []
    for i in picks:
        start = int(rng.integers(0, max(1, lengths[i] - cfg.crop_frames + 1)))
        # The network starts from a zero state only at a stream's start at run time; some crops
        # start there too, where the features' normaliser also starts from its prior.
        if cfg.start_crop_fraction > 0 and rng.random() < cfg.start_crop_fraction:
            start = 0
        x = data.features[i][start : start + cfg.crop_frames]
        y = data.targets[i][start : start + cfg.crop_frames]
        if x.shape[0] < cfg.crop_frames:
            pad = cfg.crop_frames - x.shape[0]
            x = np.pad(x, ((0, pad), (0, 0)))
            y = np.pad(y, ((0, pad), (0, 0)), mode="edge")
        xs.append(x)
        ys.append(y)
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def train(cfg: TrainConfig, out_path: Path, threads: int = 2) -> dict[str, float]:
    """Build the corpus, train ``cfg.members`` networks, and write the weights to ``out_path`` (.npz, no pickle).

    Member i is trained from its own corpus and initialisation with seed ``cfg.seed + i``.

    Returns:
        Summary numbers: final training loss (mean over members), wall seconds for data and in all.
    """
    t0 = time.monotonic()
    members, losses, data_s = [], [], 0.0
    for i in range(cfg.members):
        arrays, loss, t_data = _train_one(replace(cfg, seed=cfg.seed + i), threads)
        members.append(arrays)
        losses.append(loss)
        data_s += t_data
    write_npz(out_path, members[0] if cfg.members == 1 else ensemble_arrays(members))
    t_total = time.monotonic() - t0
    log.info("wrote %s (%.2f MB) in %.0f s", out_path, out_path.stat().st_size / 1e6, t_total)
    return {"loss": float(np.mean(losses)), "data_s": data_s, "total_s": t_total}


def _train_one(cfg: TrainConfig, threads: int) -> tuple[dict[str, np.ndarray], float, float]:
    """One network from seed ``cfg.seed``: its weights file arrays, final loss and corpus seconds."""
    t0 = time.monotonic()
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True)
    data = build(cfg)
    t_data = time.monotonic() - t0
    rng = np.random.default_rng(cfg.seed + 1)
    net = ArticulationNet(cfg.conv_channels, cfg.hidden, cfg.head_hidden, data.features[0].shape[1])
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.learning_rate, weight_decay=1e-4)
    warm = max(1, cfg.steps // 20)

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, cfg.steps - warm))) * 0.95 + 0.05

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    running = float("nan")
    w0 = cfg.warmup_frames
    for step in range(cfg.steps):
        x, y = sample_batch(data, cfg, rng)
        outs = net(x)
        t = y.shape[1]
        loss = torch.zeros(())
        for hw, la, o in zip(_HEAD_WEIGHTS, LOOKAHEADS, outs, strict=True):
            loss = loss + hw * _loss(o[:, w0:], y[:, w0 : t - la], cfg.closure_weight)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        value = float(loss.detach())
        running = value if math.isnan(running) else 0.98 * running + 0.02 * value
        if step % 100 == 0 or step == cfg.steps - 1:
            log.info("seed %d step %d/%d loss %.4f (%.0f s)", cfg.seed, step, cfg.steps, running, time.monotonic() - t0)
    arrays = export_weights(net, data.prior_mean, data.prior_var) | data.phone_arrays
    if cfg.envelope_coeffs:
        arrays["envelope_coeffs"] = np.array(cfg.envelope_coeffs, dtype=np.int32)
    return arrays, running, t_data
