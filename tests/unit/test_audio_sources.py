import io
import os
import subprocess
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from bridge.audio import ffmpeg
from bridge.audio.capture import RingBuffer
from bridge.audio.files import FileSource, read_audio
from bridge.audio.sources import is_file_input
from bridge.audio.stdin import StdinSource
from bridge.errors import AudioError
from tests.conftest import EXAMPLE_WAV, write_wav


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
        (b"", "the file is empty"),
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


@pytest.mark.parametrize("rate_hz", [1, 7, 2**31 - 1])
def test_a_damaged_header_rate_is_one_clear_error(tmp_path: Path, rate_hz: int) -> None:
    # A WAV whose header says 1 Hz made bake resample it to 16 kHz: MemoryError for 40 GiB, ending the batch.
    import struct

    pcm = (np.sin(np.arange(16000) / 5) * 8000).astype("<i2").tobytes()
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate_hz, rate_hz * 2 & 0xFFFFFFFF, 2, 16)
    path = tmp_path / "bad_header.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " + fmt + b"data"
                     + struct.pack("<I", len(pcm)) + pcm)  # fmt: skip
    with pytest.raises(AudioError, match=f"sample rate {rate_hz} Hz is not an audio rate"):
        read_audio(path)
    with pytest.raises(AudioError, match="is not an audio rate"):
        FileSource(path, None, 10, realtime=False)


def _wav_bytes(pcm: bytes, data_size: int) -> bytes:
    import struct

    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    return b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", data_size) + pcm


def test_a_wav_cut_short_is_used_and_said_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # An interrupted copy baked into a short animation without a word.
    pcm = (np.sin(np.arange(8000) / 5) * 8000).astype("<i2").tobytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(_wav_bytes(pcm, 10 * len(pcm)))
    x, _ = read_audio(cut)
    assert x.shape[0] == 8000
    assert "cut.wav: the file is cut short" in caplog.text and f"holds {len(pcm)} of the {10 * len(pcm)}" in caplog.text
    caplog.clear()
    streamed = tmp_path / "streamed.wav"  # what ffmpeg writes to a pipe: the size is not known yet
    streamed.write_bytes(_wav_bytes(pcm, 0xFFFFFFFF))
    assert read_audio(streamed)[0].shape[0] == 8000
    assert "cut short" not in caplog.text


def test_file_source_blocks_cover_the_file(tmp_path: Path) -> None:
    x = np.arange(16000, dtype=np.float32) / 16000
    src = FileSource(write_wav(tmp_path / "r.wav", x, 16000, "FLOAT"), None, 10, realtime=False)
    blocks = list(src.blocks())
    assert len(blocks) == 100
    np.testing.assert_allclose(np.concatenate([b.samples for b in blocks]), x)
    assert blocks[10].t_stream_s == pytest.approx(0.1)


def test_file_source_reads_from_disk_as_it_plays(tmp_path: Path) -> None:
    """Two minutes at 48 kHz stereo: the source held all of it (and a copy) in memory, 92 MB here."""
    rng = np.random.default_rng(2)
    x = (0.1 * rng.standard_normal((48000 * 120, 2))).astype(np.float32)
    path = write_wav(tmp_path / "long.wav", x, 48000, "FLOAT")
    tracemalloc.start()
    try:
        src = FileSource(path, 1, 10, realtime=False)
        n, last = 0, np.zeros(0, dtype=np.float32)
        for block in src.blocks():
            n += block.samples.size
            last = block.samples
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    assert peak_mb < 10, peak_mb
    assert n == x.shape[0] and src.duration_s == pytest.approx(120.0)
    np.testing.assert_array_equal(last, x[-480:, 1])


def test_file_source_checks_the_whole_file_before_playing(tmp_path: Path) -> None:
    x = np.full(48000, 0.1, dtype=np.float32)
    x[40000] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        FileSource(write_wav(tmp_path / "nan.wav", x, 16000, "FLOAT"), None, 10, realtime=False)
    with pytest.raises(AudioError, match="channel 2"):
        FileSource(write_wav(tmp_path / "st.wav", np.zeros((160, 2), np.float32), 16000), 2, 10, realtime=False)
    with pytest.raises(AudioError, match="no audio samples"):
        FileSource(write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000), None, 10, realtime=False)


