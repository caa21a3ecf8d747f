"""Raw PCM from standard input (s16le or f32le, interleaved), e.g. `arecord ... | avatar-bridge run --input -`."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from bridge.audio.downmix import StreamDownmix
from bridge.errors import AudioError
from bridge.frames import AudioBlock

log = logging.getLogger(__name__)


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
        self._stream = stream if stream is not None else sys.stdin.buffer
        self.dropped_s = 0.0
        # Channels that cancel in the mean are judged once, on the first loud second (bridge.audio.downmix).
        self._downmix = StreamDownmix(rate_hz, channels, channel, self.name)

    def blocks(self) -> Iterator[AudioBlock]:
        """Yield blocks until end of input; a trailing partial sample frame is ignored.

        Raises:
            AudioError: the stream ends before any audio arrived.
        """
        n_stream = 0
        pending = b""
        while True:
            chunk = self._stream.read1(self._block_bytes) if hasattr(self._stream, "read1") else (
                self._stream.read(self._block_bytes)
            )
            if not chunk:
                break
            pending += chunk
            usable = len(pending) - len(pending) % self._frame_bytes
            if usable == 0:
                continue
            raw = np.frombuffer(pending[:usable], dtype=self._dtype).reshape(-1, self._channels)
            pending = pending[usable:]
            samples = raw.astype(np.float32) * np.float32(self._scale)
            if not np.all(np.isfinite(samples)):
                raise AudioError("stdin: the stream holds NaN or infinite samples (wrong --stdin-format?)")
            mono = self._downmix(samples)
            yield AudioBlock(mono, self.sample_rate_hz, time.monotonic(), n_stream / self.sample_rate_hz)
            n_stream += mono.shape[0]
        if n_stream == 0:
            raise AudioError("stdin: no audio arrived (empty input)")

    def stop(self) -> None:
        """Nothing to release: the stream ends when the writer closes it."""
