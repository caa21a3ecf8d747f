"""The corpus generator: espeak-ng/MBROLA audio with phone timing that matches it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import numpy as np
import pytest

from bridge.corpus.espeak import espeak_library_available, events_to_phones, synthesize_espeak
from bridge.corpus.festival import MRPA, festival_available, parse_segs, synthesize_festival, to_arpabet
from bridge.corpus.festival import VOICES as FESTIVAL_VOICES
from bridge.corpus.flite import VOICES as FLITE_VOICES
from bridge.corpus.flite import flite_available, parse_segments, synthesize_flite
from bridge.corpus.mbrola import (
    PHO_REWRITE,
    US_SAMPA,
    VOICES,
    Utterance,
    espeak_available,
    parse_pho,
    rewrite_pho,
    synthesize,
    voice_available,
)
from bridge.corpus.native import PUNCTUATION, SENTENCES, make_native_sentences, words
from bridge.corpus.rhvoice import VOICES as RHVOICE_VOICES
from bridge.corpus.rhvoice import mark_schwas, rhvoice_available, synthesize_rhvoice, tile
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


def render_normal_and_slow(
    synth: Callable[..., Utterance], text: str, voice: str, f0_shift: float
) -> tuple[Utterance, Utterance]:
    """A voice's rendering of ``text`` at its own rate and pitch, and 1.4x slower at ``f0_shift``."""
    utt = synth(text, voice, duration_stretch=1.0, f0_shift=1.0)
    assert_phones_tile_the_audio(utt)
    # voiceless stop closures are much quieter than vowels: the timing matches the audio
    assert rms_of(utt, "P") < 0.5 * rms_of(utt, "AA")
    slower = synth(text, voice, duration_stretch=1.4, f0_shift=f0_shift)
    assert slower.samples.size > 1.25 * utt.samples.size
    return utt, slower


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



def test_rewrite_pho_replaces_symbols_and_keeps_timing() -> None:
    pho = "; e/ stays in a comment\n_ 50\ne/ 70 0 120\nm 60\n"
    assert rewrite_pho(pho, {"e/": "e"}) == "; e/ stays in a comment\n_ 50\ne 70 0 120\nm 60\n"


@pytest.mark.parametrize("voice", sorted(PHO_REWRITE))
def test_every_vowel_of_es1_and_it3_is_audible(voice: str) -> None:
    # espeak-ng asks these databases for unstressed vowels they lack; unrewritten, those were silence.
    if not voice_available(voice):
        pytest.skip(f"espeak-ng or the MBROLA database of {voice} is not installed")
    text = " ".join(make_native_sentences(4, 1, voice))
    utt = synthesize(text, voice, 160, 50)
    assert_phones_tile_the_audio(utt)
    vowels = {"AA", "AE", "AH", "AO", "AX", "EH", "ER", "IH", "IY", "OH", "UH", "UW"}
    rms = np.array([np.sqrt(np.mean(utt.samples[int(a * 16000) : int(b * 16000)] ** 2))
                    for n, a, b in utt.phones if n in vowels])  # fmt: skip
    assert rms.size > 40
    assert rms.min() > 0.1 * np.median(rms)
    np.testing.assert_array_equal(synthesize(text, voice, 160, 50).samples, utt.samples)

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


def test_delayed_targets_keep_their_length_and_repeat_the_first_row() -> None:
    from bridge.training.dataset import delay_rows

    rows = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.testing.assert_array_equal(delay_rows(rows, 0), rows)
    np.testing.assert_array_equal(delay_rows(rows, 2), [[0, 1], [0, 1], [0, 1], [2, 3], [4, 5], [6, 7]])
    from bridge.errors import ConfigError
    from bridge.training.config import TrainConfig

    with pytest.raises(ConfigError, match="multiple of 10"):
        TrainConfig(target_delay_ms=25)


def test_flite_segments_parse_to_arpabet_end_times() -> None:
    assert parse_segments("pau:0.220 dh:0.254 ax:0.304 b:0.716\n") == [
        ("SIL", 0.22), ("DH", 0.254), ("AX", 0.304), ("B", 0.716)
    ]  # fmt: skip
    assert parse_segments("warning text pau:0.1") == [("SIL", 0.1)]


@pytest.mark.skipif(not flite_available(), reason="flite is not installed (scripts/setup.sh --dev)")
@pytest.mark.parametrize("voice", sorted(FLITE_VOICES))
def test_flite_phones_tile_the_audio_and_closures_are_quiet(voice: str) -> None:
    text = "Bob may map a pump. Pat caught a pot of hot tea. " + make_sentences(1, 0, load_words())[0]
    utt, slower = render_normal_and_slow(synthesize_flite, text, voice, f0_shift=1.2)
    assert [p[0] for p in slower.phones] == [p[0] for p in utt.phones]


def test_festival_segments_parse_and_map_to_arpabet() -> None:
    segs = "#\n0.2400 100 #\n0.2803 100 dh\n0.3294 100 @\n0.5000 100 e@\n"
    assert parse_segs(segs) == [("#", 0.24), ("dh", 0.2803), ("@", 0.3294), ("e@", 0.5)]
    assert to_arpabet("e@", mrpa=True) == ("EH", "AX")
    assert to_arpabet("pau", mrpa=False) == ("SIL",)
    assert to_arpabet("ay", mrpa=False) == ("AY",)
    with pytest.raises(ModelError, match="'x'"):
        to_arpabet("x", mrpa=True)
    for parts in MRPA.values():
        for p in parts:
            normalize_phone(p)


