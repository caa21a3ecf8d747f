"""pocketsphinx phone recognition as a teacher for bakes without a transcript."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from bridge.audio.files import read_audio
from bridge.cli import main
from bridge.offline.recognize import recognize_phones
from bridge.phonetics import normalize_phone
from tests.conftest import DEV_DATA, EXAMPLE_WAV, run_in_a_new_process

GRID = DEV_DATA / "grid"


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


@pytest.mark.skipif(not GRID.is_dir(), reason=f"GRID dev clips not found at {GRID}")
def test_a_clip_is_heard_the_same_whatever_the_process_heard_before() -> None:
    """pocketsphinx keeps its noise statistics from one utterance to the next; `bake -j N --recognize`
    must not depend on which files a worker recognized first."""
    clip = GRID / "bbaf2n.wav"
    code = (
        "import json, soundfile as sf\n"
        "from bridge.offline.recognize import recognize_phones\n"
        f"x, rate = sf.read({str(clip)!r}, dtype='float32')\n"
        "print(json.dumps([(p.name, p.start_s, p.end_s) for p in recognize_phones(x, rate)]))\n"
    )
    first = [tuple(p) for p in json.loads(run_in_a_new_process(code))]
    recognize_phones(*sf.read(str(GRID / "lrwp9a.wav"), dtype="float32"))
    x, rate = sf.read(str(clip), dtype="float32")
    assert [(p.name, p.start_s, p.end_s) for p in recognize_phones(x, rate)] == first


def test_silence_and_noise_have_no_phones() -> None:
    assert recognize_phones(np.zeros(16000, np.float32), 16000) == ()
    noise = np.random.default_rng(0).normal(0.0, 0.05, 16000).astype(np.float32)
    assert recognize_phones(noise, 16000) == ()


@pytest.mark.parametrize("samples", [80, 160, 320], ids=["5ms", "10ms", "20ms"])
def test_a_clip_too_short_to_decode_has_no_phones(samples: int) -> None:
    """pocketsphinx's seg() gives None, not an empty list, for an utterance this short."""
    tone = (0.3 * np.sin(2 * np.pi * 200 * np.arange(samples) / 16000)).astype(np.float32)
    assert recognize_phones(tone, 16000) == ()


def test_a_short_clip_in_a_batch_bakes_without_recognized_phones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x, rate = read_audio(EXAMPLE_WAV)
    (tmp_path / "in").mkdir()
    tone = 0.3 * np.sin(2 * np.pi * 200 * np.arange(160) / 16000)
    sf.write(str(tmp_path / "in" / "a.wav"), tone, 16000)  # 10 ms
    sf.write(str(tmp_path / "in" / "b.wav"), x[:rate], rate)
    assert main(["bake", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--recognize", "--no-progress"]) == 0
    assert "phone recognition heard no speech" in capsys.readouterr().err
    assert (tmp_path / "out" / "a.jsonl").is_file() and (tmp_path / "out" / "b.jsonl").is_file()


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
