"""espeak-ng + MBROLA synthesis with exact phone timing, mapped to the ARPAbet phone table.

``espeak-ng --pho`` prints the MBROLA phone list (symbol, duration ms, pitch points) that the
same command with ``-w`` renders; the two are run separately because ``--pho`` with ``-w``
writes an empty WAV. Durations are rescaled by the (tiny, < 0.01 %) ratio of WAV length to their
sum. MBROLA's SAMPA symbols are mapped to ARPAbet (``US_SAMPA``, ``EN1_SAMPA`` and one map per
other-language voice); the symbol sets are those the voices emitted on English and native text.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from bridge.errors import ModelError
from bridge.frames import F32

log = logging.getLogger(__name__)

# MBROLA us1/us2/us3 (American English) SAMPA -> ARPAbet; "@" is the schwa AX, "4" the flap DX.
US_SAMPA: dict[str, tuple[str, ...]] = {
    "p": ("P",), "p_h": ("P",), "b": ("B",), "t": ("T",), "t_h": ("T",), "d": ("D",),
    "k": ("K",), "k_h": ("K",), "g": ("G",), "4": ("DX",), "tS": ("CH",), "dZ": ("JH",),
    "f": ("F",), "v": ("V",), "T": ("TH",), "D": ("DH",), "s": ("S",), "z": ("Z",),
    "S": ("SH",), "Z": ("ZH",), "h": ("HH",), "m": ("M",), "n": ("N",), "N": ("NG",),
    "l": ("L",), "l/": ("L",), "r": ("R",), "w": ("W",), "j": ("Y",), "i": ("IY",),
    "I": ("IH",), "E": ("EH",), "{": ("AE",), "A": ("AA",), "V": ("AH",), "O": ("AO",),
    "U": ("UH",), "u": ("UW",), "@": ("AX",), "r=": ("ER",), "EI": ("EY",), "AI": ("AY",),
    "OI": ("OY",), "aU": ("AW",), "@U": ("OW",), "l=": ("L",), "n=": ("N",), "m=": ("M",), "O2": ("AO",),
    "A~": ("AA",),  # nasal vowel of French loanwords (the dictionary has some)
    "_": ("SIL",),
}  # fmt: skip
# MBROLA en1 (British English) adds long vowels, dark l and centring diphthongs.
EN1_SAMPA: dict[str, tuple[str, ...]] = {
    **US_SAMPA,
    "Q": ("AO",), "5": ("L",), "e": ("EH",), "A:": ("AA",), "i:": ("IY",), "u:": ("UW",),
    "O:": ("AO",), "3:": ("ER",), "eI": ("EY",), "aI": ("AY",), "I@": ("IH", "AX"),
    "e@": ("EH", "AX"), "U@": ("UH", "AX"),
}  # fmt: skip


# The other languages: each symbol goes to the nearest phone of the (English) phone table.
# Front rounded vowels take the rounded vowel of the same height (y -> UW, Y -> UH, 2 -> OH, 9 -> AO),
# close-mid e/o are EH/OH, nasal vowels their oral vowel; uvular R is the back consonant G (tongue
# dorsum, no lip rounding, unlike English R); taps and trills are the flap DX; palatal sonorants
# (nasal J, lateral L) are alveolar + Y halves; velar x is K; palatal C is the shape-neutral HH;
# affricates ts/pf/dz are two halves; Italian nf (labiodental nasal before f) is V, lips on teeth.
_XSAMPA_SHARED: dict[str, tuple[str, ...]] = {
    "p": ("P",), "b": ("B",), "t": ("T",), "d": ("D",), "k": ("K",), "g": ("G",), "f": ("F",),
    "v": ("V",), "s": ("S",), "z": ("Z",), "S": ("SH",), "Z": ("ZH",), "m": ("M",), "n": ("N",),
    "N": ("NG",), "l": ("L",), "j": ("Y",), "w": ("W",), "h": ("HH",), "tS": ("CH",), "dZ": ("JH",),
    "ts": ("T", "S"), "x": ("K",), "@": ("AX",), "_": ("SIL",),
}  # fmt: skip
DE2_SAMPA: dict[str, tuple[str, ...]] = {
    **_XSAMPA_SHARED,
    "R": ("G",), "C": ("HH",), "pf": ("P", "F"), "6": ("AH",), "a": ("AA",), "a:": ("AA",), "E": ("EH",),
    "E:": ("EH",), "e:": ("EH",), "I": ("IH",), "i:": ("IY",), "O": ("AO",), "o:": ("OH",), "U": ("UH",),
    "u:": ("UW",), "Y": ("UH",), "y:": ("UW",), "9": ("AO",), "2:": ("OH",), "aI": ("AY",), "aU": ("AW",),
    "OY": ("OY",), "a~": ("AA",), "E~": ("EH",), "o~": ("AO",),
}  # fmt: skip
FR1_SAMPA: dict[str, tuple[str, ...]] = {
    **_XSAMPA_SHARED,
    "R": ("G",), "H": ("W",), "a": ("AA",), "e": ("EH",), "E": ("EH",), "i": ("IY",), "o": ("OH",),
    "O": ("AO",), "u": ("UW",), "y": ("UW",), "2": ("OH",), "9": ("AO",), "a~": ("AA",), "e~": ("EH",),
    "o~": ("AO",), "9~": ("AO",),
}  # fmt: skip
ES1_SAMPA: dict[str, tuple[str, ...]] = {
    **_XSAMPA_SHARED,
    "r": ("DX",), "rr": ("DX",), "T": ("TH",), "J": ("N", "Y"), "L": ("L", "Y"), "jj": ("Y",), "a": ("AA",),
    "e": ("EH",), "e/": ("EH",), "i": ("IY",), "o": ("OH",), "o/": ("OH",), "u": ("UW",),
}  # fmt: skip
# it3: digit 1 marks a stressed vowel, "/" an unstressed one, "[" a dental stop; English words add a few
# foreign symbols (Y, V, 3:, EI).
IT3_SAMPA: dict[str, tuple[str, ...]] = {
    **_XSAMPA_SHARED,
    "r": ("DX",), "T": ("TH",), "J": ("N", "Y"), "L": ("L", "Y"), "ng": ("NG",), "nf": ("V",), "dz": ("D", "Z"),
    "ts2": ("T", "S"), "t[": ("T",), "d[": ("D",), "ss": ("S",), "l/2": ("L",), "a": ("AA",), "a1": ("AA",),
    "e": ("EH",), "e1": ("EH",), "E1": ("EH",), "i": ("IY",), "i1": ("IY",), "i/": ("IY",), "i:": ("IY",),
    "o": ("OH",), "o1": ("OH",), "O1": ("AO",), "u": ("UW",), "u1": ("UW",), "u:": ("UW",), "Y": ("UH",),
    "3:": ("ER",), "V": ("AH",), "EI": ("EY",), "eI": ("EY",),
}  # fmt: skip

VOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "mb-us1": US_SAMPA,
    "mb-us2": US_SAMPA,
    "mb-us3": US_SAMPA,
    "mb-en1": EN1_SAMPA,
    "mb-de2": DE2_SAMPA,
    "mb-fr1": FR1_SAMPA,
    "mb-es1": ES1_SAMPA,
    "mb-it3": IT3_SAMPA,
}


@dataclass(frozen=True, slots=True)
class Utterance:
    """Synthetic speech and its phones.

    Attributes:
        samples: float32 mono audio at ``sample_rate_hz``.
        sample_rate_hz: 16000 for MBROLA voices.
        phones: (ARPAbet phone, start_s, end_s), contiguous from 0.
        voice: espeak-ng voice name.
    """

    samples: F32
    sample_rate_hz: int
    phones: list[tuple[str, float, float]]
    voice: str


def phones_from_ends(ends: list[tuple[tuple[str, ...], float]], scale: float) -> list[tuple[str, float, float]]:
    """Segments given by end time, rescaled by ``scale``, as contiguous phones from 0.

    Args:
        ends: (ARPAbet phones of the segment, end_s) in time order; a segment of several phones
            (a diphthong split in halves) shares its time equally.
        scale: factor that makes the synthesizer's printed times match its audio's length.
    """
    phones: list[tuple[str, float, float]] = []
    start_s = 0.0
    for parts, end_s in ends:
        stop_s = end_s * scale
        step = (stop_s - start_s) / len(parts)
        for i, phone in enumerate(parts):
            phones.append((phone, start_s + i * step, stop_s if i == len(parts) - 1 else start_s + (i + 1) * step))
        start_s = stop_s
    return phones


def espeak_available() -> bool:
    """True when espeak-ng and the English MBROLA voices are installed."""
    return shutil.which("espeak-ng") is not None and Path("/usr/share/mbrola/us1").exists()


def voice_available(voice: str) -> bool:
    """True when espeak-ng and the MBROLA database of ``voice`` (``mb-de2`` -> de2) are installed."""
    return shutil.which("espeak-ng") is not None and _database_dir(voice).exists()


def _database_dir(voice: str) -> Path:
    """Where Debian installs the MBROLA database of ``voice`` (``mb-us1`` -> /usr/share/mbrola/us1)."""
    return Path("/usr/share/mbrola", voice.removeprefix("mb-"))


# espeak-ng sends es1 and it3 unstressed vowels (and it3 geminate s and a ts variant) that their
# databases lack, and MBROLA renders those as silence under the phone's label. These voices are
# rendered by the mbrola program from the phone list with those symbols rewritten to ones the
# database has. A few it3 diphones stay missing (j before a consonant, ng-dz: 13 in 6500 phones);
# mbrola's -e bridges each with a short silence instead of stopping.
PHO_REWRITE: dict[str, dict[str, str]] = {
    "mb-es1": {"e/": "e", "o/": "o"},
    "mb-it3": {"i/": "i", "ss": "s", "ts2": "ts"},
}


def rewrite_pho(text: str, symbols: dict[str, str]) -> str:
    """A .pho phone list with the phone symbols in ``symbols`` replaced (durations and pitch kept)."""
    lines = []
    for line in text.splitlines():
        fields = line.split(maxsplit=1)
        if fields and fields[0] in symbols:
            line = " ".join([symbols[fields[0]], *fields[1:]])
        lines.append(line)
    return "\n".join(lines) + "\n"


def _render(args: list[str], text: str, rewritten_pho: str | None, voice: str, wav: Path) -> None:
    """Write ``wav``: espeak-ng's own rendering, or mbrola's from ``rewritten_pho`` when given."""
    if rewritten_pho is None:
        subprocess.run([*args, "-w", str(wav), text], capture_output=True, check=True)
        return
    db = _database_dir(voice) / voice.removeprefix("mb-")
    pho_path = wav.with_suffix(".pho")
    pho_path.write_text(rewritten_pho)
    subprocess.run(["mbrola", "-e", str(db), str(pho_path), str(wav)], capture_output=True, check=True)


def parse_pho(text: str, sampa: dict[str, tuple[str, ...]]) -> list[tuple[str, float]]:
    """MBROLA .pho lines to (ARPAbet phone, duration_s); unknown symbols become the schwa."""
    out: list[tuple[str, float]] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2 or line.startswith(";"):
            continue
        dur_s = int(fields[1]) / 1000.0
        arpa = sampa.get(fields[0])
        if arpa is None:
            log.warning("unknown MBROLA symbol %r, using AX", fields[0])
            arpa = ("AX",)
        for part in arpa:
            out.append((part, dur_s / len(arpa)))
    return out


def synthesize(text: str, voice: str, speed_wpm: int, pitch: int) -> Utterance:
    """Render ``text`` with an MBROLA voice; phone times are exact to the sample.

    Raises:
        ModelError: espeak-ng or mbrola is missing or produced no audio.
    """
    sampa = VOICES[voice]
    args = ["espeak-ng", "-v", voice, "-s", str(speed_wpm), "-p", str(pitch)]
    try:
        pho = subprocess.run([*args, "--pho", "-q", text], capture_output=True, text=True, check=True).stdout
        rewritten = rewrite_pho(pho, PHO_REWRITE[voice]) if voice in PHO_REWRITE else None
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "out.wav"
            _render(args, text, rewritten, voice, wav)
            samples, sr = sf.read(wav, dtype="float32")
    except (OSError, subprocess.CalledProcessError) as e:
        raise ModelError(f"espeak-ng or mbrola failed for voice {voice}: {e}") from e
    durations = parse_pho(rewritten or pho, sampa)
    total_s = sum(d for _, d in durations)
    if samples.size == 0 or total_s <= 0:
        raise ModelError(f"espeak-ng produced no audio for voice {voice}")
    scale = samples.size / sr / total_s
    phones: list[tuple[str, float, float]] = []
    t = 0.0
    for name, dur_s in durations:
        phones.append((name, t, t + dur_s * scale))
        t += dur_s * scale
    return Utterance(np.asarray(samples, dtype=np.float32), int(sr), phones, voice)
