"""Audio files (WAV, FLAC, anything libsndfile reads): whole-file reading, and playback as blocks read from disk."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from bridge.audio.downmix import CancellationMeter, Downmix, choose_downmix, verdict
from bridge.audio.ffmpeg import decode_to_wav, ffmpeg_path
from bridge.audio.samples import MAX_SAMPLE_ABS, unusable
from bridge.config import AUDIO_RATE_RANGE_HZ
from bridge.errors import AudioError
from bridge.frames import AudioBlock
from bridge.logs import CStderrCatcher
from bridge.paths import broken_link

log = logging.getLogger(__name__)
_SCAN_FRAMES = 1 << 16  # frames per read while checking a file


def _os_path(path: Path) -> bytes:
    """The path as the OS has it: libsndfile gets bytes, so a name that is not UTF-8 (Latin-1 ``caf\xe9.wav``,
    which Python holds with surrogates) still opens."""
    return os.fsencode(path)


def _open_file(path: Path) -> sf.SoundFile:
    return sf.SoundFile(_os_path(path))


def _check_path(path: Path) -> None:
    # A file or folder it may not open (no permission) is named as such: libsndfile says "System error."
    try:
        if not path.exists():  # a link that leads nowhere says so, not "no such file"
            raise AudioError(f"{path}: {broken_link(path) or 'no such file'}")
        if path.is_dir():
            raise AudioError(f"{path}: is a directory, expected an audio file")
        if path.is_file() and path.stat().st_size == 0:  # libsndfile's words for it differ by format
            raise AudioError(f"{path}: the file is empty")
        if not path.is_file():  # opening a pipe blocks until a writer comes, and it can be read only once
            raise AudioError(f"{path}: is a pipe or a device, not a file; pipe raw PCM into `--input -` instead")
        with path.open("rb"):
            pass
    except OSError as e:
        raise AudioError(f"{path}: cannot read ({e.strerror or e})") from e


@contextlib.contextmanager
def _decoding(path: Path) -> Iterator[None]:
    """libsndfile's and numpy's failures while opening or decoding ``path``, as AudioError."""
    try:
        yield
    except sf.LibsndfileError as e:
        raise AudioError(f"{path}: cannot decode audio ({e.error_string})") from e
    except (RuntimeError, TypeError, ValueError) as e:
        raise AudioError(f"{path}: cannot decode audio ({e})") from e
    except MemoryError as e:
        raise AudioError(f"{path}: cannot decode audio (it would need more memory than there is: {e})") from e
    except OSError as e:
        raise AudioError(f"{path}: cannot read ({e.strerror or e})") from e


def _decoder_output(path: Path) -> CStderrCatcher:
    # libsndfile's MP3 decoder, libmpg123, prints warnings and errors of a damaged file on stderr:
    # its calls run with that output caught and logged at debug level (the error, if any, is ours).
    return CStderrCatcher(log, f"{path}: decoder")


def _caught(catcher: CStderrCatcher, fmt: str) -> contextlib.AbstractContextManager[None]:
    return catcher.catching() if fmt == "MP3" else contextlib.nullcontext()


@contextlib.contextmanager
def _readable(path: Path, catcher: CStderrCatcher, via_ffmpeg: bool = False) -> Iterator[tuple[Path, str]]:
    """(``path``, libsndfile's name of its format) when libsndfile reads it, else (or with ``via_ffmpeg``)
    (a WAV that ffmpeg decodes from it, deleted afterwards, "")."""
    try:
        if via_ffmpeg:
            raise _UseFfmpeg
        with catcher.catching():
            info = sf.info(_os_path(path))
        _warn_if_cut_short(path, info.extra_info)
    except sf.LibsndfileError as e:
        # libsndfile's MP3 decoder reports a file it cannot read as "File does not exist or is not a
        # regular file": ffmpeg gets a try and gives the real reason.
        if "not recognised" not in e.error_string and "does not exist" not in e.error_string:
            if "malformed" not in e.error_string or ffmpeg_path() is None:
                raise AudioError(f"{path}: cannot decode audio ({e.error_string})") from e
            # A CAF cut short: libsndfile refuses the whole file, ffmpeg decodes what is there.
            log.warning("%s: libsndfile calls the file malformed (cut short?): decoded with ffmpeg as far as it "
                        "goes", path, extra={"event": "audio_damaged"})  # fmt: skip
    except _UseFfmpeg:
        pass
    else:
        yield path, info.format
        return
    with tempfile.TemporaryDirectory(prefix="avatar-bridge-") as tmp:
        wav = Path(tmp) / "decoded.wav"
        decode_to_wav(path, wav)
        yield wav, ""


# libsndfile's log lines for audio data that ends before its declared size: WAV (data), W64 (riff), AIFF
# (SSND) and AU (Data Size) in bytes, RF64 in frames.
_CUT_SHORT = re.compile(
    r"^\s*(?:data|riff|SSND|Data Size)\s*:\s*(?P<declared>\d+)\s*\(should be (?P<found>\d+)\)"
    r"|Calculated frame count (?P<found_frames>\d+) does not match value from 'ds64' chunk of (?P<declared_frames>\d+)",
    re.MULTILINE,
)
# Sizes that streaming writers (ffmpeg to a pipe, some recorders) put in the header before the length is known.
_UNKNOWN_SIZES = {0, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF - 1}


def _warn_if_cut_short(path: Path, extra_info: str) -> None:
    """A WAV that holds less audio than its header declares (an interrupted copy or download) is used as
    it is, but said so: otherwise a cut line bakes into a short animation without a word."""
    m = _CUT_SHORT.search(extra_info)
    if m is None:
        return
    unit = "bytes" if m["declared"] else "frames"
    declared, found = (int(m["declared"]), int(m["found"])) if m["declared"] else (
        int(m["declared_frames"]), int(m["found_frames"]))  # fmt: skip
    if declared not in _UNKNOWN_SIZES and found < declared:
        log.warning("%s: the file is cut short (an interrupted copy?): it holds %s of the %s %s of audio its "
                    "header declares; what is there is used", path, found, declared, unit,
                    extra={"event": "audio_cut_short"})  # fmt: skip


def _check_finite(path: Path, data: npt.NDArray[np.float32]) -> None:
    if unusable(data).any():
        if np.isfinite(data).all() and float(np.max(np.abs(data))) <= 32768.0:
            raise AudioError(f"{path}: float samples up to {float(np.max(np.abs(data))):.0f}, far beyond full scale "
                             "(1.0): 16-bit values written as float? Divide them by 32768")  # fmt: skip
        raise AudioError(f"{path}: the audio holds NaN, infinite or out-of-range samples (beyond +-{MAX_SAMPLE_ABS:g}, "
                         "a damaged float file?)")  # fmt: skip


class _UseFfmpeg(Exception):
    """libsndfile's MP3 or FLAC decoder gave up partway through a file that ffmpeg may still decode."""


def _retry_with_ffmpeg(path: Path, fmt: str, error: sf.LibsndfileError) -> None:
    """Raises _UseFfmpeg when a damaged MP3 or FLAC is worth a second try (libmpg123 stops at a corrupt
    frame and libFLAC at a file cut short, ffmpeg decodes on); returns when it is not, so the caller
    re-raises ``error``."""
    if fmt not in ("MP3", "FLAC") or ffmpeg_path() is None:
        return
    # ffmpeg leaves the damaged frames out rather than filling them with silence, so the time after them moves.
    what = "a damaged MP3" if fmt == "MP3" else "a FLAC file cut short or damaged"
    log.warning("%s: %s (%s partway through): decoded with ffmpeg, which leaves the damaged part out, so what "
                "follows it may come early", path, what, error.error_string.strip().rstrip("."),
                extra={"event": "audio_damaged"})  # fmt: skip
    raise _UseFfmpeg from error


# Decoded float32 is at most this many times its file (Opus at 6 kbit/s: about 85x); a header claiming
# more is damaged, and its frame count is not allocated up front.
_MAX_EXPANSION = 200


def _read_whole(path: Path, catcher: CStderrCatcher, via_ffmpeg: bool) -> tuple[npt.NDArray[np.float32], int]:
    with _readable(path, catcher, via_ffmpeg) as (readable, fmt), _caught(catcher, fmt), _open_file(readable) as f:
        declared = f.frames if 0 < f.frames * f.channels * 4 <= _MAX_EXPANSION * readable.stat().st_size else 0
        # Into one array of the declared size (what sf.read does, without its trust in a damaged header), then
        # in pieces for whatever the header did not declare.
        out = np.empty((declared, f.channels), np.float32)
        parts = []
        try:
            n = 0
            while n < declared and (k := f.read(out=out[n : n + _SCAN_FRAMES]).shape[0]):
                n += k
            parts.append(out[:n])
            while (part := f.read(_SCAN_FRAMES, dtype="float32", always_2d=True)).shape[0]:
                parts.append(part)
        except sf.LibsndfileError as e:
            _retry_with_ffmpeg(path, fmt, e)
            raise
        data = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return data, int(f.samplerate)


def read_audio_channels(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    """Read a file as float32 (n, channels).

    Raises:
        AudioError: missing, unreadable, corrupt, unsupported or empty audio.
    """
    _check_path(path)
    with contextlib.closing(_decoder_output(path)) as catcher, _decoding(path):
        try:
            data, rate_hz = _read_whole(path, catcher, via_ffmpeg=False)
        except _UseFfmpeg:
            data, rate_hz = _read_whole(path, catcher, via_ffmpeg=True)
    if data.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no audio samples")
    _check_rate(path, int(rate_hz))
    _check_finite(path, data)
    return data, int(rate_hz)


# Rates outside this are a damaged header, not audio: resampling 1 Hz "audio" to 16 kHz asks for tens of GB.
MIN_RATE_HZ, MAX_RATE_HZ = AUDIO_RATE_RANGE_HZ


def _check_rate(path: Path, rate_hz: int) -> None:
    if not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
        raise AudioError(f"{path}: sample rate {rate_hz} Hz is not an audio rate (1-768 kHz): a damaged header?")


def _mono(path: Path, data: npt.NDArray[np.float32], downmix: Downmix) -> npt.NDArray[np.float32]:
    try:
        return downmix.apply(data)
    except IndexError as e:
        raise AudioError(f"{path}: {e}") from e


def read_audio(path: Path, channel: int | None = None) -> tuple[npt.NDArray[np.float32], int]:
    """Read a file as mono float32 (downmixed, or one selected channel) and its sample rate.

    Channels that cancel in the mean (one phase-inverted) are mixed with its polarity restored, with a
    warning (bridge.audio.downmix).

    Raises:
        AudioError: as read_audio_channels, or the selected channel does not exist.
    """
    data, rate_hz = read_audio_channels(path)
    return _mono(path, data, choose_downmix(data, rate_hz, channel, str(path))), rate_hz


class FileSource:
    """A file delivered block by block, paced like a microphone (real time) or as fast as possible.

    The file is read from disk as it plays, so an hour-long recording costs no more memory than a
    short one. It is checked in one pass first (decodable, not empty, finite, the channel exists), so
    bad audio is reported before streaming starts; the same pass measures whether the channels cancel
    in the mean, so the downmix (bridge.audio.downmix) is chosen once, for the whole file, before playing.
    """

    def __init__(self, path: Path, channel: int | None, block_ms: int, realtime: bool) -> None:
        _check_path(path)
        self.name = str(path)
        self._path = path
        with contextlib.ExitStack() as stack:
            self._catcher = _decoder_output(path)
            stack.callback(self._catcher.close)
            try:
                peak, meter, n_frames = self._scan(path, channel, stack, via_ffmpeg=False)
            except _UseFfmpeg:
                peak, meter, n_frames = self._scan(path, channel, stack, via_ffmpeg=True)
            if n_frames == 0:
                raise AudioError(f"{path}: the file holds no audio samples")
            self._files = stack.pop_all()
        self.duration_s = n_frames / self.sample_rate_hz
        self._hop = max(1, self.sample_rate_hz * block_ms // 1000)
        self._realtime = realtime
        self._stopped = False
        self.dropped_s = 0.0
        self._downmix = Downmix(channel) if meter is None else verdict(meter, str(path), live=False)
        if peak < 1e-4 and not self._downmix.flipped:  # flipped only for loud channels: their mix is not silent
            log.warning("%s: the audio is silent: the face will stay at rest", path)

    def _scan(
        self, path: Path, channel: int | None, stack: contextlib.ExitStack, via_ffmpeg: bool
    ) -> tuple[float, CancellationMeter | None, int]:
        """(peak, cancellation meter, frames) of the whole file, read once; sets what blocks() plays from."""
        # A format libsndfile cannot read plays from a WAV that ffmpeg decoded, kept until playing ends.
        self._readable, self._format = stack.enter_context(_readable(path, self._catcher, via_ffmpeg))
        peak = 0.0
        meter: CancellationMeter | None = None
        n_frames = 0
        with _decoding(path), self._open() as f:
            self.sample_rate_hz = int(f.samplerate)
            _check_rate(path, self.sample_rate_hz)
            if channel is None and f.channels > 1:
                meter = CancellationMeter(self.sample_rate_hz, f.channels)
            while True:
                try:
                    with _caught(self._catcher, self._format):
                        raw = f.read(_SCAN_FRAMES, dtype="float32", always_2d=True)
                except sf.LibsndfileError as e:
                    _retry_with_ffmpeg(path, self._format, e)
                    raise
                if raw.shape[0] == 0:
                    break
                _check_finite(path, raw)
                peak = max(peak, float(np.max(np.abs(_mono(path, raw, Downmix(channel))))))
                if meter is not None:
                    meter.feed(raw)
                n_frames += raw.shape[0]
        return peak, meter, n_frames

    def _open(self) -> sf.SoundFile:
        with _caught(self._catcher, self._format):
            return _open_file(self._readable)

    def blocks(self) -> Iterator[AudioBlock]:
        """Yield blocks; t_capture_s is when the block's last sample became due (paced) or now (fast).

        Raises:
            AudioError: the file became unreadable, or was changed into bad audio, since it was checked.
        """
        t0 = time.monotonic()
        start = 0
        with self._files, _decoding(self._path), self._open() as f:
            while not self._stopped:
                # read, not SoundFile.blocks: blocks() reuses its buffer and, once a file shrinks under
                # it, repeats the last block for the length its header still claims.
                with _caught(self._catcher, self._format):
                    raw = f.read(self._hop, dtype="float32", always_2d=True)
                if raw.shape[0] == 0:
                    return
                _check_finite(self._path, raw)
                block = _mono(self._path, raw, self._downmix)
                t_capture_s = time.monotonic()
                if self._realtime:
                    t_capture_s = t0 + (start + block.shape[0]) / self.sample_rate_hz
                    delay_s = t_capture_s - time.monotonic()
                    if delay_s > 0:
                        time.sleep(delay_s)
                yield AudioBlock(block, self.sample_rate_hz, t_capture_s, start / self.sample_rate_hz)
                start += block.shape[0]
                if raw.shape[0] < self._hop:  # a short read is the real end of the data
                    return

    def stop(self) -> None:
        self._stopped = True
