"""Record published frames to a JSON Lines file and read recordings back.

Format (schemas/recording.md): line 1 ``{"format": "avatar-bridge-record", "v": 1}``, then one
frame per line with ``t_rel_s``, the publish time relative to the first recorded frame.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bridge.errors import ProtocolError, TransportError
from bridge.frames import AnimationFrame
from bridge.transports.encoding import decode_record, decode_record_header, encode_record, encode_record_header

log = logging.getLogger(__name__)


class RecorderSink:
    """Appends every frame it is sent to a recording.

    Each frame is written through to the file as it comes (one write call per frame, a few kB/s), so
    that after a write error ``frames`` is exactly what the file keeps (plus at most one cut-off line,
    which a reader drops).

    Attributes:
        frames: frames written to the file.
        failure: why the recording stopped before the stream ended (e.g. "No space left on device"),
            or None; the live stream goes on either way.
    """

    name = "record"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._file: IO[bytes] = self.path.open("wb")
        except OSError as e:
            raise TransportError(f"recording {self.path}: cannot open ({e.strerror or e})") from e
        self._file.write(encode_record_header())
        self._t0_s: float | None = None
        self.frames = 0
        self.failure: str | None = None

    def send(self, frame: AnimationFrame, /) -> None:
        if self.failure is not None:  # stopped by a write error: the live stream goes on without it
            return
        if self._t0_s is None:
            self._t0_s = frame.t_publish_s
        try:
            self._file.write(encode_record(frame, frame.t_publish_s - self._t0_s))
            self._file.flush()
        except OSError as e:
            self._fail(e)
            log.error("recording %s stopped after %d frames: %s; the stream goes on", self.path, self.frames,
                      self.failure)  # fmt: skip
            return
        self.frames += 1

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self._file.close()
        except OSError as e:
            self._fail(e)
            log.error("recording %s: closing failed: %s", self.path, self.failure)
            return
        if self.failure is None:
            log.info("recorded %d frames to %s", self.frames, self.path)

    def _fail(self, e: OSError) -> None:
        self.failure = e.strerror or str(e)
        with contextlib.suppress(OSError):  # the bytes that failed fail again; they are lost
            self._file.close()


def read_recording(path: str | Path) -> Iterator[tuple[float, AnimationFrame]]:
    """Yield (t_rel_s, frame) from a recording.

    Raises:
        TransportError: the file cannot be read.
        ProtocolError: not a recording, or a malformed line (the message names the line).
    """
    p = Path(path)
    try:
        with p.open("rb") as f:
            try:
                decode_record_header(f.readline())
            except ProtocolError as e:
                raise ProtocolError(f"{p}:1: {e}") from e
            for number, line in enumerate(f, start=2):
                if not line.strip():
                    continue
                try:
                    record = decode_record(line)
                except ProtocolError as e:
                    if not line.endswith(b"\n"):  # cut off by a crash or a full disk: keep what came before
                        log.warning("%s:%d: the last line is cut off; the recording ends before it", p, number)
                        return
                    raise ProtocolError(f"{p}:{number}: {e}") from e
                yield record
    except OSError as e:
        raise TransportError(f"recording {p}: cannot read ({e.strerror or e})") from e