def test_a_file_that_goes_bad_while_playing_is_one_clear_error(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "r.wav", np.full(16000, 0.1, dtype=np.float32), 16000)
    src = FileSource(path, None, 10, realtime=False)
    path.write_bytes(b"RIFF not a wave file any more")
    with pytest.raises(AudioError, match="cannot decode"):
        list(src.blocks())


def test_stdin_s16_stereo_with_partial_tail() -> None:
    pcm = np.array([[1000, -1000]] * 480, dtype="<i2").tobytes() + b"\x01"
    src = StdinSource(48000, 2, "s16le", None, 10, stream=io.BytesIO(pcm))
    blocks = list(src.blocks())
    assert sum(b.samples.size for b in blocks) == 480
    np.testing.assert_allclose(np.concatenate([b.samples for b in blocks]), 0.0)


def test_stdin_glitches_become_silence_with_one_warning_not_the_end(caplog: pytest.LogCaptureFixture) -> None:
    """Ten NaN samples from a sender ended a live show with an error."""
    x = np.full(16000, 0.25, dtype="<f4")
    x[[5, 6, 7, 9000]] = np.nan
    x[12000] = np.inf
    x[14000] = 3e38  # finite, but no sound: held the face nearly shut for 15 s
    x[15000] = 2.0  # past full scale, as float audio may be: kept
    blocks = list(StdinSource(16000, 1, "f32le", None, 10, stream=io.BytesIO(x.tobytes())).blocks())
    out = np.concatenate([b.samples for b in blocks])
    assert out.size == 16000 and np.isfinite(out).all()
    bad = [5, 6, 7, 9000, 12000, 14000]
    assert (out[bad] == 0.0).all() and out[15000] == 2.0 and (np.delete(out, [*bad, 15000]) == 0.25).all()
    warnings = [r.getMessage() for r in caplog.records if "replaced with silence" in r.getMessage()]
    assert len(warnings) == 2 and warnings[0].startswith("stdin: 3 NaN, infinite or out-of-range samples"), warnings
    assert "(and 3 more in" in warnings[1]  # the later glitches in one summary line, not one line each


def test_a_stalled_stdin_streams_silence_until_audio_comes_again(caplog: pytest.LogCaptureFixture) -> None:
    """A sender that paused for seconds left receivers without frames, the face frozen mid-word."""
    import os
    import threading
    import time

    r, w = os.pipe()
    tone = np.full(8000, 0.25, dtype="<f4").tobytes()  # 0.5 s each side of the pause

    def sender() -> None:
        os.write(w, tone)
        time.sleep(2.5)
        os.write(w, tone)
        os.close(w)

    threading.Thread(target=sender, daemon=True).start()
    blocks, taken_s = [], []
    with os.fdopen(r, "rb") as stream:
        for block in StdinSource(16000, 1, "f32le", None, 10, stream=stream).blocks():
            blocks.append(block)
            taken_s.append(time.monotonic())
            time.sleep(0.003)  # the model and the face solver take their time with each block
    out = np.concatenate([b.samples for b in blocks])
    assert (out == 0.25).sum() == 16000  # every sample sent, once
    silent = out.size - 16000
    # Silence at the audio's pace: as much of it as wall time passed from its first block to the audio's
    # return (each block used to wait a block's time after the last was taken: 0.77x with this consumer).
    is_silent = [bool((b.samples == 0.0).all()) for b in blocks]
    first, resumed = is_silent.index(True), is_silent.index(False, is_silent.index(True))
    assert silent / 16000 == pytest.approx(taken_s[resumed] - taken_s[first], rel=0.05, abs=0.03)
    assert 1.0 <= silent / 16000 <= 2.6
    first_silence = int(np.flatnonzero(out == 0.0)[0])
    assert first_silence == 8000 and (out[8000 : 8000 + silent] == 0.0).all()  # in the pause, not after
    assert "stdin: no audio for 0.5 s; the face rests until it comes again" in caplog.text


