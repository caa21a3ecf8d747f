"""A phase-inverted channel (L = s, R = -s) cancels in the mean downmix: it is found and flipped back, once,
in files (bake, run, evaluate) and live streams (stdin); normal stereo is mixed as before, bit for bit."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import fftconvolve

from bridge.audio import downmix
from bridge.audio.downmix import STREAM_DECIDE_S, StreamDownmix, detect_cancellation
from bridge.audio.files import FileSource, read_audio
from bridge.audio.stdin import StdinSource
from bridge.cli import main
from tests.conftest import EXAMPLE_WAV, write_wav

CANCEL = "phase-inverted"


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if CANCEL in r.getMessage()]


def _inverted(tmp_path: Path, speech_wav: Path) -> tuple[Path, np.ndarray, int]:
    """A float WAV of the speech on L and its negation on R (exact: float32 negation loses nothing)."""
    s, rate = read_audio(speech_wav)
    return write_wav(tmp_path / "inverted.wav", np.stack([s, -s], axis=1), rate, "FLOAT"), s, rate


def test_an_inverted_file_reads_as_its_voice_with_one_warning(
    tmp_path: Path, speech_wav: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, s, _ = _inverted(tmp_path, speech_wav)
    caplog.set_level(logging.WARNING)
    x, _ = read_audio(path)
    np.testing.assert_array_equal(x, s)  # (L - R) / 2 is the voice at its level, bit for bit
    (warning,) = _warnings(caplog)
    assert str(path) in warning and "channel 1 is phase-inverted against channel 0" in warning
    assert "correlation -1.00" in warning and "--channel N" in warning
    caplog.clear()
    np.testing.assert_array_equal(read_audio(path, channel=1)[0], -s)  # --channel: as it is, no warning
    assert not _warnings(caplog)


def test_an_inverted_file_plays_as_its_voice_with_one_warning_before_playing(
    tmp_path: Path, speech_wav: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, s, _ = _inverted(tmp_path, speech_wav)
    caplog.set_level(logging.WARNING)
    src = FileSource(path, None, 10, realtime=False)
    assert len(_warnings(caplog)) == 1  # decided by the one-pass scan, before the first block
    played = np.concatenate([b.samples for b in src.blocks()])
    np.testing.assert_array_equal(played, s)
    assert len(_warnings(caplog)) == 1
    assert "silent" not in caplog.text


def _rir(seed: int, rate: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.3 * rate)) / rate
    h = rng.standard_normal(t.size) * np.exp(-t / 0.05)
    h[0] += 3.0
    return h / np.abs(h).max()


def _normal_stereo(kind: str, s: np.ndarray, rate: int) -> np.ndarray:
    other = np.roll(s, s.size // 3)[::-1] * 0.8  # another talker at another level
    noise = 0.05 * np.random.default_rng(1).standard_normal(s.size)
    pairs = {
        "L = R": (s, s),
        "two talkers": (s, other),
        "room pair (two impulse responses)": (
            fftconvolve(s, _rir(1, rate))[: s.size],
            fftconvolve(s, _rir(2, rate))[: s.size],
        ),
        "spaced pair, 2 ms apart": (s, np.roll(s, int(0.002 * rate))),
        "wide M/S (side a second talker)": (s + other, s - other),
        "voice and independent noise": (s, noise),
        "one channel silent": (s, np.zeros_like(s)),
        "inverted but quiet (-60 dBFS)": (0.001 * s / np.abs(s).max(), -0.001 * s / np.abs(s).max()),
    }
    left, right = pairs[kind]  # float WAVs and f32le keep values past 1.0: no scaling needed
    return np.stack([left, right], axis=1).astype(np.float32)


NORMAL = ["L = R", "two talkers", "room pair (two impulse responses)", "spaced pair, 2 ms apart",
          "wide M/S (side a second talker)", "voice and independent noise", "one channel silent",
          "inverted but quiet (-60 dBFS)"]  # fmt: skip


@pytest.mark.parametrize("kind", NORMAL, ids=NORMAL)
def test_normal_stereo_is_downmixed_as_before_bit_for_bit(
    tmp_path: Path, speech_wav: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    s, rate = read_audio(speech_wav)
    x = _normal_stereo(kind, s, rate)
    path = write_wav(tmp_path / "stereo.wav", x, rate, "FLOAT")
    caplog.set_level(logging.WARNING)
    before = x.mean(axis=1, dtype=np.float32)  # the plain mean, as to_mono always gave it
    np.testing.assert_array_equal(read_audio(path)[0], before)
    src = FileSource(path, None, 10, realtime=False)
    np.testing.assert_array_equal(np.concatenate([b.samples for b in src.blocks()]), before)
    pcm = io.BytesIO(x.astype("<f4").tobytes())
    streamed = np.concatenate([b.samples for b in StdinSource(rate, 2, "f32le", None, 30, stream=pcm).blocks()])
    np.testing.assert_array_equal(streamed, before)
    assert not _warnings(caplog)


def test_a_gain_mismatched_inversion_with_noise_is_found(speech_wav: Path) -> None:
    # An analogue inversion is rarely exact: R = -0.7 L plus each channel's own hiss.
    s, rate = read_audio(speech_wav)
    rng = np.random.default_rng(3)
    x = np.stack([s + 0.01 * rng.standard_normal(s.size), -0.7 * s + 0.01 * rng.standard_normal(s.size)], axis=1)
    found = detect_cancellation(x, rate)
    assert found is not None and found.flipped == (1,) and found.correlation < -0.95 and found.mix_db < -10


def _silent_samples_of_an_inverted_stdin(speech_wav: Path) -> int:
    """Samples of a phase-inverted stdin before its voice is heard (checked: exactly, from then on)."""
    s, rate = read_audio(speech_wav)
    pcm16 = np.clip(np.round(s * 32768), -32767, 32767).astype("<i2")
    stream = np.concatenate([pcm16] * 3)  # the speech three times over: one decision, one warning
    src = StdinSource(rate, 2, "s16le", None, 30, stream=io.BytesIO(np.stack([stream, -stream], 1).tobytes()))
    blocks = [b.samples for b in src.blocks()]
    heard = np.flatnonzero([np.any(b) for b in blocks])[0]  # the first block mixed with channel 1 flipped
    out = np.concatenate(blocks)
    voice = stream.astype(np.float32) / 32768
    n = sum(b.size for b in blocks[:heard])
    assert not out[:n].any()  # the plain mean, silent, until then
    np.testing.assert_array_equal(out[n:], voice[n:])  # the voice at its level from then on
    return n


def test_stdin_decides_once_on_the_first_loud_second_and_keeps_it(
    speech_wav: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING)
    n = _silent_samples_of_an_inverted_stdin(speech_wav)
    (warning,) = _warnings(caplog)
    assert warning.startswith("stdin: channel 1 is phase-inverted") and "from here on" in warning
    assert f"the first {STREAM_DECIDE_S:.1f} s of sound" in warning
    # Mixed provisionally from half a second of sound, not only from the second the warning waits for.
    monkeypatch.setattr(downmix, "PROVISIONAL_S", STREAM_DECIDE_S)
    n_at_decision = _silent_samples_of_an_inverted_stdin(speech_wav)
    assert n_at_decision - n > 0.3 * read_audio(speech_wav)[1], (n, n_at_decision)


def test_a_stream_that_is_still_undecided_is_the_plain_mean() -> None:
    mix = StreamDownmix(16000, 2, None, "stdin")
    x = np.full((160, 2), 0.5, dtype=np.float32)
    x[:, 1] = -0.5
    assert not mix(x).any() and mix.downmix.flipped == ()  # 10 ms is not enough to judge


@pytest.fixture
def inverted_and_mono(tmp_path: Path, speech_wav: Path) -> tuple[Path, Path]:
    s, rate = read_audio(speech_wav)
    mono = write_wav(tmp_path / "mono.wav", s, rate, "FLOAT")
    return _inverted(tmp_path, speech_wav)[0], mono


def _lines(path: Path, keys: tuple[str, ...]) -> list[tuple[object, ...]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [tuple(json.dumps(line[k]) for k in keys) for line in lines if "seq" in line]  # not the header


def test_bake_and_run_of_an_inverted_file_give_the_mono_file_s_frames(
    tmp_path: Path, inverted_and_mono: tuple[Path, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    inverted, mono = inverted_and_mono
    baked = {}
    for src in (inverted, mono):
        out = tmp_path / f"{src.stem}.jsonl"
        assert main(["bake", str(src), "-o", str(out), "--no-progress"]) == 0
        baked[src] = out.read_text()
    assert baked[inverted] == baked[mono] and baked[mono]
    assert capfd.readouterr().err.count(CANCEL) == 1  # the CLI logs to stderr
    recorded = {}
    for src in (inverted, mono):
        take = tmp_path / f"{src.stem}.take.jsonl"
        assert main(["run", "--input", str(src), "--fast", "--no-zmq", "--no-status", "--record", str(take)]) == 0
        recorded[src] = take
    keys = ("blendshapes", "joints", "voice", "viseme")  # the timing of a run differs between takes
    assert _lines(recorded[inverted], keys) == _lines(recorded[mono], keys)
    assert len(_lines(recorded[mono], keys)) > 100
    assert capfd.readouterr().err.count(CANCEL) == 1


def test_evaluate_reads_an_inverted_file_as_its_voice_and_warns_once(
    inverted_and_mono: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    from bridge.evaluation import _audio_duration_s, read_wav

    inverted, mono = inverted_and_mono
    caplog.set_level(logging.WARNING)
    np.testing.assert_array_equal(read_wav(inverted)[0], read_wav(mono)[0])
    assert not _warnings(caplog)  # reading for a prediction stays quiet ...
    assert _audio_duration_s(inverted) == pytest.approx(_audio_duration_s(mono))
    (warning,) = _warnings(caplog)  # ... the clip's check says it once
    assert warning.startswith(f"evaluate: {inverted}: channel 1")


def test_example_speech_is_found_inverted_in_either_channel() -> None:
    s, rate = read_audio(EXAMPLE_WAV)
    found = detect_cancellation(np.stack([-s, s], axis=1), rate)
    assert found is not None and found.flipped == (1,)  # channel 0 keeps its polarity; the voice is -s
