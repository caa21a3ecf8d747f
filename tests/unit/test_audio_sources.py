import io
from pathlib import Path

import numpy as np
import pytest

from bridge.audio.capture import RingBuffer
from bridge.audio.files import FileSource, read_audio
from bridge.audio.sources import is_file_input
from bridge.audio.stdin import StdinSource
from bridge.errors import AudioError
from tests.conftest import write_wav


def test_read_stereo_44k_downmixes(tmp_path: Path) -> None:
    x = np.zeros((4410, 2), dtype=np.float32)
    x[:, 0] = 0.5
    path = write_wav(tmp_path / "s.wav", x, 44100, "FLOAT")
    mono, rate = read_audio(path)
    assert rate == 44100 and mono.shape == (4410,)
    np.testing.assert_allclose(mono, 0.25)
    right, _ = read_audio(path, channel=1)
    np.testing.assert_allclose(right, 0.0)


def test_flac_is_read(tmp_path: Path) -> None:
    x = (np.sin(np.arange(8000) / 10) * 0.5).astype(np.float32)
    path = write_wav(tmp_path / "a.flac", x, 8000)
    mono, rate = read_audio(path)
    assert rate == 8000 and np.abs(mono - x).max() < 1e-3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "cannot decode"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt garbage", "cannot decode"),
        (b"\x00" * 1000, "cannot decode"),
    ],
    ids=["zero bytes", "corrupt header", "not audio"],
)
def test_bad_files_raise_audio_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=message):
        read_audio(path)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = write_wav(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="no audio samples"):
        read_audio(empty)
    with pytest.raises(AudioError, match="no such file"):
        read_audio(tmp_path / "missing.wav")
    with pytest.raises(AudioError, match="channel 3"):
        read_audio(write_wav(tmp_path / "m.wav", np.zeros(100, dtype=np.float32), 16000), channel=3)


def test_file_source_blocks_cover_the_file(tmp_path: Path) -> None:
    x = np.arange(16000, dtype=np.float32) / 16000
    src = FileSource(write_wav(tmp_path / "r.wav", x, 16000, "FLOAT"), None, 10, realtime=False)
    blocks = list(src.blocks())
    assert len(blocks) == 100
    np.testing.assert_allclose(np.concatenate([b.samples for b in blocks]), x)
    assert blocks[10].t_stream_s == pytest.approx(0.1)


def test_stdin_s16_stereo_with_partial_tail() -> None:
    pcm = np.array([[1000, -1000]] * 480, dtype="<i2").tobytes() + b"\x01"
    src = StdinSource(48000, 2, "s16le", None, 10, stream=io.BytesIO(pcm))
    blocks = list(src.blocks())
    assert sum(b.samples.size for b in blocks) == 480
    np.testing.assert_allclose(np.concatenate([b.samples for b in blocks]), 0.0)


def test_stdin_empty_is_an_error() -> None:
    with pytest.raises(AudioError, match="no audio"):
        list(StdinSource(16000, 1, "s16le", None, 10, stream=io.BytesIO(b"")).blocks())


def test_ring_buffer_drops_oldest_and_counts() -> None:
    ring = RingBuffer(capacity=100, channels=1)
    ring.write(np.arange(60, dtype=np.float32)[:, None])
    ring.write(np.arange(60, 120, dtype=np.float32)[:, None])
    out, _ = ring.read_available()
    assert ring.dropped == 20
    np.testing.assert_array_equal(out[:, 0], np.arange(20, 120))
    ring.write(np.arange(5, dtype=np.float32)[:, None])
    out, _ = ring.read_available()
    np.testing.assert_array_equal(out[:, 0], np.arange(5))


def test_input_kind_detection() -> None:
    assert is_file_input("speech.wav") and is_file_input("./x") and not is_file_input("-")
    assert not is_file_input("default") and not is_file_input("3") and not is_file_input("USB Mic")
