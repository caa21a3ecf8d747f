"""Transcript normalization, pocketsphinx forced alignment, blending, and the progress bar."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.corpus.espeak import espeak_library_available, synthesize_espeak
from bridge.frames import ModelOutput
from bridge.offline import align as align_module
from bridge.offline import guided
from bridge.offline.align import align, guess_pronunciation, interjection, speech_coverage, to_pcm16, unstretched
from bridge.offline.progress import ProgressBar
from bridge.offline.take import Phone
from bridge.offline.transcript import normalize_text, number_words, unreadable_parts, unspoken_parts, year_words
from tests.conftest import DEV_DATA, run_in_a_new_process

GRID = DEV_DATA / "grid"
P225_001 = DEV_DATA / "speech" / "p225_001_mic1.wav"  # "Please call Stella."
needs_espeak = pytest.mark.skipif(not espeak_library_available(), reason="libespeak-ng is not installed")
needs_grid = pytest.mark.skipif(not GRID.is_dir(), reason=f"GRID dev clips not found at {GRID}")
needs_vctk = pytest.mark.skipif(not P225_001.exists(), reason=f"VCTK dev clip not found at {P225_001}")
# The phones of pocketsphinx's en-us model.
SPHINX_PHONES = set(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH".split()
)


def _timed(phones: tuple[Phone, ...]) -> list[tuple[str, float, float]]:
    return [(p.name, p.start_s, p.end_s) for p in phones]


@pytest.mark.parametrize(
    ("n", "words"),
    [(0, "zero"), (7, "seven"), (42, "forty two"), (100, "one hundred"),
     (1999, "one thousand nine hundred ninety nine"), (2_000_005, "two million five")],
)  # fmt: skip
def test_number_words(n: int, words: str) -> None:
    assert " ".join(number_words(n)) == words


def test_normalize_text() -> None:
    assert normalize_text("Bin BLUE at F2, now!  It\u2019s 10:30.") == [
        "bin", "blue", "at", "f", "two", "now", "it's", "ten", "thirty",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "words"),
    [("Caf\u00e9 na\u00efve, Jos\u00e9!", "cafe naive jose"),
     ("the 2nd door, the 21st floor, 3rd 11th 12th 20th 100th",
      "the second door the twenty first floor third eleventh twelfth twentieth one hundredth"),
     ("50% of 3.5 m", "fifty percent of three point five m"),
     ("1,000,000 and 12,34", "one million and twelve thirty four")],
)  # fmt: skip
def test_normalize_text_spells_what_dialogue_writes(text: str, words: str) -> None:
    """Game dialogue has names with accents, ordinals, decimals and percentages: none may be lost."""
    assert " ".join(normalize_text(text)) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [("$5.50", "five dollars fifty cents"), ("$1 or $0.01", "one dollar or one cent"),
     ("\u00a33.20 and \u20ac3", "three pounds twenty pence and three euros"),
     ("$2.5 million, $3.5", "two point five million dollars three point five dollars"),
     ("in 1990, in 2024", "in nineteen ninety in twenty twenty four"),
     ("1905 1900 2000 2007 1066 2100", "nineteen oh five nineteen hundred two thousand two thousand seven "
      "one thousand sixty six two thousand one hundred"),
     ("1,990 gold", "one thousand nine hundred ninety gold"),
     ("the 1990s, the '80s, two 6s, 100s", "the nineteen nineties the eighties two sixes hundreds"),
     ("\u00bd \u00bc \u00be, 2\u00bd cups, 1 \u00bc", "one half one quarter three quarters two and a half cups "
      "one and a quarter"),
     ("-5 and \u22123.5, it's -20", "minus five and minus three point five it's minus twenty"),
     ("5-10, 5 \u2013 10, 1990-1995", "five to ten five to ten nineteen ninety to nineteen ninety five"),
     ("F-16, well-known", "f sixteen well known"),
     ("Tom & Jerry, me@home, +5 strength, #1 fan", "tom and jerry me at home plus five strength number one fan"),
     ("Bj\u00f8rn, \u00c6thelred, Stra\u00dfe", "bjorn aethelred strasse")],
    ids=["dollars and cents", "singular", "pounds and euros", "money with a scale or odd decimals", "years",
         "year rule edges", "comma means a count", "plurals", "vulgar fractions", "minus signs", "ranges",
         "hyphens between words", "symbols", "letters NFKD keeps"],
)  # fmt: skip
def test_normalize_text_reads_money_years_fractions_signs_and_symbols(text: str, words: str) -> None:
    assert " ".join(normalize_text(text)) == words


@pytest.mark.parametrize(
    ("text", "words", "unspoken"),
    [("[laughs] You again? (beat) Fine.", "you again fine", ["[laughs]", "(beat)"]),
     ("<b>Run!</b> <break time='1s'/> Now, {playerName}!", "run now", ["<b>", "</b>", "<break time='1s'/>",
                                                                       "{playerName}"]),
     ("Take {{count}} coins, %PLAYER_NAME%.", "take coins", ["{{count}}", "%PLAYER_NAME%"]),
     ("&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;", "tom and jerry", ["<b>", "</b>"]),
     ("2 * 3 is 6, a < b, 50% and 60%", "two three is six a b fifty percent and sixty percent", []),
     ("a < b and c > d, <!-- note --> done", "a b and c d done", ["<!-- note -->"]),
     ("You have %d coins, %s! %1$s at %.2f%% %(name)s 50% done", "you have coins at fifty percent done",
      ["%d", "%s", "%1$s", "%.2f", "%(name)s"]),
     ("Hi $name, ${player} owes $5", "hi owes five dollars", ["$name", "${player}"])],
    ids=["stage directions", "markup and placeholders", "doubled braces and percent placeholders",
         "HTML entities decoded first", "lone symbols stay punctuation", "comparisons are not tags",
         "printf placeholders", "shell placeholders but not money"],
)  # fmt: skip
def test_stage_directions_markup_and_placeholders_are_not_aligned(text: str, words: str, unspoken: list[str]) -> None:
    """Game scripts carry directions for the actor; aligning them as words would misplace every phone."""
    assert " ".join(normalize_text(text)) == words
    assert unspoken_parts(text) == unspoken


@pytest.mark.parametrize(
    ("text", "words"),
    [("That's *not* what I said.", "that's not what i said"), ("**Run!**", "run"), ("a * b * c", "a b c"),
     ("*sighs* Fine.", "sighs fine")],
    ids=["emphasis", "markdown bold", "spaced asterisks", "asterisk direction"],
)  # fmt: skip
def test_asterisks_are_punctuation_not_stage_directions(text: str, words: str) -> None:
    """Scripts mark emphasis with asterisks: "not" was dropped, and the mouth stayed shut while it was said."""
    assert " ".join(normalize_text(text)) == words
    assert unspoken_parts(text) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [("don\u02bct, Xal\u2018thar, it`s, Ny\u2019lessa", "don't xal'thar it's ny'lessa"),
     ("\u2018Quoted\u2019 `words`", "quoted words"),
     ("5\u201410, 5 \u2014 10, 5 - 10", "five to ten five to ten five to ten"),
     ("-$5, \u2212\u00a33.50, -5\u20ac", "minus five dollars minus three pounds fifty pence minus five euros"),
     ("5\u20ac, 5 \u20ac, 2.50\u20ac, 3$", "five euros five euros two euros fifty cents three dollars"),
     ("$5k, $5M, \u00a32bn, $1.5B, \u20ac3mn", "five thousand dollars five million dollars two billion pounds "
      "one point five billion dollars three million euros"),
     ("5k, 2.5k, 3bn, a 5K run, 5kg, 5m", "five thousand two point five thousand three billion a five k run five kg "
      "five m"),
     ("3:00, 12:00, 15:00, 10:05, 10:30, 99:99", "three o'clock twelve o'clock fifteen hundred ten oh five ten thirty "
      "ninety nine ninety nine"),
     ("Call 1-800-555-0199, 5-10", "call one eight oh oh five five five oh one nine nine five to ten"),
     ("a 50-50 chance, 1-1, 2-3", "a fifty fifty chance one one two to three"),
     ("On 2024-03-15, by 1999-12-01; 2024-13-01", "on march fifteenth twenty twenty four by december first "
      "nineteen ninety nine twenty twenty four to thirteen to one"),
     ("$.50, \u00a3.05", "fifty cents five pence")],
    ids=["apostrophe variants", "quotes around words", "em dash and spaced hyphen ranges", "minus before money",
         "amount before the sign", "money scales", "number scales", "clock times", "phone numbers",
         "the same number twice is no range", "ISO dates", "cents alone"],
)  # fmt: skip
def test_normalize_text_reads_apostrophes_ranges_money_scales_and_times(text: str, words: str) -> None:
    assert " ".join(normalize_text(text)) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [("Dr. Jones, Dr Jones, DR. JONES", "doctor jones doctor jones doctor jones"),
     ("Elm Dr, the dr", "elm dr the dr"),
     ("Red vs. Blue, us vs them", "red versus blue us versus them"),
     ("e.g. this, i.e. that, approx. 5", "for example this that is that approximately five"),
     ("Mr. Smith, Mrs. Smith, Ms. Smith, etc.", "mr smith mrs smith ms smith etc"),
     ("St. Louis", "st louis")],
    ids=["Dr as a title", "dr otherwise", "versus", "Latin and approx", "in the dictionary already", "St left alone"],
)  # fmt: skip
def test_abbreviations_read_as_said(text: str, words: str) -> None:
    assert " ".join(normalize_text(text)) == words


def test_the_dictionary_reads_the_abbreviations_left_to_it() -> None:
    """Mr, Mrs, Ms and etc need no table: the CMU dictionary says mister, missus, miz and et cetera (and
    "o'clock" is in it too); "dr" is "drive" and "vs" the letters, hence the table."""
    decoder = align_module._decoder()
    expected = {"mr": "M IH S T ER", "mrs": "M IH S IH Z", "ms": "M IH Z", "etc": "EH T S EH T ER AH",
                "o'clock": "AH K L AA K", "dr": "D R AY V", "vs": "V IY EH S"}  # fmt: skip
    assert {w: decoder.lookup_word(w) for w in expected} == expected


# Russian and Japanese greetings
PRIVET, DRUG = "\u041f\u0440\u0438\u0432\u0435\u0442", "\u0434\u0440\u0443\u0433"
KONNICHIWA = "\u3053\u3093\u306b\u3061\u306f"
GRIN, THUMB, WAVE = "\U0001f600", "\U0001f44d\U0001f3fd", "\U0001f44b"  # emoji, the thumb with a skin tone


def test_what_is_not_english_readable_is_named() -> None:
    text = f"{PRIVET}, Xal'thar {GRIN}! {KONNICHIWA} 100\u00b0C {THUMB}"
    assert normalize_text(text) == ["xal'thar", "one", "hundred", "c"]
    assert unreadable_parts(text) == [PRIVET, GRIN, KONNICHIWA, "\u00b0", THUMB]
    assert unreadable_parts("Well... (beat) Fine, 5 - 10!") == []  # punctuation is dropped without a word


def test_year_words() -> None:
    assert [" ".join(year_words(n)) for n in (1100, 1492, 1999, 2009, 2010, 2099)] == [
        "eleven hundred", "fourteen ninety two", "nineteen ninety nine", "two thousand nine", "twenty ten",
        "twenty ninety nine",
    ]  # fmt: skip


@needs_espeak
def test_words_missing_from_the_dictionary_get_espeak_pronunciations() -> None:
    assert guess_pronunciation("stella") == "S T EH L AH"  # the CMU dictionary's entry
    for word in ("zarnak's", "kh'tar", "eldrath", "npc"):
        phones = guess_pronunciation(word)
        assert phones is not None and set(phones.split()) <= SPHINX_PHONES, (word, phones)
    assert str(guess_pronunciation("zarnak's")).endswith("K S")


@needs_espeak
def test_a_name_missing_from_the_dictionary_is_aligned_where_it_is_said() -> None:
    # espeak-ng says the line, so the true phone times are known; "zarnak" is not in the CMU dictionary.
    said = synthesize_espeak("Tell Zarnak to guard the gate.", "en-us", 150, 50)
    x = np.concatenate([np.zeros(8000, np.float32), said.samples, np.zeros(8000, np.float32)])
    truth = [(p, a + 0.5) for p, a, _ in said.phones if p != "SIL"]
    result = align(x, said.sample_rate_hz, "Tell Zarnak to guard the gate.")
    assert result.words == ("tell", "zarnak", "to", "guard", "the", "gate")
    assert any("'zarnak'" in w and "guessed" in w for w in result.warnings)
    speech = [p for p in result.phones if p.name != "SIL"]
    names = [p.name for p in speech]
    z, t = names.index("Z"), names.index("T", names.index("K"))
    assert names[z : z + 6] == ["Z", "AA", "R", "N", "AE", "K"]
    # Left out (as before the guess), "tell"'s /l/ ran on to "to" and the name had no phones at all.
    true_z = next(a for p, a in truth if p == "Z")
    true_t = [a for p, a in truth if p == "T"][1]
    assert abs(speech[z].start_s - true_z) < 0.03 and abs(speech[t].start_s - true_t) < 0.03


@needs_espeak
@pytest.mark.skipif(not P225_001.exists(), reason=f"VCTK dev clip not found at {P225_001}")
def test_a_misspelt_name_aligns_like_the_dictionary_word_on_real_speech() -> None:
    x, rate = sf.read(str(P225_001), dtype="float32")
    right = align(x, rate, "Please call Stella.")
    guessed = align(x, rate, "Please call Stellah.")  # a game script's spelling; not in the dictionary
    assert right.warnings == () and right.words[-1] == "stella"
    assert guessed.words[-1] == "stellah" and "guessed" in guessed.warnings[0]
    assert _timed(guessed.phones) == _timed(right.phones)


def _espeak_line() -> tuple[np.ndarray, int, str]:
    said = synthesize_espeak("Tell Zarnak to guard the gate.", "en-us", 150, 50)
    silence = np.zeros(said.sample_rate_hz // 2, np.float32)
    return np.concatenate([silence, said.samples, silence]), said.sample_rate_hz, "Tell Zarnak to guard the gate."


def _grid_line(name: str, text: str) -> tuple[np.ndarray, int, str]:
    x, rate = sf.read(str(GRID / f"{name}.wav"), dtype="float32")
    return x, rate, text


@pytest.mark.parametrize(
    ("clip", "text", "before"),
    [pytest.param(GRID / "bbaf2n.wav", "Bin blue at F two now.",
                  lambda: _grid_line("lrwp9a", "lay red with p nine again"), marks=needs_grid),
     pytest.param(P225_001, "Please call Stella.", _espeak_line, marks=[needs_espeak, needs_vctk])],
    ids=["GRID after GRID", "VCTK after espeak-ng"],
)  # fmt: skip
def test_a_clip_aligns_the_same_whatever_the_process_aligned_before(
    clip: Path, text: str, before: Callable[[], tuple[np.ndarray, int, str]]
) -> None:
    """`bake -j N` gives the same output for any N, so a file's phones cannot depend on the files its
    process aligned first. pocketsphinx keeps its noise statistics from one utterance to the next: after
    the espeak-ng line, p225_001's first phone (P at 0.00 s) became silence until 0.26 s."""
    code = (
        "import json, soundfile as sf\n"
        "from bridge.offline.align import align\n"
        f"x, rate = sf.read({str(clip)!r}, dtype='float32')\n"
        f"print(json.dumps([(p.name, p.start_s, p.end_s) for p in align(x, rate, {text!r}).phones]))\n"
    )
    first = [tuple(p) for p in json.loads(run_in_a_new_process(code))]
    x, rate = sf.read(str(clip), dtype="float32")
    align(*before())
    assert _timed(align(x, rate, text).phones) == first
    assert _timed(align(x, rate, text).phones) == first  # after itself too


