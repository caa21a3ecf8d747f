"""Raw PCM from standard input (s16le or f32le, interleaved), e.g. `arecord ... | avatar-bridge run --input -`."""

from __future__ import annotations

import functools
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

import numpy as np

from bridge.audio.downmix import StreamDownmix
from bridge.audio.samples import unusable
from bridge.errors import AudioError
from bridge.frames import AudioBlock
from bridge.logs import RateLimitedLog

log = logging.getLogger(__name__)
STDIN_FD = 0
STALL_S = 0.5  # no input for this long after audio has come: the sender stalled, the face rests


class StdinSource:
    """Blocks of raw PCM read from a binary stream as they arrive."""

    def __init__(
        self,
        rate_hz: int,
        channels: int,
        sample_format: str,
        channel: int | None,
        block_ms: int,
        stream: BinaryIO | None = None,
    ) -> None:
        self.sample_rate_hz = rate_hz
        self.name = "stdin"
        self._channels = channels
        self._dtype = np.dtype("<i2") if sample_format == "s16le" else np.dtype("<f4")
        self._scale = 1 / 32768 if sample_format == "s16le" else 1.0
        if channel is not None and channel >= channels:
            raise AudioError(f"stdin: channel {channel} requested but the stream has {channels} channels")
        self._frame_bytes = self._dtype.itemsize * channels
        self._block_bytes = max(1, rate_hz * block_ms // 1000) * self._frame_bytes
        if stream is None and sys.stdin is None:
            # Python found descriptor 0 closed at start (`<&-`): the next file opened (ZeroMQ's) takes it.
            raise AudioError("stdin: there is no standard input (it is closed)")
        self._stream = stream
        self.dropped_s = 0.0
        # Channels that cancel in the mean are judged once, on the first loud second (bridge.audio.downmix).
        self._downmix = StreamDownmix(rate_hz, channels, channel, self.name)
        self._glitches = RateLimitedLog(log)

    def blocks(self) -> Iterator[AudioBlock]:
        """Yield blocks until end of input; a trailing partial sample frame is ignored.

        When the input pauses for ``STALL_S`` after audio has arrived (the sending program stalls),
        silence is yielded in real time until audio comes again, as for a microphone that drops out:
        receivers keep getting frames, with the face at rest, instead of the last pose frozen.

        Raises:
            AudioError: the stream ends before any audio arrived.
        """
        chunks: queue.SimpleQueue[bytes | BaseException | None] = queue.SimpleQueue()
        threading.Thread(target=self._read_all, args=(chunks,), name="stdin-reader", daemon=True).start()
        n_stream = 0
        pending = b""
        last_data_s = time.monotonic()
        stalled = False
        block_frames = self._block_bytes // self._frame_bytes
        block_s = block_frames / self.sample_rate_hz
        due_s = 0.0  # while stalled: when the next block of silence is due
        while True:
            try:
                chunk = chunks.get(timeout=max(0.0, due_s - time.monotonic()) if stalled else block_s)
            except queue.Empty:
                now_s = time.monotonic()
                if n_stream and now_s - last_data_s >= STALL_S:
                    if not stalled:
                        stalled, due_s = True, now_s
                        log.warning("stdin: no audio for %.1f s; the face rests until it comes again", STALL_S,
                                    extra={"event": "stdin_stalled"})  # fmt: skip
                    # Against a deadline: waiting a block's time after each block ran 13 % slow. After a
                    # consumer that was held up (Ctrl+Z), one block, not the whole backlog at once.
                    due_s = max(due_s, now_s - block_s)
                    while due_s <= now_s:
                        silence = np.zeros(block_frames, dtype=np.float32)
                        yield AudioBlock(silence, self.sample_rate_hz, now_s, n_stream / self.sample_rate_hz)
                        n_stream += block_frames
                        due_s += block_s
                continue
            if chunk is None:
                break
            if isinstance(chunk, BaseException):
                raise chunk
            if stalled:
                stalled = False
                log.info("stdin: audio again after %.1f s", time.monotonic() - last_data_s,
                         extra={"event": "stdin_resumed"})  # fmt: skip
            last_data_s = time.monotonic()
            pending += chunk
            usable = len(pending) - len(pending) % self._frame_bytes
            if usable == 0:
                continue
            raw = np.frombuffer(pending[:usable], dtype=self._dtype).reshape(-1, self._channels)
            pending = pending[usable:]
            samples = raw.astype(np.float32) * np.float32(self._scale)
            bad = unusable(samples)
            if bad.any():  # a sender's glitch must not end a live show: the samples become silence
                samples[bad] = 0.0
                self._glitches.warning("stdin: %d NaN, infinite or out-of-range samples replaced with silence "
                                       "(a glitch in the sender, or the wrong --stdin-format?)",
                                       int(bad.sum()))  # fmt: skip
            mono = self._downmix(samples)
            yield AudioBlock(mono, self.sample_rate_hz, time.monotonic(), n_stream / self.sample_rate_hz)
            n_stream += mono.shape[0]
        self._glitches.flush()
        if n_stream == 0:
            raise AudioError("stdin: no audio arrived (empty input)")

    def _read_all(self, chunks: queue.SimpleQueue[bytes | BaseException | None]) -> None:
        """Reader thread: the stream's bytes as they arrive, then None at its end (or the read's error)."""
        try:
            # The process's stdin is read by its descriptor: a read blocked in sys.stdin.buffer holds the
            # buffer's lock, and Python then aborts at exit (Ctrl+C: exit 134 and a core dump).
            read: Callable[[int], bytes] = (
                functools.partial(os.read, STDIN_FD) if self._stream is None
                else getattr(self._stream, "read1", self._stream.read)
            )  # fmt: skip
            while chunk := read(self._block_bytes):
                chunks.put(chunk)
            chunks.put(None)
        except OSError as e:  # standard input closed (`<&-`), or a device that fails
            chunks.put(AudioError(f"stdin: cannot read ({e.strerror or e})"))
        except BaseException as e:  # handed to blocks(), which raises it in the caller's thread
            chunks.put(e)

    def stop(self) -> None:
        """Nothing to release: the stream ends when the writer closes it."""
