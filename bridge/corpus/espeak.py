"""espeak-ng's own formant voices with exact phone timing, through libespeak-ng's phoneme events.

``espeak-ng --pho`` prints timing for MBROLA voices only, so this module drives libespeak-ng
(ctypes) in synchronous mode with ``espeakINITIALIZE_PHONEME_EVENTS``: the synth callback
receives the audio and, with it, one event per phoneme carrying the output sample where the
phoneme starts. espeak-ng's English phoneme mnemonics are mapped to ARPAbet (``EN_PHONEMES``,
the set its English voices emitted on the corpus text). Voice variants (``en-us+m3``,
``en+f2``, ...) change formants, pitch and voice quality: many different synthetic talkers.
libespeak-ng keeps global state, so calls are serialised in one process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Any

import numpy as np

from bridge.audio.resample import resample
from bridge.corpus.mbrola import Utterance
from bridge.errors import ModelError
from bridge.features.logmel import SAMPLE_RATE_HZ

log = logging.getLogger(__name__)

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_EVENT_LIST_TERMINATED, _EVENT_PHONEME = 0, 7
_POS_CHARACTER, _CHARS_UTF8 = 1, 1
_RATE, _PITCH = 1, 3

# espeak-ng English phonemes -> ARPAbet. Vowels + r (r-coloured and centring diphthongs) are two
# halves; "?" (glottal stop) is the shape-neutral HH; "0" (lot) and "aa" (bath) follow en-us.
EN_PHONEMES: dict[str, tuple[str, ...]] = {
    "p": ("P",), "b": ("B",), "t": ("T",), "t2": ("T",), "d": ("D",), "k": ("K",), "g": ("G",),
    "t#": ("DX",), "?": ("HH",), "x": ("K",), "tS": ("CH",), "dZ": ("JH",), "f": ("F",), "v": ("V",),
    "T": ("TH",), "D": ("DH",), "s": ("S",), "z": ("Z",), "S": ("SH",), "Z": ("ZH",), "h": ("HH",),
    "m": ("M",), "n": ("N",), "n-": ("N",), "N": ("NG",), "l": ("L",), "l#": ("L",), "r": ("R",), "r-": ("R",),
    "w": ("W",), "w#": ("W",), "j": ("Y",),
    "a": ("AE",), "aa": ("AE",), "a#": ("AX",), "A:": ("AA",), "A@": ("AA", "R"), "0": ("AA",),
    "@": ("AX",), "@-": ("AX",), "@2": ("AX",), "@L": ("AX", "L"), "3": ("ER",), "3:": ("ER",), "E": ("EH",),
    "e@": ("EH", "R"), "eI": ("EY",), "I": ("IH",), "I#": ("IH",), "I2": ("IH",), "IR": ("IH", "R"),
    "i": ("IY",), "i:": ("IY",), "i@": ("IY", "AX"), "i@3": ("IH", "R"), "O": ("AO",), "O:": ("AO",), "O2": ("AO",),
    "O@": ("AO", "R"), "o@": ("AO", "R"), "OI": ("OY",), "oU": ("OW",), "U": ("UH",), "U@": ("UH", "R"),
    "u:": ("UW",), "V": ("AH",), "VR": ("AH", "R"), "aI": ("AY",), "aI2": ("AY",), "aI3": ("AY", "ER"),
    "aI@": ("AY", "AX"), "aU": ("AW",), "_": ("SIL",), "_:": ("SIL",),
}  # fmt: skip
# Events that mark a property of the previous phoneme (";" palatalises it), not a phoneme of their own.
_MODIFIERS = {";"}
_STRESS = "',%=!"  # stress and no-liaison marks that lead a mnemonic in espeak_TextToPhonemes output
_PHONEME_SEPARATOR = ord("_") << 8  # phonememode bits 8-23: "_" between mnemonics, bit 1 clear: mnemonics


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
        ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p), ("name", ctypes.c_char * 8),
    ]  # fmt: skip


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class _Engine:
    """The initialised library and the callback that collects one synthesis' audio and phonemes."""

    def __init__(self) -> None:
        path = ctypes.util.find_library("espeak-ng")
        if path is None:
            raise ModelError("libespeak-ng is not installed (scripts/setup.sh --dev)")
        self.lib: Any = ctypes.CDLL(path)
        rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_PHONEME_EVENTS)
        self.sample_rate_hz = int(rate)
        if self.sample_rate_hz <= 0:
            raise ModelError("libespeak-ng failed to initialise (espeak-ng-data missing?)")
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[str, int]] = []
        self._callback = _Callback(self._collect)  # kept: the library holds only the raw pointer
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]

    def _collect(self, wav: Any, n: int, events: Any) -> int:
        if n > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            if events[i].type == _EVENT_PHONEME:
                self.events.append((events[i].name.decode("utf-8", "replace"), int(events[i].sample)))
            i += 1
        return 0


