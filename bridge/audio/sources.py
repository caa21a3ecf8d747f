"""Picks the audio source for an `--input` value: a file, "-" (stdin) or a microphone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from bridge.config import AudioConfig
from bridge.frames import AudioBlock

# Audio files by name: libsndfile's formats (with the delivery names of WAV: Broadcast WAV .bwf, .wave,
# Sony Wave64 .w64, RF64; and AIFF-C .aifc), then those read through ffmpeg (bridge.audio.ffmpeg).
AUDIO_SUFFIXES = frozenset(
    {".wav", ".wave", ".bwf", ".w64", ".rf64", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc", ".mp3",
     ".au", ".caf", ".m4a", ".aac", ".wma"}
)  # fmt: skip


class AudioSource(Protocol):
    name: str
    sample_rate_hz: int

    @property
    def dropped_s(self) -> float: ...

    def blocks(self) -> Iterator[AudioBlock]: ...

    def stop(self) -> None: ...


def is_file_input(spec: str) -> bool:
    """A path-like input (has a separator or an audio suffix, or names an existing file) is a file,
    not a device name.

    "default" is always the default microphone and a bare name of a folder is a device name: a file
    or folder of that name in the current folder must not take over the microphone (``./default``
    plays a file named so).
    """
    if spec in ("-", "default"):
        return False
    path = Path(spec)
    return "/" in spec or path.suffix.lower() in AUDIO_SUFFIXES or (path.exists() and not path.is_dir())


def open_source(cfg: AudioConfig) -> AudioSource:
    """Open the configured input.

    Raises:
        AudioError: unreadable file or stream. DeviceError: missing or busy device.
    """
    if cfg.input == "-":
        from bridge.audio.stdin import StdinSource

        return StdinSource(cfg.stdin_rate_hz, cfg.stdin_channels, cfg.stdin_format, cfg.channel, cfg.block_ms)
    if is_file_input(cfg.input):
        from bridge.audio.files import FileSource

        return FileSource(Path(cfg.input), cfg.channel, cfg.block_ms, realtime=not cfg.fast)
    from bridge.audio.capture import MicrophoneSource

    return MicrophoneSource(cfg.input, cfg.channel, cfg.buffer_s, cfg.block_ms, cfg.reopen_s)