def test_links_that_lead_nowhere_are_named_as_such(tmp_path: Path) -> None:
    """A looping link was reported as "no such file"."""
    (tmp_path / "loop.wav").symlink_to("loop.wav")
    (tmp_path / "gone.wav").symlink_to("nowhere.wav")
    with pytest.raises(AudioError, match="loop.wav: a symbolic link loop"):
        read_audio(tmp_path / "loop.wav")
    with pytest.raises(AudioError, match=r"gone.wav: a dangling symbolic link \(to nowhere.wav\)"):
        read_audio(tmp_path / "gone.wav")


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


def test_a_file_or_folder_named_like_a_device_does_not_take_over_the_microphone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder ``default`` in the current folder made plain ``avatar-bridge run`` fail."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").mkdir()
    (tmp_path / "USB Mic").mkdir()
    assert not is_file_input("default") and not is_file_input("USB Mic")
    (tmp_path / "default").rmdir()
    (tmp_path / "default").write_bytes(b"")
    assert not is_file_input("default") and is_file_input("./default")
    (tmp_path / "take").write_bytes(b"")
    assert is_file_input("take")  # an existing file without a suffix is still a file


def _ffmpeg_encode(tmp_path: Path, name: str, *args: str) -> Path:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="ffmpeg comes with the offline extra")
    out = tmp_path / name
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", *args, str(out)]
    subprocess.run(cmd, check=True)
    return out


def test_m4a_and_video_sound_are_read_through_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Phone recordings (AAC in M4A) and screen or stream captures (MP4) play and bake like WAV files."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the decoded WAVs go, to see them removed
    wav, rate = read_audio(EXAMPLE_WAV)
    m4a = _ffmpeg_encode(tmp_path, "line.m4a", "-i", str(EXAMPLE_WAV), "-c:a", "aac", "-b:a", "96k")
    video = _ffmpeg_encode(
        tmp_path, "take.mp4", "-f", "lavfi", "-i", "color=c=gray:s=64x64:d=3", "-i", str(EXAMPLE_WAV),
        "-shortest", "-c:v", "libx264", "-c:a", "aac",
    )  # fmt: skip
    mono, m4a_rate = read_audio(m4a)
    assert m4a_rate == rate and abs(mono.size - wav.size) < rate // 20
    n = min(mono.size, wav.size)
    assert np.corrcoef(mono[:n], wav[:n])[0, 1] > 0.95  # the same sound, time-aligned (AAC is lossy)
    src = FileSource(video, None, 10, realtime=False)
    played = np.concatenate([b.samples for b in src.blocks()])
    assert src.sample_rate_hz == rate and played.size > 2 * rate
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.m4a", "take.mp4"]  # no decoded WAV left


def test_without_ffmpeg_other_formats_are_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ffmpeg, "ffmpeg_path", lambda: None)
    path = tmp_path / "line.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))
    with pytest.raises(AudioError, match=r"need ffmpeg: pip install 'avatar-bridge\[offline\]'"):
        read_audio(path)
    with pytest.raises(AudioError, match="need ffmpeg"):
        FileSource(path, None, 10, realtime=False)


def test_a_file_that_shrinks_while_playing_stops_at_its_real_end(tmp_path: Path) -> None:
    """soundfile's blocks() repeated the last block read for as long as the header still claimed."""
    x = np.arange(16000, dtype=np.float32) / 16000
    path = write_wav(tmp_path / "r.wav", x, 16000, "FLOAT")
    data_offset = path.stat().st_size - x.size * 4
    src = FileSource(path, None, 10, realtime=False)
    blocks = src.blocks()
    played = [next(blocks).samples for _ in range(10)]
    os.truncate(path, data_offset + 5000 * 4 + 2)  # 5000 samples and half of one are left
    played += [b.samples for b in blocks]
    out = np.concatenate(played)
    assert out.size == 5000
    np.testing.assert_array_equal(out, x[:5000])


