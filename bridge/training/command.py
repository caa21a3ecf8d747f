"""``avatar-bridge train``: arguments and entry point (torch is imported only when it runs)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from bridge.errors import ConfigError, ModelError
from bridge.training.output import prepare_output

log = logging.getLogger(__name__)

QUICK_OUT = "model-quick.npz"  # in the current folder


def add_train_args(p: argparse.ArgumentParser) -> None:
    from bridge.model import DEFAULT_WEIGHTS

    p.add_argument(
        "--out",
        type=Path,
        help=f"weights file to write (default: the packaged {DEFAULT_WEIGHTS.name}; with --quick, {QUICK_OUT})",
    )
    p.add_argument("--quick", action="store_true", help="tiny corpus and network, for tests (about a minute)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")  # fmt: skip


def run_train(args: argparse.Namespace) -> int:
    """Synthesize the corpus, train with fixed seeds, write the weights; exit code."""
    from bridge.corpus import require_voices
    from bridge.model import DEFAULT_WEIGHTS
    from bridge.training.config import FULL, QUICK

    cfg = QUICK if args.quick else FULL
    # A --quick network is a toy for tests: it must never replace the shipped model, named or not.
    out: Path = args.out or (Path(QUICK_OUT) if args.quick else DEFAULT_WEIGHTS)
    prepare_output(out, shipped=DEFAULT_WEIGHTS, may_replace_shipped=not args.quick)
    if args.threads < 1:
        raise ConfigError(f"--threads: must be at least 1 (got {args.threads})")
    require_voices(cfg.all_voices)
    try:
        from bridge.training.train import train
    except ImportError as e:
        raise ModelError(f"train needs the training extras (torch): {e}") from e
    summary = train(cfg, out, threads=args.threads)
    log.info("trained %s: loss %.4f, corpus %.0f s, total %.0f s", out, summary["loss"], summary["data_s"],
             summary["total_s"])  # fmt: skip
    return 0
