"""bake/run --require-voicing: a streamer's typing leaves the face still, their speech still moves it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from bridge.cli import main
from tests.conftest import EXAMPLE_WAV
from tests.unit.test_vad import _typing


def _voice(out: Path) -> np.ndarray:
    return np.array([json.loads(line)["voice"] for line in out.read_text().splitlines()])


def test_bake_with_required_voicing_ignores_typing_after_speech(tmp_path: Path) -> None:
    x, rate = sf.read(str(EXAMPLE_WAV), dtype="float32")
    src = tmp_path / "line.wav"
    sf.write(str(src), np.concatenate([x, _typing(3.0, -20.0)]), rate, subtype="PCM_16")
    plain, voiced = tmp_path / "plain.jsonl", tmp_path / "voiced.jsonl"
    assert main(["bake", str(src), "-o", str(plain), "--no-progress"]) == 0
    assert main(["bake", str(src), "-o", str(voiced), "--no-progress", "--require-voicing"]) == 0
    a, b = _voice(plain), _voice(voiced)
    n_speech = int(x.shape[0] / rate * 60)  # 60 fps
    typing = slice(n_speech + 30, None)  # from half a second after the speech
    assert a[typing].mean() > 0.5
    assert b[typing].max() < 0.05
    assert b[:n_speech].mean() > 0.85 * a[:n_speech].mean()