def test_mp3_and_video_errors_say_what_is_wrong(tmp_path: Path) -> None:
    """A bad MP3 was 'File does not exist or is not a regular file'; a silent video 'Invalid argument'."""
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="empty.mp3: the file is empty"):
        read_audio(empty)
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioError) as e:
        read_audio(garbage)
    assert "cannot decode audio" in str(e.value) and "does not exist" not in str(e.value)
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="ffmpeg comes with the offline extra")
    video = tmp_path / "noaudio.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-f", "lavfi",
         "-i", "testsrc=duration=1:size=64x64:rate=10", "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )  # fmt: skip
    with pytest.raises(AudioError, match="noaudio.mp4: no audio stream"):
        read_audio(video)


def test_an_ambiguous_device_name_lists_the_devices_it_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    # The error used to say only "2 devices match", leaving the user to guess which.
    import bridge.audio.capture as capture
    from bridge.errors import DeviceError

    devices = [(0, "USB Mic A", 1, 48000.0), (1, "USB Mic B", 2, 44100.0), (2, "default", 2, 44100.0)]
    monkeypatch.setattr(capture, "list_input_devices", lambda: devices)
    with pytest.raises(DeviceError, match=r"2 devices match \(0 'USB Mic A', 1 'USB Mic B'\)"):
        capture.resolve_device("usb")
    assert capture.resolve_device("Mic B") == 1


def test_a_header_claiming_terabytes_reads_the_audio_that_is_there(tmp_path: Path) -> None:
    """An MP3 whose Xing header claims 0x7FFFFFFF frames made numpy allocate 9 TiB: a MemoryError stopped
    the whole bake, and with -j 2 every file in it was lost."""
    import soundfile as sf

    x = (0.3 * np.sin(np.arange(16000) / 7)).astype(np.float32)
    mp3 = tmp_path / "clip.mp3"
    sf.write(mp3, x, 16000, format="MP3")
    data = bytearray(mp3.read_bytes())
    tag = max(data.find(b"Xing"), data.find(b"Info"))
    assert tag > 0 and int.from_bytes(data[tag + 4 : tag + 8], "big") & 1  # the frame count is present
    data[tag + 8 : tag + 12] = (0x7FFFFFFF).to_bytes(4, "big")
    mp3.write_bytes(bytes(data))
    assert sf.info(str(mp3)).frames > 10**12  # what libsndfile believes
    y, rate = read_audio(mp3)
    assert rate == 16000 and 15000 < y.shape[0] < 18000


def test_a_name_that_is_not_utf8_is_read(tmp_path: Path) -> None:
    """``caf\\xe9.wav`` (Latin-1) could not be opened: 'surrogates not allowed' from libsndfile's str path."""
    import soundfile as sf

    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9_take.wav")
    sf.write(raw, np.zeros(1600, np.float32) + 0.1, 16000)
    path = Path(os.fsdecode(raw))
    assert read_audio(path)[0].shape[0] == 1600
    assert sum(b.samples.shape[0] for b in FileSource(path, None, 10, realtime=False).blocks()) == 1600


def test_a_pipe_given_as_a_file_is_one_clear_error_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    for read in (read_audio, lambda p: FileSource(p, None, 10, realtime=False)):
        with pytest.raises(AudioError, match="pipe.wav: is a pipe or a device, not a file"):
            read(fifo)


CONTAINERS = [("AIFF", "PCM_16", ".aiff"), ("AU", "PCM_16", ".au"), ("RF64", "PCM_16", ".wav"),
              ("W64", "PCM_16", ".w64")]  # fmt: skip


@pytest.mark.parametrize(("fmt", "subtype", "suffix"), CONTAINERS)
def test_other_containers_cut_short_are_said_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fmt: str, subtype: str, suffix: str
) -> None:
    import soundfile as sf

    whole = tmp_path / f"whole{suffix}"
    sf.write(whole, np.full(16000, 0.2, np.float32), 16000, format=fmt, subtype=subtype)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: 16000])
    y, _ = read_audio(cut)
    assert 7000 < y.shape[0] < 8000
    assert f"cut{suffix}: the file is cut short (an interrupted copy?)" in caplog.text