_engine: _Engine | None = None


def _get_engine() -> _Engine:
    global _engine
    if _engine is None:
        _engine = _Engine()
    return _engine


def espeak_library_available() -> bool:
    """True when libespeak-ng can be loaded (it comes with the espeak-ng package)."""
    return ctypes.util.find_library("espeak-ng") is not None


def events_to_phones(
    events: list[tuple[str, int]], n_samples: int, sample_rate_hz: int
) -> list[tuple[str, float, float]]:
    """Phoneme start events (mnemonic, output sample) -> contiguous ARPAbet phones covering the audio.

    Unknown mnemonics become the schwa (logged); a two-part phoneme splits its time in halves.
    """
    starts: list[tuple[str, int]] = [("_", 0)] if not events or events[0][1] > 0 else []
    for name, sample in events:
        if name in _MODIFIERS and starts:
            continue
        starts.append((name, min(max(sample, starts[-1][1] if starts else 0), n_samples)))
    phones: list[tuple[str, float, float]] = []
    for i, (name, a) in enumerate(starts):
        b = starts[i + 1][1] if i + 1 < len(starts) else n_samples
        if b <= a:
            continue
        arpa = EN_PHONEMES.get(name)
        if arpa is None:
            log.warning("unknown espeak-ng phoneme %r, using AX", name)
            arpa = ("AX",)
        step = (b - a) / len(arpa)
        for k, part in enumerate(arpa):
            phones.append((part, (a + k * step) / sample_rate_hz, (a + (k + 1) * step) / sample_rate_hz))
    return phones


def pronounce(word: str, voice: str = "en-us") -> tuple[str, ...]:
    """ARPAbet phones espeak-ng gives ``word``: its own dictionary, else its letter-to-sound rules.

    Used to guess a pronunciation for a word another dictionary lacks (a name, a made-up word).
    Unknown mnemonics become the schwa; pauses are left out. Empty when espeak-ng says nothing.

    Raises:
        ModelError: libespeak-ng is missing or the voice is unknown.
    """
    engine = _get_engine()
    if engine.lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise ModelError(f"espeak-ng has no voice {voice!r}")
    text = ctypes.create_string_buffer(word.encode("utf-8"))
    cursor = ctypes.c_char_p(ctypes.addressof(text))
    marks: list[str] = []
    # One clause per call; the library moves the cursor on and sets it to NULL after the last.
    while cursor.value:
        out = engine.lib.espeak_TextToPhonemes(ctypes.byref(cursor), _CHARS_UTF8, _PHONEME_SEPARATOR)
        for part in (out or b"").decode("utf-8", "replace").replace(" ", "_").split("_"):
            mark = part.lstrip(_STRESS)
            if mark and mark not in _MODIFIERS and mark != ":":
                marks.append(mark)
    phones: list[str] = []
    for mark in marks:
        arpa = EN_PHONEMES.get(mark)
        if arpa is None:
            log.debug("unknown espeak-ng phoneme %r in %r, using AX", mark, word)
            arpa = ("AX",)
        phones += [p for p in arpa if p != "SIL"]
    return tuple(phones)


def synthesize_espeak(text: str, voice: str, speed_wpm: int, pitch: int) -> Utterance:
    """Render ``text`` with an espeak-ng formant voice (e.g. ``en-us+m3``) at 16 kHz with its phones.

    Raises:
        ModelError: libespeak-ng is missing, the voice is unknown, or no audio came out.
    """
    engine = _get_engine()
    if engine.lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise ModelError(f"espeak-ng has no voice {voice!r}")
    engine.lib.espeak_SetParameter(_RATE, speed_wpm, 0)
    engine.lib.espeak_SetParameter(_PITCH, pitch, 0)
    engine.chunks, engine.events = [], []
    data = text.encode("utf-8")
    engine.lib.espeak_Synth(ctypes.c_char_p(data), len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
    engine.lib.espeak_Synchronize()
    if not engine.chunks:
        raise ModelError(f"espeak-ng produced no audio for voice {voice}")
    raw = np.concatenate(engine.chunks).astype(np.float32) / 32768.0
    phones = events_to_phones(engine.events, raw.size, engine.sample_rate_hz)
    samples = resample(raw, engine.sample_rate_hz, SAMPLE_RATE_HZ)
    # Phone times are in seconds; the last one ends where the resampled audio does.
    end_s = samples.size / SAMPLE_RATE_HZ
    phones[-1] = (phones[-1][0], phones[-1][1], end_s)
    return Utterance(samples, SAMPLE_RATE_HZ, phones, voice)
