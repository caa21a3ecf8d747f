"""Transcript normalization, pocketsphinx forced alignment, blending, and the progress bar."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from bridge.frames import ModelOutput
from bridge.offline import guided
from bridge.offline.align import align, normalize_text, number_words, speech_coverage, to_pcm16
from bridge.offline.progress import ProgressBar
from bridge.offline.take import Phone
from tests.conftest import DEV_DATA

GRID = DEV_DATA / "grid"


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
