"""Flite synthesis with exact phone timing: English voices built from recordings of real speakers.

Flite's clustergen voices (awb: Scottish male, rms: US male, slt: US female) are statistical
parametric models trained on one speaker's recordings each, so their spectra vary the way a
person's do, unlike MBROLA's concatenated diphones; kal16 is a US male diphone voice.
``flite -psdur`` prints every segment with its end time in the same run that writes the WAV.
Flite's phone set is the CMU ARPAbet in lower case, with ``pau`` for silence.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from bridge.corpus.mbrola import Utterance, phones_from_ends
from bridge.errors import ModelError
from bridge.features.logmel import SAMPLE_RATE_HZ

# Voice names as TrainConfig spells them -> flite's -voice argument.
VOICES: dict[str, str] = {"fl-awb": "awb", "fl-rms": "rms", "fl-slt": "slt", "fl-kal16": "kal16"}


def flite_available() -> bool:
    """True when the flite command (Debian package ``flite``, all four voices built in) is installed."""
    return shutil.which("flite") is not None


def parse_segments(text: str) -> list[tuple[str, float]]:
    """``flite -psdur`` output ("pau:0.220 dh:0.254 ...") to (ARPAbet phone, end_s)."""
    out: list[tuple[str, float]] = []
    for field in text.split():
        name, sep, end = field.rpartition(":")
        if not sep:
            continue
        try:
            end_s = float(end)
        except ValueError:
            continue
        out.append(("SIL" if name == "pau" else name.upper(), end_s))
    return out


def synthesize_flite(text: str, voice: str, duration_stretch: float, f0_shift: float) -> Utterance:
    """Render ``text`` with a flite voice at a speaking rate and pitch; phone times exact to the sample.

    Args:
        text: English text.
        voice: a key of ``VOICES``.
        duration_stretch: > 1 speaks slower.
        f0_shift: multiplies the voice's pitch.

    Raises:
        ModelError: flite is missing, fails, or writes no audio.
    """
    args = ["flite", "-voice", VOICES[voice], "--setf", f"duration_stretch={duration_stretch:.4f}"]
    args += ["--setf", f"f0_shift={f0_shift:.4f}", "-psdur", "-t", text]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "out.wav"
            printed = subprocess.run([*args, "-o", str(wav)], capture_output=True, text=True, check=True).stdout
            samples, sr = sf.read(wav, dtype="float32")
    except (OSError, subprocess.CalledProcessError, sf.LibsndfileError) as e:
        raise ModelError(f"flite failed for voice {voice}: {e}") from e
    ends = parse_segments(printed)
    if samples.size == 0 or not ends or ends[-1][1] <= 0:
        raise ModelError(f"flite produced no audio for voice {voice}")
    if sr != SAMPLE_RATE_HZ:
        raise ModelError(f"flite voice {voice} writes {sr} Hz, the corpus needs {SAMPLE_RATE_HZ} Hz")
    # The diphone voice's printed times overrun its audio by about 0.1 %; the clustergen voices' match.
    phones = phones_from_ends([((name,), end_s) for name, end_s in ends], samples.size / sr / ends[-1][1])
    return Utterance(np.asarray(samples, dtype=np.float32), int(sr), phones, voice)