@pytest.mark.parametrize(
    ("fmt", "fraction", "said"),
    [("FLAC", 0.5, "a FLAC file cut short or damaged"), ("FLAC", 0.99, "a FLAC file cut short or damaged"),
     ("CAF", 0.5, "libsndfile calls the file malformed")],
)  # fmt: skip
def test_a_flac_or_caf_cut_short_is_decoded_as_far_as_it_goes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fmt: str, fraction: float, said: str
) -> None:
    """An interrupted copy of a FLAC or CAF line failed outright ("flac decoder lost sync", "malformed")."""
    import soundfile as sf

    if ffmpeg.ffmpeg_path() is None:
        pytest.skip("ffmpeg comes with the offline extra")
    x, rate = read_audio(EXAMPLE_WAV)
    whole = tmp_path / f"whole.{fmt.lower()}"
    sf.write(whole, x, rate, format=fmt)
    cut = tmp_path / f"cut.{fmt.lower()}"
    data = whole.read_bytes()
    cut.write_bytes(data[: int(len(data) * fraction)])
    y, rate_y = read_audio(cut)
    assert rate_y == rate and 0.3 * x.shape[0] * fraction < y.shape[0] < x.shape[0]
    assert f"cut.{fmt.lower()}: {said}" in caplog.text
    played = sum(b.samples.shape[0] for b in FileSource(cut, None, 10, realtime=False).blocks())
    assert played == y.shape[0]


def test_a_float_file_with_absurd_samples_is_one_clear_error(tmp_path: Path) -> None:
    """A float WAV with a burst of 3e38 baked a face that stayed shut, with only numpy's overflow warning."""
    import soundfile as sf

    x = np.full(16000, 0.1, np.float32)
    x[8000:8100] = 3e38
    sf.write(tmp_path / "burst.wav", x, 16000, subtype="FLOAT")
    x[8000:8100] = 1.5  # past full scale, as float audio may be: fine
    sf.write(tmp_path / "hot.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="burst.wav: the audio holds NaN, infinite or out-of-range samples"):
        read_audio(tmp_path / "burst.wav")
    with pytest.raises(AudioError, match="out-of-range samples"):
        FileSource(tmp_path / "burst.wav", None, 10, realtime=False)
    assert read_audio(tmp_path / "hot.wav")[0].max() == pytest.approx(1.5)
    sf.write(tmp_path / "int16_as_float.wav", np.full(1600, 12000.0, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="float samples up to 12000.*16-bit values written as float"):
        read_audio(tmp_path / "int16_as_float.wav")


def test_a_damaged_mp3_is_decoded_by_ffmpeg_and_said_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """2 KB zeroed a third of the way into an MP3: libsndfile stopped there ('Unspecified internal error'),
    so the file failed although ffmpeg decodes all of it but the damage."""
    import soundfile as sf

    if ffmpeg.ffmpeg_path() is None:
        pytest.skip("ffmpeg comes with the offline extra")
    x, rate = read_audio(EXAMPLE_WAV)
    clean = tmp_path / "clean.mp3"
    sf.write(clean, x, rate, format="MP3")
    data = clean.read_bytes()
    cut = len(data) // 3
    damaged = tmp_path / "damaged.mp3"
    damaged.write_bytes(data[:cut] + bytes(2000) + data[cut + 2000 :])
    with pytest.raises(sf.LibsndfileError):  # what libsndfile alone makes of it
        with sf.SoundFile(damaged) as f:
            while f.read(65536).shape[0]:
                pass
    y, rate_y = read_audio(damaged)
    assert rate_y == rate and 0.6 * x.shape[0] < y.shape[0] < x.shape[0] + rate
    assert "damaged.mp3: a damaged MP3" in caplog.text and "may come early" in caplog.text
    played = sum(b.samples.shape[0] for b in FileSource(damaged, None, 10, realtime=False).blocks())
    assert played == y.shape[0]
