"""Audio files (WAV, FLAC, anything libsndfile reads): whole-file reading and real-time playback as blocks."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from bridge.audio.resample import to_mono
from bridge.errors import AudioError
from bridge.frames import AudioBlock

log = logging.getLogger(__name__)


def read_audio_channels(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    """Read a file as float32 (n, channels).

    Raises:
        AudioError: missing, unreadable, corrupt, unsupported or empty audio.
    """
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, expected an audio file")
    try:
        data, rate_hz = sf.read(str(path), dtype="float32", always_2d=True)
    except sf.LibsndfileError as e:
        raise AudioError(f"{path}: cannot decode audio ({e.error_string})") from e
    except (RuntimeError, TypeError, ValueError) as e:
        raise AudioError(f"{path}: cannot decode audio ({e})") from e
    except OSError as e:
        raise AudioError(f"{path}: cannot read ({e.strerror or e})") from e
    if data.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no audio samples")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{path}: the audio holds NaN or infinite samples")
    return data, int(rate_hz)


def read_audio(path: Path, channel: int | None = None) -> tuple[npt.NDArray[np.float32], int]:
    """Read a file as mono float32 (downmixed, or one selected channel) and its sample rate.

    Raises:
        AudioError: as read_audio_channels, or the selected channel does not exist.
    """
    data, rate_hz = read_audio_channels(path)
    try:
        return to_mono(data, channel), rate_hz
    except IndexError as e:
        raise AudioError(f"{path}: {e}") from e


class FileSource:
    """A file delivered block by block, paced like a microphone (real time) or as fast as possible."""

    def __init__(self, path: Path, channel: int | None, block_ms: int, realtime: bool) -> None:
        self.samples, self.sample_rate_hz = read_audio(path, channel)
        self.name = str(path)
        self.duration_s = self.samples.shape[0] / self.sample_rate_hz
        self._hop = max(1, self.sample_rate_hz * block_ms // 1000)
        self._realtime = realtime
        self._stopped = False
        self.dropped_s = 0.0
        if float(np.max(np.abs(self.samples))) < 1e-4:
            log.warning("%s: the audio is silent: the face will stay at rest", path)

    def blocks(self) -> Iterator[AudioBlock]:
        """Yield blocks; t_capture_s is when the block's last sample became due (paced) or now (fast)."""
        t0 = time.monotonic()
        for start in range(0, self.samples.shape[0], self._hop):
            if self._stopped:
                return
            block = self.samples[start : start + self._hop]
            t_capture_s = time.monotonic()
            if self._realtime:
                t_capture_s = t0 + (start + block.shape[0]) / self.sample_rate_hz
                delay_s = t_capture_s - time.monotonic()
                if delay_s > 0:
                    time.sleep(delay_s)
            yield AudioBlock(block, self.sample_rate_hz, t_capture_s, start / self.sample_rate_hz)

    def stop(self) -> None:
        self._stopped = True
