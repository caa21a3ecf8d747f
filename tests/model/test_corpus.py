"""The corpus generator: espeak-ng/MBROLA audio with phone timing that matches it."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from bridge.corpus.espeak import espeak_library_available, events_to_phones, synthesize_espeak
from bridge.corpus.flite import VOICES as FLITE_VOICES
from bridge.corpus.flite import flite_available, parse_segments, synthesize_flite
from bridge.corpus.mbrola import US_SAMPA, VOICES, Utterance, espeak_available, parse_pho, synthesize, voice_available
from bridge.corpus.native import PUNCTUATION, SENTENCES, make_native_sentences, words
from bridge.corpus.texts import load_words, make_sentences
from bridge.errors import ModelError
from bridge.phonetics.table import normalize_phone

needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng with MBROLA us1 is not installed")


def rms_of(utt: Utterance, name: str) -> float:
    """RMS of all the audio labelled with phone ``name``."""
    segs = [utt.samples[int(s * 16000) : int(e * 16000)] for n, s, e in utt.phones if n == name]
    return float(np.sqrt(np.mean(np.concatenate(segs) ** 2)))


def assert_phones_tile_the_audio(utt: Utterance) -> None:
    """16 kHz audio, contiguous phones from the phone table that end where the audio does."""
    assert utt.sample_rate_hz == 16000
    starts = np.array([p[1] for p in utt.phones])
    ends = np.array([p[2] for p in utt.phones])
    np.testing.assert_allclose(starts[1:], ends[:-1], atol=1e-9)
    assert ends[-1] == pytest.approx(utt.samples.size / 16000, abs=1e-6)
    for name, _, _ in utt.phones:
        normalize_phone(name)


def test_parse_pho_maps_sampa_to_arpabet() -> None:
    pho = "; comment\n_ 50\nm 70 0 120\n{ 110 50 130\np_h 80\n_ 40\n"
    assert parse_pho(pho, US_SAMPA) == [("SIL", 0.05), ("M", 0.07), ("AE", 0.11), ("P", 0.08), ("SIL", 0.04)]


@pytest.mark.parametrize("voice", sorted(VOICES))
def test_every_sampa_symbol_is_in_the_phone_table(voice: str) -> None:
    for parts in VOICES[voice].values():
        for p in parts:
            normalize_phone(p)


def test_native_sentences_are_deterministic_and_in_their_language() -> None:
    for voice in SENTENCES:
        assert make_native_sentences(4, 7, voice) == make_native_sentences(4, 7, voice)
        assert make_native_sentences(4, 7, voice) != make_native_sentences(4, 8, voice)
        vocabulary = {w.casefold() for w in words(voice)}
        for sentence in make_native_sentences(4, 7, voice):
            assert {w.strip(PUNCTUATION).casefold() for w in sentence.split()} <= vocabulary


# Each voice reads English (the accented case) and its own language: every sound class of the
# language, plus English th, w, r and diphthongs, which bring out the foreign symbols.
_ENGLISH = "The weather is rather cold, although the wide river flows through a quiet town? Judge my vow, 1985!"
_MULTILINGUAL = {
    "mb-de2": "Fünf fröhliche Frösche hüpfen über zwölf Brücken; ach, ich möchte Pfannkuchen und Käse, Chef!",
    "mb-fr1": "Un brun, un bon vin blanc: huit œufs, deux sœurs, le gnome agneau chante ça au juge. Oui, lui!",
    "mb-es1": "El niño y la llama llevan jamón, queso y chorizo; ¡qué rápido corre el perro por Zaragoza!",
    "mb-it3": "Lo gnomo sceglie gli zaini azzurri e il pizzo giallo; chiedo un caffè con cioccolato, grazie!",
}


@pytest.mark.parametrize("voice", sorted(_MULTILINGUAL))
def test_other_language_maps_cover_what_the_voice_emits(voice: str) -> None:
    if not voice_available(voice):
        pytest.skip(f"espeak-ng or the MBROLA database of {voice} is not installed")
    emitted: set[str] = set()
    for text in (_ENGLISH, _MULTILINGUAL[voice], " ".join(SENTENCES[voice])):
        pho = subprocess.run(["espeak-ng", "-v", voice, "--pho", "-q", text], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
        emitted |= {line.split()[0] for line in pho.splitlines() if len(line.split()) >= 2 and line[0] != ";"}
    assert len(emitted) > 20
    assert emitted <= VOICES[voice].keys(), f"unmapped: {sorted(emitted - VOICES[voice].keys())}"


def test_sentences_are_deterministic() -> None:
    words = ["alpha", "beta", "gamma", "delta"]
    assert make_sentences(3, 7, words) == make_sentences(3, 7, words)
    assert make_sentences(3, 7, words) != make_sentences(3, 8, words)


@needs_espeak
def test_synthesized_phones_tile_the_audio_and_closures_are_quiet() -> None:
    utt = synthesize("Bob may map a pump. " + make_sentences(1, 0, load_words())[0], "mb-us1", 160, 50)
    assert_phones_tile_the_audio(utt)
    # voiceless stop closures are much quieter than vowels: the timing matches the audio
    assert rms_of(utt, "P") < 0.5 * rms_of(utt, "AA")


@needs_espeak
def test_inserted_pauses_keep_phones_on_their_audio() -> None:
    from bridge.training.dataset import frame_targets, insert_pauses

    utt = synthesize("Bob may map a pump. Then he went home. A cat sat.", "mb-us1", 160, 50)
    longer = insert_pauses(utt, np.random.default_rng(0))
    assert longer.samples.size > utt.samples.size + 0.6 * 16000
    for (n0, s0, e0), (n1, s1, _e1) in zip(utt.phones, longer.phones, strict=True):
        assert n0 == n1
        if n0 != "SIL":
            a = utt.samples[int(s0 * 16000) : int(e0 * 16000)]
            b = longer.samples[int(s1 * 16000) : int(s1 * 16000) + a.size]
            np.testing.assert_array_equal(a[: b.size], b)
    targets = frame_targets(longer)
    assert targets.shape == (longer.samples.size // 160, 35)
    assert targets[:20, 19].min() > 0.9  # leading silence: viseme "sil"


def test_flite_segments_parse_to_arpabet_end_times() -> None:
    assert parse_segments("pau:0.220 dh:0.254 ax:0.304 b:0.716\n") == [
        ("SIL", 0.22), ("DH", 0.254), ("AX", 0.304), ("B", 0.716)
    ]  # fmt: skip
    assert parse_segments("warning text pau:0.1") == [("SIL", 0.1)]


@pytest.mark.skipif(not flite_available(), reason="flite is not installed (scripts/setup.sh --dev)")
@pytest.mark.parametrize("voice", sorted(FLITE_VOICES))
def test_flite_phones_tile_the_audio_and_closures_are_quiet(voice: str) -> None:
    text = "Bob may map a pump. Pat caught a pot of hot tea. " + make_sentences(1, 0, load_words())[0]
    utt = synthesize_flite(text, voice, duration_stretch=1.0, f0_shift=1.0)
    assert_phones_tile_the_audio(utt)
    # voiceless stop closures are much quieter than vowels: the timing matches the audio
    assert rms_of(utt, "P") < 0.5 * rms_of(utt, "AA")
    slower = synthesize_flite(text, voice, duration_stretch=1.4, f0_shift=1.2)
    assert slower.samples.size > 1.25 * utt.samples.size
    assert [p[0] for p in slower.phones] == [p[0] for p in utt.phones]


def test_missing_synthesizers_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import bridge.corpus as corpus

    monkeypatch.setattr(corpus, "espeak_available", lambda: True)
    monkeypatch.setattr(corpus, "voice_available", lambda v: v != "mb-de2")
    monkeypatch.setattr(corpus, "flite_available", lambda: False)
    corpus.require_voices(("mb-us1",), (), ())
    with pytest.raises(ModelError, match="MBROLA voices mb-de2"):
        corpus.require_voices(("mb-us1", "mb-de2"), (), ())
    with pytest.raises(ModelError, match="flite for the voices fl-slt"):
        corpus.require_voices(("mb-us1",), ("fl-slt",), ())


def test_espeak_events_become_contiguous_arpabet_phones() -> None:
    events = [("b", 220), ("aI@", 1000), (";", 1500), ("t#", 2000), ("?", 2400)]
    phones = events_to_phones(events, 3000, 1000)
    assert [p[0] for p in phones] == ["SIL", "B", "AY", "AX", "DX", "HH"]
    assert phones[0][1] == 0.0 and phones[-1][2] == 3.0
    np.testing.assert_allclose([p[1] for p in phones[1:]], [p[2] for p in phones[:-1]])
    assert phones[2][1:] == (1.0, 1.5) and phones[3][1:] == (1.5, 2.0)  # the modifier ";" is no phone


@pytest.mark.skipif(not espeak_library_available(), reason="libespeak-ng is not installed")
@pytest.mark.parametrize("voice", ["en-us+m3", "en+f2", "en-us+klatt4"])
def test_espeak_voices_tile_the_audio_and_closures_are_quiet(voice: str) -> None:
    text = "Bob may map a pump. Pat caught a pot of hot tea. " + " ".join(make_sentences(30, 0, load_words()))
    utt = synthesize_espeak(text, voice, speed_wpm=170, pitch=50)
    assert_phones_tile_the_audio(utt)
    # voiceless stop closures are much quieter than vowels: the timing matches the audio
    assert rms_of(utt, "P") < 0.3 * rms_of(utt, "AA")
    assert rms_of(utt, "SIL") < 0.1 * rms_of(utt, "AA")


@pytest.mark.skipif(not espeak_library_available(), reason="libespeak-ng is not installed")
def test_espeak_maps_every_english_phoneme_it_emits(caplog: pytest.LogCaptureFixture) -> None:
    text = " ".join(make_sentences(30, 1, load_words()))
    for voice in ("en-us", "en", "en-gb-scotland", "en-gb-x-rp"):
        synthesize_espeak(text, voice, speed_wpm=175, pitch=50)
    assert "unknown espeak-ng phoneme" not in caplog.text


@pytest.mark.skipif(not espeak_library_available(), reason="libespeak-ng is not installed")
def test_espeak_unknown_voice_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="no voice"):
        synthesize_espeak("hello", "xx-nonexistent", speed_wpm=175, pitch=50)
