"""Per-hop cost of the numpy articulation model, fed 10 ms blocks as the live path does.

Usage: .venv/bin/python bench/model_speed.py [seconds] [weights.npz]   (default: the shipped weights)
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np

from bridge.model import DEFAULT_WEIGHTS, load_weights

log = logging.getLogger("bench.model_speed")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    x = (np.random.default_rng(0).standard_normal(int(16000 * seconds)) * 0.1).astype(np.float32)
    weights = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_WEIGHTS
    model = load_weights(weights, 30)
    log.info("%s: %s", weights, model.name)
    per_hop = []
    for i in range(0, x.size, 160):
        t0 = time.perf_counter()
        model.process(x[i : i + 160])
        per_hop.append(time.perf_counter() - t0)
    ms = np.array(per_hop) * 1000
    t0 = time.perf_counter()
    model.reset()
    model.process(x)
    model.flush()
    whole_s = time.perf_counter() - t0
    log.info("10 ms hops: mean %.3f ms, median %.3f ms, p99 %.3f ms, max %.3f ms (%d hops)",
             ms.mean(), np.median(ms), np.percentile(ms, 99), ms.max(), ms.size)  # fmt: skip
    log.info("offline: %.1f s of audio in %.3f s (%.0fx real time)", seconds, whole_s, seconds / whole_s)


if __name__ == "__main__":
    main()
