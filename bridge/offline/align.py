"""Transcript forced alignment with pocketsphinx: words in, timed ARPAbet phones out.

Uses the US English acoustic model and CMU dictionary that ship inside the pocketsphinx wheel.
Two passes, as pocketsphinx documents for phone alignment: a word alignment constrained to the
transcript, then a sub-word pass over the same audio. A word missing from the dictionary (a name,
a game word) gets the pronunciation espeak-ng's English rules give it, added to this process'
dictionary; without espeak-ng it is left out. Either way the bake report warns. A studio lexicon
(``bridge.offline.lexicon``) comes before the dictionary, and a small table of interjections before
espeak-ng; neither is warned about. The words come from ``bridge.offline.transcript``. If nothing can be
aligned the caller falls back to the acoustic model.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bridge.audio.resample import resample
from bridge.audio.vad import VAD_RATE_HZ, voiced_frames
from bridge.errors import ConfigError, ModelError
from bridge.frames import F32
from bridge.offline.take import Phone
from bridge.offline.transcript import read_text, unspoken_parts

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

_MAX_NAMED = 5  # left-out pieces named in one warning


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


# Interjections the CMU dictionary lacks and espeak-ng spells out letter by letter ("pfft" P IY EH F EH F
# T IY, "mmm" EH M EH M EH M), in the en-us model's phones. Keyed by the word with each run of a letter
# written once, so "shhhh" is "shh" and "hmmmm" is "hmm".
_INTERJECTIONS = {"pft": "P F T", "pst": "P S T", "sh": "SH", "hm": "HH M", "m": "M", "hmph": "HH M F",
                  "gr": "G ER", "z": "Z", "tsk": "T S K", "ugh": "AH G", "br": "B ER"}  # fmt: skip
# espeak-ng reads a word made of Roman numeral letters as "roman" and the number ("iii" R OW M AH N TH
# R IY); nobody says "roman", so the guess keeps the number alone.
_ROMAN = "R OW M AH N "

# What this process added to its decoders: pocketsphinx can neither change nor remove a word, so each
# (word, phones) pair gets a decoder word once, the word itself where the decoder does not know it yet
# and "word_N" where it already says the word otherwise (a lexicon entry for a dictionary word, or a
# word the last transcript's lexicon gave other phones).
_tokens: dict[tuple[str, str], str] = {}
_added: set[str] = set()  # the words of _tokens added under their own name


def interjection(word: str) -> str | None:
    """The built-in phones of an interjection ("shhh" SH, "pfft" P F T); None for other words."""
    return _INTERJECTIONS.get(re.sub(r"(.)\1+", r"\1", word))


def unstretched(decoder: pocketsphinx.Decoder, word: str) -> str | None:
    """The dictionary's phones of a word stretched for emphasis, with each run of three or more letters
    written once, else twice ("nooo" no, "pleeease" please, "yesss" yes); None for other words."""
    if re.search(r"(.)\1\1", word) is None:
        return None
    for run in (r"\1", r"\1\1"):
        candidate = re.sub(r"(.)\1\1+", run, word)
        # Not a word an earlier transcript added: a line must align the same whatever came before it.
        phones = None if candidate in _added else decoder.lookup_word(candidate)
        if phones is not None:
            return str(phones)
    return None


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
    guess = " ".join(_TO_CMU.get(p, p) for p in phones)
    if guess.startswith(_ROMAN) and not word.startswith("rom"):
        guess = guess[len(_ROMAN) :]
    return guess or None


def _token(decoder: pocketsphinx.Decoder, word: str, phones: str) -> str:
    """The decoder word that says ``word`` as ``phones``, added to ``decoder`` the first time.

    Raises:
        RuntimeError: pocketsphinx refuses the pronunciation.
    """
    token = _tokens.get((word, phones))
    if token is None:
        current = decoder.lookup_word(word)
        if current == phones:
            token = word
        else:
            token = word if current is None else f"{word}_{len(_tokens)}"
            decoder.add_word(token, phones, True)
            if token == word:
                _added.add(word)
        _tokens[(word, phones)] = token
    return token


def _dictionary_word(
    decoder: pocketsphinx.Decoder, word: str, lexicon: Mapping[str, str], warnings: list[str]
) -> str | None:
    """The decoder word to align ``word`` as, None to leave it out.

    The pronunciation comes from ``lexicon``, else the CMU dictionary, else the interjection table, else
    the dictionary word a stretched one stands for ("nooo"), else espeak-ng's guess (warned about).
    """
    phones = lexicon.get(word)
    guessed = False
    if phones is None:
        if word not in _added and decoder.lookup_word(word) is not None:
            return word
        phones = interjection(word) or unstretched(decoder, word)
    if phones is None:
        phones = guess_pronunciation(word)
        if phones is None:
            warnings.append(
                f"transcript word {word!r} is not in the pronunciation dictionary and espeak-ng could not guess it; "
                "left out"
            )
            return None
        guessed = True
    try:
        token = _token(decoder, word, phones)
    except RuntimeError as e:  # pocketsphinx's way to refuse a pronunciation
        warnings.append(f"transcript word {word!r} is not in the pronunciation dictionary ({e}); left out")
        return None
    if guessed:
        warnings.append(
            f"transcript word {word!r} is not in the pronunciation dictionary; pronunciation guessed: {phones}"
        )
    return token


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



def align(samples: F32, sample_rate_hz: int, text: str, lexicon: Mapping[str, str] | None = None) -> Alignment:
    """Force-align ``text`` to mono ``samples``.

    Args:
        samples: mono audio.
        sample_rate_hz: its rate.
        text: the transcript.
        lexicon: the studio's own pronunciations, normalized word -> CMU phones (``bridge.offline.lexicon``),
            used before the dictionary.

    Returns:
        The alignment; ``phones`` is empty (and ``warnings`` says why) when the transcript has no
        known word or the decoder cannot fit it to the audio.
    """
    decoder = _decoder()
    warnings: list[str] = []
    if unspoken := unspoken_parts(text):
        warnings.append(f"transcript: {', '.join(unspoken)} left out as not spoken")
    words, unreadable = read_text(text)
    if unreadable:
        named = list(dict.fromkeys(unreadable))
        more = f" and {len(named) - _MAX_NAMED} more" if len(named) > _MAX_NAMED else ""
        warnings.append(f"transcript: {', '.join(named[:_MAX_NAMED])}{more} left out as not English-readable")
    if not words:
        warnings.append("transcript has no English-readable words; using the acoustic model alone")
        return Alignment((), (), tuple(warnings))
    tokens: dict[str, str | None] = {}  # each distinct word looked up (and warned about) once
    known: list[str] = []
    said: list[str] = []  # the decoder's words for them
    for w in words:
        if w not in tokens:
            tokens[w] = _dictionary_word(decoder, w, lexicon or {}, warnings)
        if (token := tokens[w]) is not None:
            known.append(w)
            said.append(token)
    if not known:
        warnings.append("transcript has no word the aligner knows; using the acoustic model alone")
        return Alignment((), (), tuple(warnings))
    pcm = to_pcm16(samples, sample_rate_hz)
    try:
        result = _force_align(decoder, said, pcm)
    except RuntimeError as e:
        # pocketsphinx signals "could not fit the transcript" this way. A word the speaker did not
        # say (a script revision, a typo) is the usual cause; wider beams let the search squeeze it in.
        wide = _decoder(wide=True)
        for t in said:
            if wide.lookup_word(t) is None:  # a pronunciation this process added
                wide.add_word(t, decoder.lookup_word(t), True)
        try:
            result = _force_align(wide, said, pcm)
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
