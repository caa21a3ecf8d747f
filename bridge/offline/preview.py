"""``avatar-bridge preview``: the baked face as an MP4 with the audio muxed in, and/or a curve plot.

Frames are drawn by ``face2d`` at up to 30 frames per second and piped as raw RGB into the ffmpeg
binary that ships with imageio-ffmpeg (H.264 + AAC, yuv420p, plays everywhere).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from bridge.audio.ffmpeg import ffmpeg_exe
from bridge.audio.files import read_audio
from bridge.errors import BridgeError, ConfigError
from bridge.frames import F32
from bridge.offline.bake import BakeSettings, make_parent, make_take
from bridge.offline.batch import find_transcript, transcript_path
from bridge.offline.take import Take
from bridge.paths import refuse_overwrite

log = logging.getLogger(__name__)

MAX_PREVIEW_FPS = 30


@dataclass(frozen=True, slots=True)
class PreviewRequest:
    """What ``avatar-bridge preview`` was asked for.

    Attributes:
        source: the audio file.
        video: MP4 path, or None.
        plot: PNG path, or None.
        settings: bake settings (config, blend weight); formats are ignored.
        text: transcript (``--text``); None uses ``<stem>.txt`` when ``text_files`` is set.
        text_files: read ``<stem>.txt`` next to the audio.
        size: video width and height in pixels.
    """

    source: Path
    video: Path | None
    plot: Path | None
    settings: BakeSettings
    text: str | None
    text_files: bool
    size: int = 360


def _caption(take: Take, k: int) -> str:
    f = take.frames[k]
    mood = f"  {f.pose.mood} {f.pose.mood_intensity:.1f}" if f.pose.mood != "neutral" else ""
    return f"{f.t_s:6.2f} s  {f.pose.viseme:<3}{mood}"


MAX_SIZE = 4096  # 4K; a size far past it (40000) ran out of memory drawing the first frame


def _check_size(size: int) -> None:
    if not 64 <= size <= MAX_SIZE or size % 2:
        raise ConfigError(f"--size: must be an even number of pixels from 64 to {MAX_SIZE} (got {size})")


def render_video(take: Take, samples: F32, sample_rate_hz: int, path: Path, size: int) -> None:
    """Draw every preview frame and encode it with the audio into ``path``.

    Raises:
        ConfigError: no ffmpeg, or an odd/too small size.
        BridgeError: ffmpeg failed or the file cannot be written.
    """
    _check_size(size)
    if not take.frames:
        raise BridgeError(f"{take.source}: no frames to render")
    try:
        from bridge.offline.face2d import FaceRenderer, frame_array
    except ImportError as e:
        raise ConfigError("preview video needs Pillow: pip install 'avatar-bridge[offline]'") from e
    step = max(1, -(-take.fps // MAX_PREVIEW_FPS))
    rate = Fraction(take.fps, step)
    renderer = FaceRenderer(size)
    make_parent(path)
    # ffmpeg writes a temporary name that is renamed once complete: an interrupted preview must not
    # leave a short video that plays as if it were the whole take.
    part = path.with_name(path.name + ".tmp")
    with tempfile.TemporaryDirectory(prefix="avatar-preview-") as tmp:
        wav = Path(tmp) / "audio.wav"
        sf.write(str(wav), samples, sample_rate_hz, subtype="PCM_16")
        cmd = [
            ffmpeg_exe("preview video"), "-y", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size}x{size}", "-r", str(rate), "-i", "-",
            "-i", str(wav),
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", "-f", "mp4", str(part),
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None and proc.stderr is not None
        done = False
        try:
            try:
                for k in range(0, len(take.frames), step):
                    img = renderer.render(take.frames[k].pose, _caption(take, k))
                    proc.stdin.write(frame_array(img).tobytes())
                proc.stdin.close()
            except BrokenPipeError:
                pass  # ffmpeg exited early; its message is read below
            err = proc.stderr.read().decode(errors="replace").strip()
            if proc.wait() != 0:
                raise BridgeError(f"{path}: ffmpeg failed: {err.splitlines()[-1] if err else 'no message'}")
            os.replace(part, path)
            done = True
        except OSError as e:
            raise BridgeError(f"{path}: cannot write ({e.strerror or e})") from e
        finally:
            if not done:  # failed or interrupted: stop ffmpeg before it finalizes the partial file
                proc.kill()
                proc.wait()
                with contextlib.suppress(OSError):
                    part.unlink(missing_ok=True)
    log.info("wrote %s (%d frames at %s fps, %dx%d)", path, -(-len(take.frames) // step), rate, size, size,
             extra={"event": "preview_written", "file": str(path)})  # fmt: skip


# ffmpeg writes an MP4 container whatever the name says; these names play it as what it is.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov")


def run_preview(request: PreviewRequest) -> int:
    """CLI entry: bake the file in memory, then write the video and/or the plot."""
    if request.video is None and request.plot is None:
        raise ConfigError("preview: give -o OUT.mp4 and/or --plot OUT.png")
    txt = transcript_path(request.source)
    # Outputs are checked before the bake, so a mistake in them costs no work. The transcript is
    # protected also when it is not read this run (--text, --no-text-files).
    outputs = [(flag, out) for flag, out in (("-o", request.video), ("--plot", request.plot)) if out is not None]
    for flag, out in outputs:
        refuse_overwrite(flag, out, (request.source, txt))
    if request.video is not None:
        if request.video.suffix.lower() not in VIDEO_SUFFIXES:
            good = request.video.with_suffix(".mp4").name
            raise ConfigError(f"-o {request.video}: preview writes an MP4 video; name it {good} "
                              f"(or {', '.join(VIDEO_SUFFIXES[1:])})")  # fmt: skip
        _check_size(request.size)
    if request.plot is not None:
        from bridge.offline.plot import check_plot_path

        check_plot_path(request.plot)
    for _, out in outputs:  # only once every name is known to be right: a refused one leaves no folder
        make_parent(out)
    samples, rate_hz = read_audio(request.source, request.settings.cfg.audio.channel)
    text, _ = find_transcript(request.source, request.text, request.text_files)  # bake's rules
    take, _ = make_take(request.source, samples, rate_hz, request.settings, text)
    for w in take.warnings:
        log.warning("%s: %s", request.source, w, extra={"event": "bake_warning", "file": str(request.source)})
    if request.video is not None:
        render_video(take, np.asarray(samples, dtype=np.float32), rate_hz, request.video, request.size)
    if request.plot is not None:
        from bridge.offline.plot import plot_take

        plot_take(take, samples, rate_hz, request.plot)
        log.info("wrote %s", request.plot, extra={"event": "plot_written", "file": str(request.plot)})
    return 0
