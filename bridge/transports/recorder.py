"""Record published frames to a JSON Lines file and read recordings back.

Format (schemas/recording.md): line 1 ``{"format": "avatar-bridge-record", "v": 1}``, then one
frame per line with ``t_rel_s``, the publish time relative to the first recorded frame.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bridge.errors import ProtocolError, TransportError
from bridge.frames import AnimationFrame
from bridge.paths import refuse_overwrite
from bridge.transports.encoding import decode_record, decode_record_header, encode_record, encode_record_header

log = logging.getLogger(__name__)


class RecorderSink:
    """Appends every frame it is sent to a recording, from a writer thread of its own.

    ``send`` encodes the frame and queues it; the writer thread writes each line through to the file as
    it comes (one write call per frame, a few kB/s), so that after a write error ``frames`` is exactly
    what the file keeps (plus at most one cut-off line, which a reader drops). A file that stops taking
    writes (a pipe whose reader stalls, a hung network share) blocks only that thread: once
    ``QUEUE_FRAMES`` frames wait, the recording is given up and the live stream goes on.

    Attributes:
        frames: frames written to the file.
        failure: why the recording stopped before the stream ended (e.g. "No space left on device"),
            or None; the live stream goes on either way.
    """

    name = "record"
    QUEUE_FRAMES = 2000  # 20 s at 100 frames/s: far more than a disk's hiccup, far less than memory
    CLOSE_WAIT_S = 2.0  # how long closing waits for the writer to finish the queue

    def __init__(self, path: str | Path, *, stream_clock: bool = False) -> None:
        """``stream_clock``: pace the recording by the frames' stream time instead of their publish time
        (a ``--fast`` run, a replay at another speed: their publish times are not the take's pace)."""
        self.path = Path(path)
        try:
            self._file: IO[bytes] = self.path.open("wb")
        except OSError as e:
            raise TransportError(f"recording {self.path}: cannot open ({e.strerror or e})") from e
        self._stream_clock = stream_clock
        self._t0_s: float | None = None
        self._queued = 0
        self._closed = False
        self.frames = 0
        self.failure: str | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=self.QUEUE_FRAMES)
        self._queue.put(encode_record_header())
        self._writer = threading.Thread(target=self._write_all, name="recorder", daemon=True)
        self._writer.start()

    def send(self, frame: AnimationFrame, /) -> None:
        if self.failure is not None:  # stopped: the live stream goes on without it
            return
        t_s = frame.t_s if self._stream_clock else frame.t_publish_s
        if self._t0_s is None:
            self._t0_s = t_s
        try:
            self._queue.put_nowait(encode_record(frame, t_s - self._t0_s))
        except queue.Full:
            self.failure = "the file stopped taking writes (a stalled pipe or network share?)"
            log.error("recording %s stopped after %d frames: %s; the stream goes on", self.path, self.frames,
                      self.failure)  # fmt: skip
            return
        self._queued += 1

    def _write_all(self) -> None:
        header = True
        while (data := self._queue.get()) is not None:
            try:
                self._file.write(data)
                self._file.flush()
            except OSError as e:
                self._fail(e)
                log.error("recording %s stopped after %d frames: %s; the stream goes on", self.path, self.frames,
                          self.failure)  # fmt: skip
                return
            if header:
                header = False
            else:
                self.frames += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Not "is the file closed": after a write error the writer closes it, then logs, and closing must
        # still wait for that thread, or the error line could come after the run's summary.
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=self.CLOSE_WAIT_S)
        self._writer.join(self.CLOSE_WAIT_S)
        if self._writer.is_alive():  # blocked in a write that does not return: leave it, and say so
            if self.failure is None:
                self.failure = "the file stopped taking writes (a stalled pipe or network share?)"
            log.error("recording %s: still blocked writing at the end of the run; %d of %d frames written",
                      self.path, self.frames, self._queued)  # fmt: skip
            return
        if self._file.closed:  # the writer stopped at a write error and said so
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


def check_record_target(record: str | None, inputs: tuple[Path, ...]) -> None:
    """Refuse a ``--record`` file that is one of the files being read; warn before replacing an older take.

    Raises:
        ConfigError: the recording would overwrite an input.
    """
    if record is None:
        return
    target = Path(record)
    refuse_overwrite("--record", target, inputs)
    if target.exists():
        log.warning("--record %s: the file exists and is overwritten", target,
                    extra={"event": "record_overwrite", "file": str(target)})  # fmt: skip


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
