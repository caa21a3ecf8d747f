"""Festival synthesis with exact phone timing: diphone voices of two more real speakers and an HTS voice.

ked (US male) and rab (British male) are residual-LPC diphone voices cut from one speaker's
recordings each; slt_hts is an HTS statistical voice of the CMU ARCTIC slt speaker (flite's slt
is a clustergen model of the same recordings, so it adds a synthesis method, not a speaker).
``utt.save.segs`` writes every segment's end time from the same utterance that ``utt.save.wave``
renders. ked and slt_hts use festival's radio phone set (CMU ARPAbet in lower case, ``pau`` for
silence); rab uses the MRPA set, mapped to ARPAbet by ``MRPA``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from bridge.audio.resample import resample
from bridge.corpus.mbrola import Utterance, phones_from_ends
from bridge.errors import ModelError
from bridge.features.logmel import SAMPLE_RATE_HZ


@dataclass(frozen=True, slots=True)
class FestivalVoice:
    """How to select and steer one festival voice.

    Attributes:
        command: the scheme function that selects the voice.
        package: the Debian package that installs it.
        hts: rate goes through the HTS engine's ``-r`` option (it ignores ``Duration_Stretch``) and
            pitch cannot be set; diphone voices take both through festival's parameters.
        mrpa: the voice speaks the MRPA phone set (British), not radio.
    """

    command: str
    package: str
    hts: bool = False
    mrpa: bool = False


# Voice names as TrainConfig spells them.
VOICES: dict[str, FestivalVoice] = {
    "fe-ked": FestivalVoice("voice_ked_diphone", "festvox-kdlpc16k"),
    "fe-rab": FestivalVoice("voice_rab_diphone", "festvox-rablpc16k", mrpa=True),
    "fe-slt-hts": FestivalVoice("voice_cmu_us_slt_arctic_hts", "festvox-us-slt-hts", hts=True),
}

# MRPA (festival's British phone set) -> ARPAbet; centring diphthongs are two halves, as for MBROLA en1.
MRPA: dict[str, tuple[str, ...]] = {
    "#": ("SIL",), "p": ("P",), "b": ("B",), "t": ("T",), "d": ("D",), "k": ("K",), "g": ("G",),
    "f": ("F",), "v": ("V",), "th": ("TH",), "dh": ("DH",), "s": ("S",), "z": ("Z",), "sh": ("SH",),
    "zh": ("ZH",), "h": ("HH",), "ch": ("CH",), "jh": ("JH",), "m": ("M",), "n": ("N",), "ng": ("NG",),
    "l": ("L",), "r": ("R",), "w": ("W",), "y": ("Y",), "i": ("IH",), "ii": ("IY",), "e": ("EH",),
    "a": ("AE",), "uh": ("AH",), "o": ("AO",), "oo": ("AO",), "u": ("UH",), "uu": ("UW",),
    "aa": ("AA",), "@": ("AX",), "@@": ("ER",), "ei": ("EY",), "ai": ("AY",), "oi": ("OY",),
    "au": ("AW",), "ou": ("OW",), "i@": ("IH", "AX"), "e@": ("EH", "AX"), "u@": ("UH", "AX"),
}  # fmt: skip


def festival_available(voice: str) -> bool:
    """True when festival and the voice's Debian package are installed."""
    if shutil.which("festival") is None:
        return False
    name = VOICES[voice].command.removeprefix("voice_")
    return any(Path("/usr/share/festival/voices").glob(f"*/{name}/festvox"))


def parse_segs(text: str) -> list[tuple[str, float]]:
    """``utt.save.segs`` output (a ``#`` header line, then "end_s 100 name" lines) to (name, end_s)."""
    out: list[tuple[str, float]] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue
        try:
            end_s = float(fields[0])
        except ValueError:
            continue
        out.append((fields[2], end_s))
    return out


def to_arpabet(name: str, mrpa: bool) -> tuple[str, ...]:
    """One festival segment name as ARPAbet phones (MRPA diphthongs give two).

    Raises:
        ModelError: a symbol this module has no entry for.
    """
    if mrpa:
        if name not in MRPA:
            raise ModelError(f"festival MRPA phone {name!r} has no ARPAbet entry")
        return MRPA[name]
    return ("SIL",) if name == "pau" else (name.upper(),)


def _script(text: str, voice: FestivalVoice, duration_stretch: float, f0_shift: float, wav: Path, segs: Path) -> str:
    quoted = text.replace("\\", " ").replace('"', " ")
    lines = [f"({voice.command})"]
    if voice.hts:
        rate = f'(list (list "-r" {1.0 / duration_stretch:.4f}))'
        lines.append(f"(set! hts_engine_params (append hts_engine_params {rate}))")
    else:
        lines.append(f"(Parameter.set 'Duration_Stretch {duration_stretch:.4f})")
        # The diphone voices' intonation model maps its f0 onto this target mean and spread.
        scale = f"(if (member (car p) '(target_f0_mean target_f0_std)) (list (car p) (* {f0_shift:.4f} (cadr p))) p)"
        lines.append(f"(set! int_lr_params (mapcar (lambda (p) {scale}) int_lr_params))")
    lines += [
        f'(set! utt (Utterance Text "{quoted}"))',
        "(utt.synth utt)",
        f"(utt.save.wave utt \"{wav}\" 'riff)",
        f'(utt.save.segs utt "{segs}")',
    ]
    return "\n".join(lines) + "\n"


def synthesize_festival(text: str, voice: str, duration_stretch: float, f0_shift: float) -> Utterance:
    """Render ``text`` with a festival voice at a speaking rate and pitch, with its segment times.

    Args:
        text: English text.
        voice: a key of ``VOICES``.
        duration_stretch: > 1 speaks slower.
        f0_shift: multiplies the voice's pitch (diphone voices; the HTS voice keeps its own).

    Raises:
        ModelError: festival or the voice is missing, fails, or writes no audio.
    """
    spec = VOICES[voice]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wav, segs, scm = Path(tmp) / "out.wav", Path(tmp) / "out.segs", Path(tmp) / "run.scm"
            scm.write_text(_script(text, spec, duration_stretch, f0_shift, wav, segs))
            subprocess.run(["festival", "-b", str(scm)], capture_output=True, text=True, check=True)
            samples, sr = sf.read(wav, dtype="float32")
            ends = parse_segs(segs.read_text())
    except (OSError, subprocess.CalledProcessError, sf.LibsndfileError) as e:
        raise ModelError(f"festival failed for voice {voice} (Debian package {spec.package}): {e}") from e
    if samples.size == 0 or not ends or ends[-1][1] <= 0:
        raise ModelError(f"festival produced no audio for voice {voice}")
    samples = resample(np.asarray(samples, dtype=np.float32), int(sr), SAMPLE_RATE_HZ)
    # The diphone voices' segment times fall short of their audio by about 0.4 %; HTS's match.
    segments = [(to_arpabet(name, spec.mrpa), end_s) for name, end_s in ends]
    phones = phones_from_ends(segments, samples.size / SAMPLE_RATE_HZ / ends[-1][1])
    return Utterance(samples, SAMPLE_RATE_HZ, phones, voice)
