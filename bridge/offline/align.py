"""Transcript forced alignment with pocketsphinx: words in, timed ARPAbet phones out.

Uses the US English acoustic model and CMU dictionary that ship inside the pocketsphinx wheel.
Two passes, as pocketsphinx documents for phone alignment: a word alignment constrained to the
transcript, then a sub-word pass over the same audio. Words missing from the dictionary are
left out (with a warning); if nothing can be aligned the caller falls back to the acoustic model.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bridge.audio.resample import resample
from bridge.audio.vad import VAD_RATE_HZ, voiced_frames
from bridge.errors import ConfigError
from bridge.frames import F32
from bridge.offline.take import Phone

if TYPE_CHECKING:
    import pocketsphinx

log = logging.getLogger(__name__)

ALIGN_RATE_HZ = 16000  # the shipped en-us model's sample rate
# Share of webrtcvad's voiced frames an aligned transcript should cover. Measured on the dev clips
# (mode 2): the right transcripts cover 0.71-0.93; half of one 0.35-0.60, two words of a long
# sentence 0.14. Set for gross mismatches only: a wrong warning would be worse than a missed one.
MIN_SPEECH_COVERAGE = 0.5
_COVER_MARGIN_S = 0.05  # a voiced frame this close to an aligned phone counts as covered
_FRAME_S = 0.01  # pocketsphinx's default frame rate is 100/s
NOISE_PHONES = {"SIL", "+SPN+", "+NSN+", "+BREATH+", "+COUGH+", "+NOISE+", "+UH+", "+UM+"}

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINALS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
             "twelve": "twelfth"}  # fmt: skip
# A number (thousands commas allowed), its decimals, an ordinal suffix or a percent sign; or a word.
_TOKEN = re.compile(
    r"(?P<number>[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)(?:\.(?P<fraction>[0-9]+))?"
    r"(?:(?P<ordinal>st|nd|rd|th)\b)?(?P<percent>\s?%)?"
    r"|(?P<word>[A-Za-z]+(?:'[A-Za-z]+)*)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Alignment:
    """Result of aligning one transcript.

    Attributes:
        phones: timed phones, pauses as "SIL", in time order (empty when alignment failed).
        words: the normalized words that were aligned.
        warnings: dropped words and failures, for the bake report.
    """

    phones: tuple[Phone, ...]
    words: tuple[str, ...]
    warnings: tuple[str, ...]


def number_words(n: int) -> list[str]:
    """English words for 0 <= n < 10**12 ("twenty one", "one thousand two hundred")."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            head, rest = divmod(n, size)
            return number_words(head) + [name] + (number_words(rest) if rest else [])
    raise AssertionError("unreachable")


def ordinal_words(n: int) -> list[str]:
    """English ordinal for 0 <= n < 10**12 ("twenty first", "one hundredth")."""
    words = number_words(n)
    last = words[-1]
    words[-1] = _ORDINALS.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return words


def _digit_words(digits: str) -> list[str]:
    return [_ONES[int(d)] for d in digits]


def normalize_text(text: str) -> list[str]:
    """Lowercase words the dictionary can know: accents folded (café -> cafe), numbers, ordinals,
    decimals and percentages spelled out ("1,000" -> one thousand, "2nd" -> second, "3.5%" -> three
    point five percent), other punctuation removed."""
    folded = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    words: list[str] = []
    for m in _TOKEN.finditer(folded):
        number, fraction, ordinal, percent, word = m.group("number", "fraction", "ordinal", "percent", "word")
        if word is not None:
            words.append(word.lower())
            continue
        digits = number.replace(",", "")
        if len(digits) >= 13:
            words += _digit_words(digits)
        elif ordinal and not fraction:
            words += ordinal_words(int(digits))
        else:
            words += number_words(int(digits))
        if fraction:
            words += ["point", *_digit_words(fraction)]
        if percent:
            words.append("percent")
    return words


@functools.lru_cache(maxsize=1)
def _decoder() -> pocketsphinx.Decoder:
    """One decoder per process (loading the model takes ~0.4 s)."""
    try:
        import pocketsphinx
    except ImportError as e:
        raise ConfigError(
            "transcript alignment needs pocketsphinx: pip install 'avatar-bridge[offline]' (or pocketsphinx)"
        ) from e

    return pocketsphinx.Decoder(samprate=ALIGN_RATE_HZ, bestpath=False, loglevel="FATAL")


def to_pcm16(samples: F32, sample_rate_hz: int) -> bytes:
    # The model path's resampler works in bounded pieces: scipy's resample_poly (float64) took an hour
    # at 48 kHz to a 2.6 GB peak.
    x = np.clip(resample(samples, sample_rate_hz, ALIGN_RATE_HZ), -1.0, 1.0)  # a copy: the caller's stays
    x *= 32767.0
    return x.astype("<i2").tobytes()


def align(samples: F32, sample_rate_hz: int, text: str) -> Alignment:
    """Force-align ``text`` to mono ``samples``.

    Returns:
        The alignment; ``phones`` is empty (and ``warnings`` says why) when the transcript has no
        known word or the decoder cannot fit it to the audio.
    """
    decoder = _decoder()
    warnings: list[str] = []
    known: list[str] = []
    for w in normalize_text(text):
        if decoder.lookup_word(w) is None:
            warnings.append(f"transcript word {w!r} is not in the pronunciation dictionary; left out")
        else:
            known.append(w)
    if not known:
        warnings.append("transcript has no word the aligner knows; using the acoustic model alone")
        return Alignment((), (), tuple(warnings))
    pcm = to_pcm16(samples, sample_rate_hz)
    try:
        decoder.set_align_text(" ".join(known))
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        decoder.set_alignment()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        result = decoder.get_alignment()
    except RuntimeError as e:
        # pocketsphinx signals "could not fit the transcript" this way; it is a per-file outcome.
        warnings.append(f"transcript alignment failed ({e}); using the acoustic model alone")
        return Alignment((), tuple(known), tuple(warnings))
    phones: list[Phone] = []
    for entry in result.phones() if result is not None else ():
        name = entry.name.upper()
        start_s = entry.start * _FRAME_S
        end_s = (entry.start + entry.duration) * _FRAME_S
        phones.append(Phone("SIL" if name in NOISE_PHONES else name, start_s, end_s))
    if not any(p.name != "SIL" for p in phones):
        warnings.append("transcript alignment found no speech; using the acoustic model alone")
        return Alignment((), tuple(known), tuple(warnings))
    log.debug("aligned %d words, %d phones", len(known), len(phones))
    return Alignment(tuple(phones), tuple(known), tuple(warnings))


def speech_coverage(
    phones: tuple[Phone, ...], samples: F32, sample_rate_hz: int, aggressiveness: int = 2
) -> float | None:
    """Share of the frames webrtcvad hears as speech that lie on (or within 50 ms of) an aligned
    phone; None when it hears no speech. Low means the transcript does not say what the audio does."""
    voiced = voiced_frames(resample(samples, sample_rate_hz, VAD_RATE_HZ), aggressiveness)
    if not voiced.any():
        return None
    covered = np.zeros(voiced.size, dtype=bool)
    for p in phones:
        if p.name != "SIL":
            lo = max(0, int((p.start_s - _COVER_MARGIN_S) / _FRAME_S))
            covered[lo : int(np.ceil((p.end_s + _COVER_MARGIN_S) / _FRAME_S))] = True
    return float(covered[voiced].mean())
