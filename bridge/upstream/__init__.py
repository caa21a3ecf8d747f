"""Articulation model selection: the shipped numpy model, or an optional SSL upstream with a linear head.

The SSL path (``--upstream``, the ``[ssl]`` extra) needs torch and transformers; it is imported only
when a config names an upstream, so the default live path stays torch-free.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bridge.config import ModelConfig
from bridge.errors import ConfigError
from bridge.model import load_model
from bridge.stages import ArticulationModel
from bridge.upstream.heads import LinearHead, read_head

log = logging.getLogger(__name__)

__all__ = ["LinearHead", "build_model", "read_head"]


def build_model(cfg: ModelConfig) -> ArticulationModel:
    """The articulation model a config asks for.

    Raises:
        ConfigError: inconsistent model settings (a head without an upstream, no layer known...).
        ModelError: weights, head or upstream missing or unreadable; the [ssl] extra not installed.
    """
    if not cfg.upstream:
        if cfg.head:
            raise ConfigError("model.head: a head needs an SSL upstream (model.upstream / --upstream)")
        return load_model(cfg)
    if cfg.weights != "default":
        raise ConfigError("model.weights: choose either trained weights or an SSL upstream, not both")
    if not cfg.head:
        raise ConfigError("model.upstream: needs a linear head (model.head / --head: a wav2avatar .pkl or an .npz)")
    head = read_head(Path(cfg.head).expanduser())
    layer = cfg.upstream_layer if cfg.upstream_layer >= 0 else head.layer
    if head.layer is not None and layer != head.layer:  # a head fitted on one layer reads noise from another
        log.warning("model.upstream_layer %d overrides layer %d, which %s was fitted on", layer, head.layer,
                    Path(cfg.head).name)  # fmt: skip
    if layer is None:
        raise ConfigError(f"model.upstream_layer: {Path(cfg.head).name} does not say which layer it reads; set it")
    # Imported here: torch and transformers take seconds to import and only this path needs them.
    from bridge.upstream.encoder import SSLEncoder
    from bridge.upstream.model import SSLArticulationModel

    return SSLArticulationModel(
        SSLEncoder(cfg.upstream), head, layer, cfg.lookahead_ms, cfg.upstream_chunk_ms, cfg.upstream_context_ms
    )