@needs_espeak
def test_a_lone_roman_numeral_is_not_read_roman() -> None:
    """espeak-ng says "roman three" for "iii"; nobody says "roman"."""
    assert guess_pronunciation("iii") == "TH R IY"
    assert guess_pronunciation("viii") == "EY T"


def test_interjections_have_built_in_pronunciations(monkeypatch: pytest.MonkeyPatch) -> None:
    """espeak-ng spells these out letter by letter ("pfft" P IY EH F EH F T IY)."""
    assert [interjection(w) for w in ("pfft", "shhhh", "hmmmm", "mmm", "hmph", "grrr", "zzz", "tsk", "psst",
                                      "ughhh", "brrr", "zarnak")] == [
        "P F T", "SH", "HH M", "M", "HH M F", "G ER", "Z", "T S K", "P S T", "AH G", "B ER", None]  # fmt: skip
    guessed: list[str] = []
    monkeypatch.setattr(align_module, "guess_pronunciation", lambda word: guessed.append(word))
    noise = np.random.default_rng(1).normal(0.0, 0.05, 1600).astype(np.float32)
    result = align(noise, 16000, "Pfft. Shhhh! Mmm, hmph. Grrr... zzz")
    assert result.words == ("pfft", "shhhh", "mmm", "hmph", "grrr", "zzz")
    assert guessed == [] and not any("dictionary" in w for w in result.warnings)


