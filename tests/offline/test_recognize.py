"""pocketsphinx phone recognition as a teacher for bakes without a transcript."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from bridge.audio.files import read_audio
from bridge.cli import main
from bridge.offline.recognize import recognize_phones
from bridge.phonetics import normalize_phone
from tests.conftest import EXAMPLE_WAV


def test_recognition_hears_the_phones_of_speech() -> None:
    x, rate = read_audio(EXAMPLE_WAV)
    phones = recognize_phones(x, rate)
    speech = [p for p in phones if p.name != "SIL"]
    assert len(speech) >= 30
    assert {"P", "B", "M"} & {p.name for p in speech}  # the clip says "papa" and "mama"
    assert all(normalize_phone(p.name) for p in phones)
    starts = [p.start_s for p in phones]
    assert starts == sorted(starts) and all(p.end_s > p.start_s for p in phones)
    assert phones[-1].end_s <= x.shape[0] / rate + 0.02
    # The same audio at 48 kHz is heard the same way.
    again = recognize_phones(resample_poly(x, 3, 1).astype(np.float32), 48000)
    assert abs(len(again) - len(phones)) <= 0.1 * len(phones)


def test_silence_and_noise_have_no_phones() -> None:
    assert recognize_phones(np.zeros(16000, np.float32), 16000) == ()
    noise = np.random.default_rng(0).normal(0.0, 0.05, 16000).astype(np.float32)
    assert recognize_phones(noise, 16000) == ()


def test_bake_recognize_steers_the_mouth_and_is_its_own_setting(tmp_path: Path) -> None:
    plain, recognized = tmp_path / "plain.jsonl", tmp_path / "recognized.jsonl"
    assert main(["bake", str(EXAMPLE_WAV), "-o", str(plain), "--no-progress"]) == 0
    assert main(["bake", str(EXAMPLE_WAV), "-o", str(recognized), "--no-progress", "--recognize"]) == 0
    a = [json.loads(line) for line in plain.read_text().splitlines()]
    b = [json.loads(line) for line in recognized.read_text().splitlines()]
    assert len(a) == len(b)
    jaw_a = np.array([f["blendshapes"]["jawOpen"] for f in a])
    jaw_b = np.array([f["blendshapes"]["jawOpen"] for f in b])
    assert np.max(np.abs(jaw_a - jaw_b)) > 0.02
    sidecar = json.loads((tmp_path / "recognized.bake.json").read_text())
    assert sidecar["aligned"] is False  # "aligned" means transcript phones
    assert sidecar["digest"] != json.loads((tmp_path / "plain.bake.json").read_text())["digest"]
