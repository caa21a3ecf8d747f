"""``avatar-bridge train-head``: fit a linear EMA head for an SSL upstream on the project's synthetic corpus.

wav2avatar fits scikit-learn linear regressions from one WavLM layer to measured EMA; this fits the
same kind of head (ridge regression, closed form) to the phone-table EMA targets of the synthetic
corpus the shipped model is trained on, so any local WavLM/HuBERT checkpoint can drive the bridge
without a published head. The result is an ``.npz`` head (``coef``, ``intercept``, ``layer``) in the
bridge's EMA units (mm).
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bridge.errors import ConfigError, ModelError
from bridge.frames import F32
from bridge.training.output import prepare_output, write_npz
from bridge.upstream.heads import LinearHead
from bridge.upstream.model import Encoder

log = logging.getLogger(__name__)


def add_train_head_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--upstream", required=True, help="local WavLM/HuBERT/wav2vec 2.0 model directory (or cached "
                   "s3prl name)")  # fmt: skip
    p.add_argument("--layer", type=int, required=True, help="hidden state to read (0 = input of the first layer)")
    p.add_argument("--out", type=Path, required=True, help="head file to write (.npz)")
    p.add_argument("--paragraphs", type=int, default=3, help="synthetic paragraphs per voice (default 3)")
    p.add_argument(
        "--ridge", type=float, default=1e-3, help="ridge penalty per frame on the standardised features (default 0.001)"
    )
    p.add_argument("--quick", action="store_true", help="one voice, a few sentences (for tests)")


def fit_head(encoder: Encoder, layer: int, utterances: list[tuple[F32, F32]], ridge: float, source: str) -> LinearHead:
    """Ridge regression from hidden state ``layer`` to EMA.

    Args:
        encoder: the upstream.
        layer: hidden-state index.
        utterances: (16 kHz audio, (T, 12) EMA targets at 100 Hz) pairs.
        ridge: penalty per frame on standardised features (scale-free across layers, models and corpus size).
        source: name recorded in the head.
    """
    xs, ys = [], []
    for audio, ema in utterances:
        h = encoder.hidden_state(audio, layer).astype(np.float64)
        # Targets at the encoder frames' centres (10 ms frame i is centred at i + 0.5 hops).
        at = (np.arange(h.shape[0]) * encoder.stride_samples + encoder.receptive_samples / 2) / 160 - 0.5
        ys.append(np.stack([np.interp(at, np.arange(ema.shape[0]), ema[:, c]) for c in range(ema.shape[1])], 1))
        xs.append(h)
    x, y = np.concatenate(xs), np.concatenate(ys)
    mean_x, std_x = x.mean(axis=0), x.std(axis=0) + 1e-8
    xz = (x - mean_x) / std_x
    mean_y = y.mean(axis=0)
    w = np.linalg.solve(xz.T @ xz + ridge * x.shape[0] * np.eye(x.shape[1]), xz.T @ (y - mean_y))
    coef = (w / std_x[:, None]).T
    intercept = mean_y - coef @ mean_x
    fitted = x @ coef.T + intercept
    r2 = 1 - ((y - fitted) ** 2).sum(axis=0) / ((y - mean_y) ** 2).sum(axis=0)
    log.info("head: %d frames x %d features, in-sample R^2 per channel %s", x.shape[0], x.shape[1],
             " ".join(f"{v:.2f}" for v in r2))  # fmt: skip
    return LinearHead(coef.astype(np.float32), intercept.astype(np.float32), layer, source)


def run_train_head(args: argparse.Namespace) -> int:
    """Synthesize the corpus, run the upstream over it, fit and write the head; exit code."""
    from bridge.model import DEFAULT_WEIGHTS

    if args.paragraphs < 1:
        raise ConfigError(f"--paragraphs: must be at least 1 (got {args.paragraphs})")
    if not 0 < args.ridge < math.inf:  # NaN fails this too: it wrote a head of NaN
        raise ConfigError(f"--ridge: must be a positive number (got {args.ridge!r})")
    if args.out.suffix.lower() != ".npz":
        raise ConfigError(f"--out {args.out}: a head is an .npz file")
    prepare_output(args.out, shipped=DEFAULT_WEIGHTS, may_replace_shipped=False)
    from bridge.corpus import require_voices
    from bridge.phonetics import phones_to_model_output
    from bridge.training.config import FULL, QUICK
    from bridge.upstream.encoder import SSLEncoder

    try:
        from bridge.training.dataset import synthesize_corpus
    except ImportError as e:
        raise ModelError(f"train-head needs the training extras (torch): {e}") from e

    n = args.paragraphs
    cfg = QUICK if args.quick else replace(FULL, paragraphs_per_voice=n, paragraphs_per_flite_voice=n)
    require_voices(cfg.all_voices)
    t0 = time.perf_counter()
    encoder = SSLEncoder(args.upstream)
    if not 0 <= args.layer < encoder.n_hidden_states:
        raise ConfigError(f"--layer: {args.upstream} has hidden states 0..{encoder.n_hidden_states - 1}")
    pairs = []
    for utt in synthesize_corpus(cfg):
        target = phones_to_model_output(utt.phones, n_frames=utt.samples.size // 160, pause_posture=cfg.pause_posture)
        pairs.append((utt.samples, target.ema))
    head = fit_head(encoder, args.layer, pairs, args.ridge, str(args.out))
    write_npz(args.out, {"coef": head.coef, "intercept": head.intercept, "layer": np.array(args.layer)})
    log.info("wrote %s (layer %d of %s) in %.0f s", args.out, args.layer, args.upstream, time.perf_counter() - t0)
    return 0