def pitch_hz(utt: Utterance) -> float:
    """Median autocorrelation pitch of the loud 40 ms windows."""
    x, found = utt.samples, []
    for i in range(0, x.size - 640, 800):
        seg = x[i : i + 640]
        if np.sqrt(np.mean(seg**2)) > 0.03:
            ac = np.correlate(seg, seg, "full")[639:]
            found.append(16000 / (40 + np.argmax(ac[40:228])))
    return float(np.median(found))


@pytest.mark.parametrize("voice", sorted(FESTIVAL_VOICES))
def test_festival_phones_tile_the_audio_and_closures_are_quiet(voice: str) -> None:
    if not festival_available(voice):
        pytest.skip(f"festival or {FESTIVAL_VOICES[voice].package} is not installed (scripts/setup.sh --dev)")
    text = "Bob may map a pump. The car is far from here. " + make_sentences(1, 0, load_words())[0]
    utt, slower = render_normal_and_slow(synthesize_festival, text, voice, f0_shift=1.3)
    assert [p[0] for p in slower.phones] == [p[0] for p in utt.phones]
    if not FESTIVAL_VOICES[voice].hts:
        assert pitch_hz(slower) > 1.15 * pitch_hz(utt)
    if FESTIVAL_VOICES[voice].mrpa:  # "here": the centring diphthong i@ is two phones
        names = [p[0] for p in utt.phones]
        assert any(names[i : i + 3] == ["HH", "IH", "AX"] for i in range(len(names)))


def test_aligned_phones_are_tiled_with_silence() -> None:
    phones = [("B", 0.10, 0.20), ("AA", 0.20, 0.35), ("SIL", 0.35, 0.40), ("SIL", 0.45, 0.50), ("T", 0.50, 0.70)]
    assert tile(phones, 0.60) == [
        ("SIL", 0.0, 0.10), ("B", 0.10, 0.20), ("AA", 0.20, 0.35), ("SIL", 0.35, 0.50), ("T", 0.50, 0.60)
    ]  # fmt: skip
    assert tile([], 0.3) == [("SIL", 0.0, 0.3)]


def test_schwas_are_taken_from_the_lexicon() -> None:
    # "a cut above": the aligner says AH three times; the lexicon knows which two are schwas.
    aligned = [("SIL", 0.0, 0.1), ("AH", 0.1, 0.15), ("K", 0.15, 0.2), ("AH", 0.2, 0.3), ("T", 0.3, 0.35),
               ("AH", 0.35, 0.4), ("B", 0.4, 0.45), ("AH", 0.45, 0.55), ("V", 0.55, 0.6)]  # fmt: skip
    lexicon = ["AX", "K", "AH", "T", "AX", "B", "AH", "V"]
    names = [p[0] for p in mark_schwas(aligned, lexicon)]
    assert names == ["SIL", "AX", "K", "AH", "T", "AX", "B", "AH", "V"]
    assert [p[1:] for p in mark_schwas(aligned, lexicon)] == [p[1:] for p in aligned]


@pytest.mark.parametrize("voice", sorted(RHVOICE_VOICES))
def test_rhvoice_is_aligned_to_its_text_and_closures_are_quiet(voice: str) -> None:
    if not rhvoice_available(voice):
        pytest.skip("RHVoice or its English voices are not installed (scripts/setup.sh --dev)")
    text = "Bob may map a pump. Pat caught a pot of hot tea. " + make_sentences(1, 0, load_words())[0]
    utt, slower = render_normal_and_slow(synthesize_rhvoice, text, voice, f0_shift=1.3)
    # The aligner found the words' phones, in order: "bob may map a pump" opens the text.
    assert [p[0] for p in utt.phones if p[0] != "SIL"][:10] == ["B", "AA", "B", "M", "EY", "M", "AE", "P", "AX", "P"]
    assert pitch_hz(slower) > 1.15 * pitch_hz(utt)


def test_missing_synthesizers_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.corpus import festival, flite, mbrola, require_voices, rhvoice

    monkeypatch.setattr(mbrola, "espeak_available", lambda: True)
    monkeypatch.setattr(mbrola, "voice_available", lambda v: v != "mb-de2")
    monkeypatch.setattr(flite, "flite_available", lambda: False)
    monkeypatch.setattr(festival, "festival_available", lambda v: v != "fe-rab")
    monkeypatch.setattr(rhvoice, "rhvoice_available", lambda v: v != "rh-clb")
    require_voices(("mb-us1", "fe-ked", "rh-alan"))
    with pytest.raises(ModelError, match="MBROLA voices mb-de2"):
        require_voices(("mb-us1", "mb-de2"))
    with pytest.raises(ModelError, match="flite for the voices fl-slt"):
        require_voices(("mb-us1", "fl-slt"))
    with pytest.raises(ModelError, match="festvox-rablpc16k for fe-rab"):
        require_voices(("fe-ked", "fe-rab"))
    with pytest.raises(ModelError, match="rhvoice-english for rh-clb"):
        require_voices(("rh-alan", "rh-clb"))
    monkeypatch.setattr(mbrola, "espeak_available", lambda: False)
    with pytest.raises(ModelError, match="espeak-ng and the MBROLA voices"):
        require_voices(("mb-us1",))


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
