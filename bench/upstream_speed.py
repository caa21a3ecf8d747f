"""Cost of the optional SSL upstream per chunk, on a WavLM Base-sized encoder (random weights: the cost
does not depend on their values, and nothing is downloaded).

Usage: .venv/bin/python bench/upstream_speed.py [--large] [CHUNK_MS:CONTEXT_MS ...]   (default 200:200 100:400)
Real time needs compute per chunk below the chunk length.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import WavLMConfig, WavLMModel

from bridge.audio.files import read_audio
from bridge.upstream.encoder import SSLEncoder
from bridge.upstream.heads import LinearHead
from bridge.upstream.model import SSLArticulationModel

log = logging.getLogger("bench.upstream_speed")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hello.wav"
LARGE = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = [a for a in sys.argv[1:] if a != "--large"]
    geometries = [tuple(int(v) for v in a.split(":")) for a in args] or [(200, 200), (100, 400)]
    torch.manual_seed(0)
    config = WavLMConfig(**LARGE) if "--large" in sys.argv else WavLMConfig()
    x, _ = read_audio(EXAMPLE)
    audio_s = x.shape[0] / 16000
    with tempfile.TemporaryDirectory() as tmp:
        WavLMModel(config).save_pretrained(tmp)
        encoder = SSLEncoder(tmp)
    head = LinearHead(np.zeros((12, config.hidden_size), np.float32), np.zeros(12, np.float32), 9, "zeros.npz")
    log.info("encoder: WavLM %d layers x %d, torch threads %d", config.num_hidden_layers, config.hidden_size,
             torch.get_num_threads())  # fmt: skip
    for chunk_ms, context_ms in geometries:
        model = SSLArticulationModel(encoder, head, 9, 30, chunk_ms, context_ms)
        model.process(x[:16000])  # warm-up
        model.reset()
        t0 = time.perf_counter()
        model.process(x)
        model.flush()
        elapsed_s = time.perf_counter() - t0
        per_chunk_ms = elapsed_s / audio_s * chunk_ms
        log.info("chunk %d ms, context %d ms: %.1f s of audio in %.2f s (real-time factor %.2f), %.0f ms per chunk, "
                 "latency %d ms + compute", chunk_ms, context_ms, audio_s, elapsed_s, elapsed_s / audio_s,
                 per_chunk_ms, chunk_ms + 30)  # fmt: skip


if __name__ == "__main__":
    main()
