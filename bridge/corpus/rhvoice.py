"""RHVoice synthesis, timed by forced alignment: statistical voices of more real speakers.

RHVoice's English voices (Debian ``rhvoice-english``) are HTS-style models of one speaker each:
alan (Scottish male), bdl (US male), clb (US female), slt (US female), evgeniy-eng (a Russian
male speaking English) and lyubov (female). RHVoice reports no phone times, so the rendered audio
is force-aligned to its text with pocketsphinx (``bridge.offline.align``, the aligner of
``bake --transcript``). On flite and festival speech, whose exact times are known, its phone
starts lie a median 9-19 ms and a 90th percentile 21-40 ms from the true ones (docs/model.md).
The aligner's dictionary has no stress, so every schwa comes out as the open vowel AH; flite's
lexicon (``flite -ps``) says which of them are reduced (AX), and those are relabelled.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from bridge.audio.resample import resample
from bridge.corpus.mbrola import Utterance
from bridge.errors import ModelError
from bridge.features.logmel import SAMPLE_RATE_HZ
from bridge.offline.align import align

# Voice names as TrainConfig spells them -> RHVoice's profile names.
VOICES: dict[str, str] = {
    "rh-alan": "alan", "rh-bdl": "bdl", "rh-clb": "clb", "rh-slt": "slt",
    "rh-evgeniy": "evgeniy-eng", "rh-lyubov": "lyubov",
}  # fmt: skip


def rhvoice_available(voice: str) -> bool:
    """True when RHVoice-test and the voice's data are installed."""
    data = Path("/usr/share/RHVoice/voices") / VOICES[voice]
    return shutil.which("RHVoice-test") is not None and shutil.which("flite") is not None and data.is_dir()


def lexicon_phones(text: str) -> list[str]:
    """The phones flite's CMU lexicon gives ``text`` (ARPAbet, schwas as AX), pauses left out.

    Raises:
        ModelError: flite is missing or fails.
    """
    try:
        printed = subprocess.run(["flite", "-ps", "-t", text, "-o", "none"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise ModelError(f"flite failed to look up the corpus text: {e}") from e
    return [p.upper() for p in printed.stdout.split() if p != "pau"]


def mark_schwas(phones: list[tuple[str, float, float]], lexicon: list[str]) -> list[tuple[str, float, float]]:
    """Relabel the aligned AH phones that the lexicon's matching phone says are schwas (AX)."""
    speech = [i for i, p in enumerate(phones) if p[0] != "SIL"]
    # AX matches AH here; everything else must agree for a position to be taken from the lexicon.
    hyp = [phones[i][0] for i in speech]
    ref = ["AH" if p == "AX" else p for p in lexicon]
    out = list(phones)
    for block in difflib.SequenceMatcher(a=hyp, b=ref, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            if lexicon[block.b + k] == "AX":
                _, start_s, end_s = phones[speech[block.a + k]]
                out[speech[block.a + k]] = ("AX", start_s, end_s)
    return out


def tile(phones: list[tuple[str, float, float]], duration_s: float) -> list[tuple[str, float, float]]:
    """Aligned phones as a contiguous cover of [0, duration_s]: gaps and the ends become "SIL"."""
    out: list[tuple[str, float, float]] = []
    cursor = 0.0
    for name, start_s, end_s in phones:
        start_s, end_s = max(start_s, cursor), min(end_s, duration_s)
        if end_s <= start_s:
            continue
        if start_s > cursor:
            out.append(("SIL", cursor, start_s))
        out.append((name, start_s, end_s))
        cursor = end_s
    if cursor < duration_s:
        out.append(("SIL", cursor, duration_s))
    merged: list[tuple[str, float, float]] = []
    for name, start_s, end_s in out:
        if merged and name == "SIL" and merged[-1][0] == "SIL":
            merged[-1] = ("SIL", merged[-1][1], end_s)
        else:
            merged.append((name, start_s, end_s))
    return merged


def synthesize_rhvoice(text: str, voice: str, duration_stretch: float, f0_shift: float) -> Utterance:
    """Render ``text`` with an RHVoice voice at a speaking rate and pitch, then align it to the text.

    Args:
        text: English text whose words are all in the aligner's dictionary (``make_sentences``).
        voice: a key of ``VOICES``.
        duration_stretch: > 1 speaks slower (RHVoice's rate is in percent of normal speed).
        f0_shift: multiplies the voice's pitch.

    Raises:
        ModelError: RHVoice is missing or fails, or the alignment does not fit the audio.
    """
    args = ["RHVoice-test", "-p", VOICES[voice], "-r", f"{100.0 / duration_stretch:.0f}"]
    args += ["-t", f"{100.0 * f0_shift:.0f}"]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "out.wav"
            subprocess.run([*args, "-o", str(wav)], input=text, capture_output=True, text=True, check=True)
            raw, sr = sf.read(wav, dtype="float32")
    except (OSError, subprocess.CalledProcessError, sf.LibsndfileError) as e:
        raise ModelError(f"RHVoice failed for voice {voice} (Debian package rhvoice-english): {e}") from e
    if raw.size == 0:
        raise ModelError(f"RHVoice produced no audio for voice {voice}")
    samples = resample(np.asarray(raw, dtype=np.float32), int(sr), SAMPLE_RATE_HZ)
    result = align(samples, SAMPLE_RATE_HZ, text)
    if not result.phones or result.warnings:
        raise ModelError(f"aligning RHVoice {voice} audio to its text failed: {'; '.join(result.warnings)}")
    aligned = mark_schwas([(p.name, p.start_s, p.end_s) for p in result.phones], lexicon_phones(text))
    return Utterance(samples, SAMPLE_RATE_HZ, tile(aligned, samples.size / SAMPLE_RATE_HZ), voice)