def test_stretched_words_align_as_the_word_they_stretch(monkeypatch: pytest.MonkeyPatch) -> None:
    """espeak-ng guessed "nooo" and "pleeease" from their spelling; the speaker says "no" and "please"."""
    decoder = align_module._decoder()
    assert [unstretched(decoder, w) for w in ("nooo", "pleeease", "yesss", "wooow", "hello", "zarnaaak")] == [
        "N OW", "P L IY Z", "Y EH S", "W AW", None, None]  # fmt: skip
    guessed: list[str] = []
    monkeypatch.setattr(align_module, "guess_pronunciation", lambda word: guessed.append(word))
    noise = np.random.default_rng(1).normal(0.0, 0.05, 1600).astype(np.float32)
    result = align(noise, 16000, "Nooo! Pleeease, stoppp.")
    assert result.words == ("nooo", "pleeease", "stoppp")
    assert guessed == [] and not any("dictionary" in w for w in result.warnings)


def test_a_repeated_unknown_word_is_warned_about_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long script named one character 25 times: 25 identical lines."""
    monkeypatch.setattr(align_module, "guess_pronunciation", lambda word: None)
    noise = np.random.default_rng(1).normal(0.0, 0.05, 1600).astype(np.float32)
    result = align(noise, 16000, "Qxvvbbz! Qxvvbbz, come here. qxvvbbz? Zzqqxv.")
    assert [w.split()[2] for w in result.warnings if "left out" in w] == ["'qxvvbbz'", "'zzqqxv'"]
    assert result.words == ("come", "here")


def test_words_in_other_scripts_and_emoji_are_warned_about(monkeypatch: pytest.MonkeyPatch) -> None:
    noise = np.random.default_rng(1).normal(0.0, 0.05, 1600).astype(np.float32)
    mixed = align(noise, 16000, f"{PRIVET} {GRIN}, my friend {GRIN}")
    assert mixed.words == ("my", "friend")
    assert mixed.warnings[0] == f"transcript: {PRIVET}, {GRIN} left out as not English-readable"
    nothing = align(noise, 16000, f"{PRIVET}, {DRUG}! {WAVE}")
    assert nothing.warnings == (
        f"transcript: {PRIVET}, {DRUG}, {WAVE} left out as not English-readable",
        "transcript has no English-readable words; using the acoustic model alone",
    )


def test_without_espeak_a_word_missing_from_the_dictionary_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(align_module, "guess_pronunciation", lambda word: None)
    noise = np.random.default_rng(1).normal(0.0, 0.05, 1600).astype(np.float32)
    result = align(noise, 16000, "qxvvbbz")
    assert result.words == () and "espeak-ng could not guess it; left out" in result.warnings[0]


@pytest.mark.skipif(not GRID.is_dir(), reason=f"GRID dev clips not found at {GRID}")
def test_a_word_the_speaker_did_not_say_is_squeezed_in_not_a_failure() -> None:
    x, rate = sf.read(str(GRID / "bbaf2n.wav"), dtype="float32")
    right = [p for p in align(x, rate, "Bin blue at F two now.").phones if p.name != "SIL"]
    # With the default beams pocketsphinx cannot fit an unsaid last word and the line lost its phones.
    extra = align(x, rate, "Bin blue at F two now, please.")
    assert any("wider search" in w for w in extra.warnings)
    speech = [p for p in extra.phones if p.name != "SIL"]
    assert [p.name for p in speech] == [p.name for p in right] + ["P", "L", "IY", "Z"]
    assert max(abs(a.start_s - b.start_s) for a, b in zip(right, speech, strict=False)) <= 0.03


@pytest.mark.skipif(not GRID.is_dir(), reason=f"GRID dev clips not found at {GRID}")
def test_alignment_times_the_words_of_a_grid_clip() -> None:
    x, rate = sf.read(str(GRID / "bbaf2n.wav"), dtype="float32")
    result = align(x, rate, "Bin blue at F two now.")
    assert result.words == ("bin", "blue", "at", "f", "two", "now") and result.warnings == ()
    speech = [p for p in result.phones if p.name != "SIL"]
    assert [p.name for p in speech] == ["B", "IH", "N", "B", "L", "UW", "AE", "T", "EH", "F", "T", "UW", "N", "AW"]
    starts = [p.start_s for p in result.phones]
    assert starts == sorted(starts) and result.phones[0].start_s == 0.0
    assert all(p.end_s > p.start_s for p in result.phones)
    # Speech starts after about 0.9 s of silence in this clip and ends before 2.2 s.
    assert 0.8 < speech[0].start_s < 1.0 and 2.0 < speech[-1].end_s < 2.2
    # The same audio at another sample rate aligns to the same times.
    from scipy.signal import resample_poly

    y = resample_poly(x, 3, 1).astype(np.float32)
    again = [p for p in align(y, 48000, "bin blue at f two now").phones if p.name != "SIL"]
    assert [p.name for p in again] == [p.name for p in speech]
    assert max(abs(a.start_s - b.start_s) for a, b in zip(again, speech, strict=True)) <= 0.03


def test_pcm_for_pocketsphinx_keeps_the_input_and_its_memory_bounded() -> None:
    t = np.arange(48000 * 300) / 48000
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    before = x.copy()
    tracemalloc.start()
    try:
        pcm = np.frombuffer(to_pcm16(x, 48000), dtype="<i2")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.array_equal(x, before)
    assert abs(pcm.size - 16000 * 300) <= 1
    assert pcm[5000:].max() == pytest.approx(0.5 * 32767, rel=0.01)
    # Five minutes at 48 kHz are 57.6 MB of float32; resample_poly in float64 peaked at 154 MB.
    assert peak < x.nbytes, f"peak {peak / 1e6:.1f} MB"
    loud = np.array([2.0, -2.0, 0.25], dtype=np.float32)
    assert np.frombuffer(to_pcm16(loud, 16000), dtype="<i2").tolist() == [32767, -32767, 8191]
    assert loud.tolist() == [2.0, -2.0, 0.25]  # at 16 kHz too, the caller's samples stay


def test_speech_coverage_counts_voiced_frames_on_aligned_phones() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(48000) / 16000
    voiced = (0.3 * np.sin(2 * np.pi * 150 * t) * (1 + 0.5 * np.sin(2 * np.pi * 600 * t))).astype(np.float32)
    x = np.concatenate([np.zeros(16000, np.float32), voiced, np.zeros(16000, np.float32)])
    x += (1e-4 * rng.standard_normal(x.size)).astype(np.float32)
    whole = speech_coverage((Phone("AA", 1.0, 4.0),), x, 16000)
    first_third = speech_coverage((Phone("SIL", 0.0, 1.0), Phone("AA", 1.0, 2.0)), x, 16000)
    assert whole is not None and whole > 0.95
    assert first_third is not None and 0.25 < first_third < 0.45
    assert speech_coverage((Phone("AA", 1.0, 4.0),), np.zeros(32000, np.float32), 16000) is None
    # Same answer at 48 kHz: the check resamples to webrtcvad's rate.
    from bridge.audio.resample import resample

    again = speech_coverage((Phone("AA", 1.0, 4.0),), resample(x, 16000, 48000), 48000)
    assert again is not None and abs(again - whole) < 0.05


def test_alignment_failure_is_a_warning_not_an_error() -> None:
    noise = np.random.default_rng(0).normal(0.0, 0.05, 1600).astype(np.float32)
    result = align(noise, 16000, "this sentence is far too long for a tenth of a second of noise")
    assert result.phones == () and any("acoustic model alone" in w for w in result.warnings)
    unknown = align(noise, 16000, "qqzzx vvbbq")
    assert unknown.phones == () and len(unknown.warnings) == 3


def _output(n: int, value: float, viseme: int) -> ModelOutput:
    vis = np.zeros((n, 15), np.float32)
    vis[:, viseme] = 1.0
    return ModelOutput(0, np.full((n, 12), value, np.float32), np.full((n, 7), value, np.float32), vis,
                       np.full(n, value, np.float32))  # fmt: skip


def test_blend_weights_rows_and_keeps_the_acoustic_length() -> None:
    acoustic, phones = _output(10, 0.0, 0), _output(6, 1.0, 10)
    mixed = guided.blend(acoustic, phones, 0.7)
    assert mixed.n_frames == 10
    np.testing.assert_allclose(mixed.controls[:6], 0.7, atol=1e-6)
    np.testing.assert_allclose(mixed.controls[6:], 0.0)
    np.testing.assert_allclose(mixed.visemes.sum(axis=1), 1.0, atol=1e-6)
    assert mixed.visemes[0, 10] == pytest.approx(0.7) and mixed.visemes[9, 0] == 1.0


def test_progress_bar_draws_counts_failures_and_finishes() -> None:
    out = io.StringIO()
    bar = ProgressBar(4, out, enabled=True)
    bar.advance()
    bar.advance(failed=True)
    assert "2/4" in bar.line() and "1 failed" in bar.line() and "left" in bar.line()
    with bar.suspended():
        pass
    bar.advance()
    bar.advance()
    bar.finish()
    text = out.getvalue()
    assert text.endswith("\n") and "[" + "#" * 28 + "] 4/4" in text
    quiet = io.StringIO()
    ProgressBar(3, quiet, enabled=False).advance()
    assert quiet.getvalue() == ""
