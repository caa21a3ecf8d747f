"""The speech-to-articulation model: numpy streaming runtime and the shipped weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bridge.config import ModelConfig
from bridge.errors import ConfigError, ModelError
from bridge.model.runtime import EnsembleModel, NumpyArticulationModel, Weights
from bridge.stages import ArticulationModel

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "data" / "model.npz"

__all__ = [
    "DEFAULT_WEIGHTS",
    "EnsembleModel",
    "NumpyArticulationModel",
    "load_default_model",
    "load_model",
    "load_weights",
]


def load_weights(path: Path, lookahead_ms: int = 30) -> ArticulationModel:
    """Load a weights file written by ``avatar-bridge train`` (one network or an ensemble).

    Args:
        path: .npz weights file.
        lookahead_ms: 0, 10, 20 or 30 (whole 10 ms hops).

    Raises:
        ConfigError: a look-ahead the weights have no head for.
        ModelError: a missing, unreadable or incompatible weights file.
    """
    if lookahead_ms < 0 or lookahead_ms % 10:
        raise ConfigError(f"model.lookahead_ms must be a non-negative multiple of 10, got {lookahead_ms}")
    if not path.is_file():
        raise ModelError(f"model weights not found: {path}")
    members = Weights(path).members

    def build() -> ArticulationModel:
        nets = [NumpyArticulationModel(m, lookahead_ms // 10, level_guard=len(members) == 1) for m in members]
        return nets[0] if len(nets) == 1 else EnsembleModel(nets)

    try:
        # A dry run on a throwaway copy: a missing or mis-shaped array fails here, not in the middle
        # of a live stream at its first block.
        trial = build()
        trial.process(np.zeros(1600, dtype=np.float32))
        trial.flush()
        return build()
    except (KeyError, IndexError, ValueError, TypeError, AttributeError) as e:
        raise ModelError(f"{path}: not a usable weights file ({type(e).__name__}: {e})") from e


def load_default_model(lookahead_ms: int = 30) -> ArticulationModel:
    """The model shipped in the package (bridge/data/model.npz)."""
    return load_weights(DEFAULT_WEIGHTS, lookahead_ms)


def load_model(cfg: ModelConfig) -> ArticulationModel:
    """The model a config names: ``weights = "default"`` or a path to a trained weights file.

    Raises:
        ConfigError: the config names an SSL upstream, which ``bridge.upstream.build_model`` loads.
    """
    if cfg.upstream:
        raise ConfigError("model.upstream: this command runs the shipped model only; use run or bake")
    path = DEFAULT_WEIGHTS if cfg.weights == "default" else Path(cfg.weights).expanduser()
    return load_weights(path, cfg.lookahead_ms)
