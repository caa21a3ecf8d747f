"""What the robustness benchmarks share: their command line, the degraded-input wrapper, the output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.evaluation import DEFAULT_DATA_DIR, Prediction, Predictor  # noqa: E402
from bridge.frames import F32  # noqa: E402

# Audio and its sample rate in, degraded audio and its sample rate out.
Degradation = Callable[[F32, int], tuple[F32, int]]


def parse_args(description: str) -> argparse.Namespace:
    """--weights, --lookahead-ms, --data and --out."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--weights", type=Path, default=None, help="weights file (default: the packaged model)")
    parser.add_argument("--lookahead-ms", type=int, default=30, choices=(0, 10, 20, 30))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="folder with grid/ and mngu0/")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    return parser.parse_args()


def degraded(predict: Predictor, degrade: Degradation | None) -> Predictor:
    """``predict`` on the clip after ``degrade``; None leaves the clip as it is."""

    def wrapped(x: F32, sr: int) -> Prediction:
        return predict(x, sr) if degrade is None else predict(*degrade(x, sr))

    return wrapped


def report(rows: list[str], results: dict[str, dict[str, float]], out: Path | None) -> int:
    """The markdown table on stdout and, with ``out``, the results as JSON."""
    sys.stdout.write("\n".join(rows) + "\n")
    if out is not None:
        out.write_text(json.dumps(results, indent=2) + "\n")
    return 0
