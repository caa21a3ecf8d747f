"""Transcript forced alignment with pocketsphinx: words in, timed ARPAbet phones out.

Uses the US English acoustic model and CMU dictionary that ship inside the pocketsphinx wheel.
Two passes, as pocketsphinx documents for phone alignment: a word alignment constrained to the
transcript, then a sub-word pass over the same audio. A word missing from the dictionary (a name,
a game word) gets the pronunciation espeak-ng's English rules give it, added to this process'
dictionary; without espeak-ng it is left out. Either way the bake report warns. If nothing can be
aligned the caller falls back to the acoustic model.
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
from bridge.errors import ConfigError, ModelError
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
# The project's ARPAbet phones the en-us model lacks: the CMU dictionary writes the schwa as AH and
# the flap as T ("butter" B AH T ER).
_TO_CMU = {"AX": "AH", "DX": "T"}
# Search beams of the second try when the defaults (1e-48) cannot fit a transcript. Measured on the
# GRID dev clips with a word appended that the speaker did not say: all 5 failed at the defaults and
# at 1e-80, and all 5 aligned from 1e-100 on, the spoken words where the right transcript puts them.
_WIDE_BEAM = 1e-120

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINALS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
             "twelve": "twelfth"}  # fmt: skip
_NUMBER = r"[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+"  # thousands commas allowed
# One spoken unit each: an amount of money; a minus sign (not a hyphen after a word or number);
# the dash of a range ("5-10"); "#" before a number; a number with its decimals, an ordinal or
# plural suffix ("2nd", "1990s") or a percent sign; a symbol said as a word; or a word.
_TOKEN = re.compile(
    rf"(?P<currency>[$\u00a3\u20ac])\s?(?P<amount>{_NUMBER})(?:\.(?P<cents>[0-9]+))?"
    r"(?:\s+(?P<scale>thousand|million|billion|trillion)\b)?"
    r"|(?P<minus>(?<![\w.,])[-\u2212](?=[0-9]))"
    r"|(?P<range>(?<=[0-9])(?:-|\s?\u2013\s?)(?=[0-9]))"
    r"|(?P<hash>#(?=[0-9]))"
    rf"|(?P<number>{_NUMBER})(?:\.(?P<fraction>[0-9]+))?"
    r"(?:(?P<ordinal>st|nd|rd|th)\b|(?P<plural>'?s)\b)?(?P<percent>\s?%)?"
    r"|(?P<symbol>[&@+])"
    r"|(?P<word>[A-Za-z]+(?:'[A-Za-z]+)*)",
    re.IGNORECASE,
)
_SYMBOLS = {"&": "and", "@": "at", "+": "plus"}
_SAID = {"minus": "minus", "range": "to", "hash": "number"}
# Letters NFKD does not decompose, as English readers say them ("Bjørn", "Æthelred", "Straße").
_LETTERS = str.maketrans({"\u00f8": "o", "\u00d8": "O", "\u00e6": "ae", "\u00c6": "Ae", "\u0153": "oe",
                          "\u0152": "Oe", "\u00df": "ss", "\u0142": "l", "\u0141": "L", "\u0111": "d",
                          "\u0110": "D", "\u00fe": "th", "\u00de": "Th", "\u00f0": "th", "\u00d0": "Th",
                          "\u0131": "i"})  # fmt: skip
# Currency sign -> unit, units, hundredth, hundredths.
_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "\u00a3": ("pound", "pounds", "penny", "pence"),
               "\u20ac": ("euro", "euros", "cent", "cents")}  # fmt: skip
# Vulgar fractions, alone and after a whole number ("2½" is "two and a half"). Replaced before the
# NFKD fold, which would turn "2½" into "21⁄2".
_VULGAR = {"\u00bd": ("one half", "a half"), "\u00bc": ("one quarter", "a quarter"),
           "\u00be": ("three quarters", "three quarters"), "\u2153": ("one third", "a third"),
           "\u2154": ("two thirds", "two thirds")}  # fmt: skip
_VULGAR_AFTER_NUMBER = re.compile(r"(?<=[0-9])\s?([\u00bd\u00bc\u00be\u2153\u2154])")
_VULGAR_ALONE = re.compile(r"[\u00bd\u00bc\u00be\u2153\u2154]")
# What dialogue scripts write but nobody says: stage directions ("[laughs]", "(whispering)", "*sighs*"),
# markup tags ("<b>", "<break time='1s'/>": the text between tags is kept) and localisation placeholders
# ("{playerName}", whose spoken value the script does not hold).
_UNSPOKEN = re.compile(r"\[[^\]]*\]|\([^)]*\)|\{[^}]*\}|<[^<>]*>|\*[^*\n]+\*")
# A four-digit number in this range, without a thousands comma, is read as a year ("1990" nineteen
# ninety, "2024" twenty twenty four): in dialogue such a number is usually a date, and for counts
# 1100-1999 the year reading is also what speakers say ("fifteen hundred"). Write "2,048" for a count.
_YEARS = range(1100, 2100)


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


def year_words(n: int) -> list[str]:
    """English reading of a year 1100 <= n < 2100 ("nineteen oh five", "nineteen hundred", "two thousand
    five", "twenty twenty four")."""
    head, tail = divmod(n, 100)
    if 2000 <= n < 2010:
        return number_words(n)
    if tail == 0:
        return number_words(head) + ["hundred"]
    return number_words(head) + (["oh"] if tail < 10 else []) + number_words(tail)


def _plural(words: list[str]) -> list[str]:
    """A number's reading as a plural ("nineteen nineties", "sixes", "hundreds" for one hundred)."""
    if len(words) == 2 and words[0] == "one" and words[1] in ("hundred", "thousand", "million", "billion"):
        words = words[1:]
    last = words[-1]
    plural = last[:-1] + "ies" if last.endswith("y") else last + "es" if last.endswith("x") else last + "s"
    return words[:-1] + [plural]


def _digit_words(digits: str) -> list[str]:
    return [_ONES[int(d)] for d in digits]


def _cardinal(digits: str) -> list[str]:
    return _digit_words(digits) if len(digits) >= 13 else number_words(int(digits))


def _money(sign: str, amount: str, cents: str | None, scale: str | None) -> list[str]:
    """Money as said ("$5.50" five dollars fifty cents, "$2.5 million" two point five million dollars)."""
    one, many, hundredth, hundredths = _CURRENCIES[sign]
    major = amount.replace(",", "")
    if scale is not None or (cents is not None and len(cents) != 2):
        words = _cardinal(major) + (["point", *_digit_words(cents)] if cents else [])
        return words + ([scale.lower()] if scale else []) + [many]
    minor = int(cents or "0")
    words = []
    if int(major) or not minor:
        words += _cardinal(major) + [one if int(major) == 1 else many]
    if minor:
        words += number_words(minor) + [hundredth if minor == 1 else hundredths]
    return words


def _number(m: re.Match[str]) -> list[str]:
    number, fraction, ordinal, plural, percent = m.group("number", "fraction", "ordinal", "plural", "percent")
    digits = number.replace(",", "")
    if fraction:
        words = _cardinal(digits) + ["point", *_digit_words(fraction)]
    elif ordinal:
        words = ordinal_words(int(digits)) if len(digits) < 13 else _digit_words(digits)
    else:
        year = len(number) == 4 and int(digits) in _YEARS and not percent
        words = year_words(int(digits)) if year else _cardinal(digits)
        if plural:
            words = _plural(words)
    return words + (["percent"] if percent else [])


def normalize_text(text: str) -> list[str]:
    """Lowercase words the dictionary can know, as an English speaker reads the text.

    Accents are folded (café -> cafe, Bjørn -> bjorn). Spelled out: numbers ("1,000" one thousand), ordinals ("2nd"
    second), decimals and percentages ("3.5%" three point five percent), money in $, £ and € ("$5.50"
    five dollars fifty cents), four-digit numbers 1100-2099 as years ("1990" nineteen ninety) and
    plurals ("1990s" nineteen nineties, "5s" fives), ½ ¼ ¾ ⅓ ⅔ ("2½" two and a half), a minus sign
    before a number ("-5" minus five; not the hyphen of "F-16"), a range's dash ("5-10" five to ten),
    "#" before a number (number), "&" (and), "@" (at) and "+" (plus). Stage directions, markup tags and
    placeholders (``unspoken_parts``) are left out. Other punctuation is removed.
    """
    text = _UNSPOKEN.sub(" ", text).replace("\u2019", "'").translate(_LETTERS)
    text = _VULGAR_AFTER_NUMBER.sub(lambda m: f" and {_VULGAR[m[1]][1]} ", text)
    text = _VULGAR_ALONE.sub(lambda m: f" {_VULGAR[m[0]][0]} ", text)
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    words: list[str] = []
    for m in _TOKEN.finditer(folded):
        if m["word"] is not None:
            words.append(m["word"].lower())
        elif m["number"] is not None:
            words += _number(m)
        elif m["currency"] is not None:
            words += _money(m["currency"], m["amount"], m["cents"], m["scale"])
        elif m["symbol"] is not None:
            words.append(_SYMBOLS[m["symbol"]])
        else:
            words.append(_SAID[str(m.lastgroup)])
    return words


@functools.lru_cache(maxsize=2)
def _decoder(wide: bool = False) -> pocketsphinx.Decoder:
    """One decoder per process and beam setting (loading the model takes ~0.4 s)."""
    try:
        import pocketsphinx
    except ImportError as e:
        raise ConfigError(
            "transcript alignment needs pocketsphinx: pip install 'avatar-bridge[offline]' (or pocketsphinx)"
        ) from e

    beams = {"beam": _WIDE_BEAM, "wbeam": _WIDE_BEAM, "pbeam": _WIDE_BEAM} if wide else {}
    return pocketsphinx.Decoder(samprate=ALIGN_RATE_HZ, bestpath=False, loglevel="FATAL", **beams)


# Words this process' decoder was given a guessed pronunciation for: the dictionary keeps them, and
# every transcript that uses one is still warned about it.
_guessed: dict[str, str] = {}


@functools.lru_cache(maxsize=4096)
def guess_pronunciation(word: str) -> str | None:
    """CMU-style phones ("S T EH L AH") that espeak-ng's US English gives ``word``; None without espeak-ng."""
    # Imported here: bridge.corpus is dev-time code and only a transcript with an unknown word needs it.
    from bridge.corpus.espeak import pronounce

    try:
        phones = pronounce(word, "en-us")
    except ModelError as e:
        log.debug("espeak-ng cannot guess %r: %s", word, e)
        return None
    return " ".join(_TO_CMU.get(p, p) for p in phones) or None


def _dictionary_word(decoder: pocketsphinx.Decoder, word: str, warnings: list[str]) -> bool:
    """Whether ``word`` can be aligned, giving it a guessed pronunciation if it needs one."""
    guess = _guessed.get(word)
    if guess is None:
        if decoder.lookup_word(word) is not None:
            return True
        guess = guess_pronunciation(word)
        if guess is None:
            warnings.append(
                f"transcript word {word!r} is not in the pronunciation dictionary and espeak-ng could not guess it; "
                "left out"
            )
            return False
        try:
            decoder.add_word(word, guess, True)
        except RuntimeError as e:  # pocketsphinx's way to refuse a pronunciation
            warnings.append(f"transcript word {word!r} is not in the pronunciation dictionary ({e}); left out")
            return False
        _guessed[word] = guess
    warnings.append(f"transcript word {word!r} is not in the pronunciation dictionary; pronunciation guessed: {guess}")
    return True


def to_pcm16(samples: F32, sample_rate_hz: int) -> bytes:
    # The model path's resampler works in bounded pieces: scipy's resample_poly (float64) took an hour
    # at 48 kHz to a 2.6 GB peak.
    x = np.clip(resample(samples, sample_rate_hz, ALIGN_RATE_HZ), -1.0, 1.0)  # a copy: the caller's stays
    x *= 32767.0
    return x.astype("<i2").tobytes()


def forget_audio(decoder: pocketsphinx.Decoder) -> None:
    """Reset what ``decoder``'s front end learned from the audio it heard, as a new decoder starts.

    pocketsphinx 5 carries its noise-removal statistics (the en-us model sets ``remove_noise``) from one
    utterance to the next; ``start_utt`` does not reset them. A file's phones then depended on the files
    the process had decoded before it. Rebuilding the feature extraction (0.1 ms) resets them, and the
    cepstral mean and gain control with them; the dictionary and searches are kept.
    """
    decoder.reinit_feat()


def _force_align(decoder: pocketsphinx.Decoder, words: list[str], pcm: bytes) -> pocketsphinx.Alignment | None:
    """The phone alignment of ``words`` to ``pcm``: a word pass constrained to the text, then a sub-word pass.

    Both passes start from a new decoder's front-end state (``forget_audio``), whatever was decoded before.

    Raises:
        RuntimeError: pocketsphinx could not fit the words to the audio.
    """
    decoder.set_align_text(" ".join(words))
    forget_audio(decoder)
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    decoder.set_alignment()
    forget_audio(decoder)
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    return decoder.get_alignment()


def unspoken_parts(text: str) -> list[str]:
    """The stage directions, markup tags and placeholders of a transcript, which normalize_text leaves out."""
    return _UNSPOKEN.findall(text)


def align(samples: F32, sample_rate_hz: int, text: str) -> Alignment:
    """Force-align ``text`` to mono ``samples``.

    Returns:
        The alignment; ``phones`` is empty (and ``warnings`` says why) when the transcript has no
        known word or the decoder cannot fit it to the audio.
    """
    decoder = _decoder()
    warnings: list[str] = []
    if unspoken := unspoken_parts(text):
        warnings.append(f"transcript: {', '.join(unspoken)} left out as not spoken")
    known: list[str] = []
    for w in normalize_text(text):
        if _dictionary_word(decoder, w, warnings):
            known.append(w)
    if not known:
        warnings.append("transcript has no word the aligner knows; using the acoustic model alone")
        return Alignment((), (), tuple(warnings))
    pcm = to_pcm16(samples, sample_rate_hz)
    try:
        result = _force_align(decoder, known, pcm)
    except RuntimeError as e:
        # pocketsphinx signals "could not fit the transcript" this way. A word the speaker did not
        # say (a script revision, a typo) is the usual cause; wider beams let the search squeeze it in.
        wide = _decoder(wide=True)
        for w in known:
            if wide.lookup_word(w) is None:  # a guessed pronunciation
                wide.add_word(w, decoder.lookup_word(w), True)
        try:
            result = _force_align(wide, known, pcm)
        except RuntimeError:
            warnings.append(f"transcript alignment failed ({e}); using the acoustic model alone")
            return Alignment((), tuple(known), tuple(warnings))
        warnings.append(
            "transcript alignment needed a wider search than usual: check that the audio says every word of the "
            "transcript (an unsaid word is squeezed in next to its neighbours)"
        )
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
