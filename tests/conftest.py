"""Shared fixtures: the development data folder and small audio helpers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
DEV_DATA = ROOT.parent / "shared" / "data" / "dev"
EXAMPLE_WAV = ROOT / "examples" / "hello.wav"


@pytest.fixture
def dev_data() -> Path:
    if not DEV_DATA.is_dir():
        pytest.skip(f"development data not found at {DEV_DATA}")
    return DEV_DATA


@pytest.fixture
def speech_wav() -> Path:
    """A real speech clip when the dev data is present, else the bundled synthesized example."""
    real = DEV_DATA / "speech" / "p225_001_mic1.wav"
    return real if real.exists() else EXAMPLE_WAV


def write_wav(path: Path, samples: np.ndarray, rate_hz: int, subtype: str = "PCM_16") -> Path:
    sf.write(str(path), samples, rate_hz, subtype=subtype)
    return path


def run_in_a_new_process(code: str) -> str:
    """What Python ``code`` prints when run in a new interpreter (no module state of this one) from the checkout."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True
    )
    return done.stdout
