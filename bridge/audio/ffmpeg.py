"""ffmpeg, as imageio-ffmpeg ships it: the decoder for audio that libsndfile cannot read (AAC/M4A, WMA, the
sound of MP4/MKV/MOV/WebM videos) and the encoder of preview videos."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bridge.errors import AudioError, ConfigError

INSTALL_HINT = "pip install 'avatar-bridge[offline]'"


def ffmpeg_path() -> str | None:
    """The ffmpeg binary of imageio-ffmpeg, or None when that package (or its binary) is missing."""
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        return None


def ffmpeg_exe(purpose: str) -> str:
    """The ffmpeg binary.

    Raises:
        ConfigError: it is not installed (the message says what ``purpose`` needs it).
    """
    exe = ffmpeg_path()
    if exe is None:
        raise ConfigError(f"{purpose} needs ffmpeg: {INSTALL_HINT}")
    return exe


def decode_to_wav(source: Path, target: Path) -> None:
    """Write the first audio stream of ``source`` to ``target`` as 16-bit WAV, at its own rate and channels.

    Raises:
        AudioError: no ffmpeg, or ffmpeg cannot decode ``source`` or finds no audio stream in it.
    """
    exe = ffmpeg_path()
    if exe is None:
        raise AudioError(
            f"{source}: cannot decode audio (format not recognised; AAC/M4A, WMA and video files need ffmpeg: "
            f"{INSTALL_HINT})"
        )
    cmd = [
        exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-i", str(source), "-map", "0:a:0", "-vn", "-c:a", "pcm_s16le", "-rf64", "auto", str(target),
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, check=False)
    except OSError as e:
        raise AudioError(f"{source}: cannot run ffmpeg ({e.strerror or e})") from e
    if done.returncode != 0:
        text = done.stderr.decode(errors="replace")
        if "matches no streams" in text:  # the -map 0:a:0 above: a video without a sound track
            raise AudioError(f"{source}: no audio stream")
        lines = text.strip().splitlines()
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise AudioError(f"{source}: cannot decode audio (format not recognised by libsndfile or ffmpeg: {reason})")
