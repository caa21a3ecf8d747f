"""Microphone capture through PortAudio (sounddevice) into a bounded ring buffer.

Real-time contract of the audio callback (PortAudio's thread): it only copies ``indata`` into a
preallocated ring, advances a counter and wakes the reader by posting a token to a
``queue.SimpleQueue`` (whose ``put`` is documented never to block). It does not log, allocate arrays,
take locks, or touch anything that can block. The consumer thread owns everything else: it sleeps
until a callback has written (not on a timer, which made every block wait up to half a block more),
and if it falls more than the ring's capacity behind, it skips to the newest audio and counts what was
dropped (the oldest audio is lost, never the newest).
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import numpy as np
import numpy.typing as npt

from bridge.audio.resample import to_mono
from bridge.errors import DeviceError
from bridge.frames import AudioBlock
from bridge.logs import stderr_restored_after

log = logging.getLogger(__name__)

_NO_DATA_TIMEOUT_S = 2.0  # no callback for this long after the first one: the device has gone
_WAIT_S = 0.1  # longest the reader sleeps without a callback before it checks that the device is alive
_CLOSE_TIMEOUT_S = 1.0  # a sound server that stopped answering blocks PortAudio's close for about a minute
# PortAudio's initialisation takes well under a second, also with a sound server that starts on demand;
# one that accepts the connection and then never answers (a stopped PulseAudio) blocks it for good.
_INIT_TIMEOUT_S = 5.0
_LEFT_HANGING = threading.Event()


def device_left_hanging() -> bool:
    """Whether PortAudio was left initialising, or a stream closing, on a sound server that stopped
    answering; PortAudio's own exit handler would then block too, so the CLI ends the process without
    running it."""
    return _LEFT_HANGING.is_set()


def _close_without_waiting(stream: Any) -> None:
    done = threading.Event()

    def close() -> None:
        stream.close(ignore_errors=True)
        done.set()

    threading.Thread(target=close, name="audio-close", daemon=True).start()
    if not done.wait(_CLOSE_TIMEOUT_S):
        _LEFT_HANGING.set()
        log.warning("the audio device did not close within %.0f s: the sound server is not answering", _CLOSE_TIMEOUT_S)
_STARTUP_GRACE_S = 5.0  # PulseAudio may take up to ~2 s to deliver the first callback


def _import_sounddevice(result: Future[Any]) -> None:
    try:
        import sounddevice
    except Exception as e:  # handed to the waiting thread, which reports it
        result.set_exception(e)
    else:
        result.set_result(sounddevice)


@functools.cache  # a success only: a failure raises, so the next call tries again
def _sounddevice() -> Any:
    """The sounddevice module, whose import initialises PortAudio.

    The import runs in a helper thread given ``_INIT_TIMEOUT_S``: PortAudio's initialisation waits
    for the sound server without a timeout of its own, and the main thread must stay free to stop
    with one clear line, and to take SIGTERM, meanwhile. sounddevice points stderr at /dev/null
    for that time, so the line needs stderr back even while the import is stuck.

    Raises:
        DeviceError: PortAudio is missing, or the sound server does not answer.
    """
    result: Future[Any] = Future()
    try:
        with stderr_restored_after():
            threading.Thread(target=_import_sounddevice, args=(result,), name="audio-init", daemon=True).start()
            return result.result(timeout=_INIT_TIMEOUT_S)
    except FutureTimeout:
        raise DeviceError(
            f"the sound server (PulseAudio or PipeWire) is not answering: PortAudio's initialisation did not "
            f"finish within {_INIT_TIMEOUT_S:.0f} s"
        ) from None
    except OSError as e:
        raise DeviceError(f"PortAudio is not available ({e}); install libportaudio2") from e
    finally:
        if not result.done():  # timed out or interrupted: still stuck in PortAudio
            _LEFT_HANGING.set()


def list_input_devices() -> list[tuple[int, str, int, float]]:
    """(index, name, max input channels, default rate) of every device that can record."""
    sd = _sounddevice()
    return [
        (i, str(d["name"]), int(d["max_input_channels"]), float(d["default_samplerate"]))
        for i, d in enumerate(sd.query_devices())
        if int(d["max_input_channels"]) > 0
    ]


def resolve_device(spec: str) -> int | None:
    """Turn "default", an index or a (part of a) device name into a PortAudio input device index.

    Raises:
        DeviceError: no such input device.
    """
    if spec == "default":
        return None
    devices = list_input_devices()
    if spec.isdigit():
        idx = int(spec)
        if any(i == idx for i, *_ in devices):
            return idx
        raise DeviceError(f"input device {idx} does not exist (see `avatar-bridge devices`)")
    exact = [i for i, name, *_ in devices if name == spec]
    partial = [(i, name) for i, name, *_ in devices if spec.lower() in name.lower()]
    if exact:
        return exact[0]
    if len(partial) == 1:
        return partial[0][0]
    if partial:
        names = ", ".join(f"{i} {name!r}" for i, name in partial)
        raise DeviceError(f"input device name {spec!r} is ambiguous: {len(partial)} devices match ({names})")
    raise DeviceError(f"no input device named {spec!r} (see `avatar-bridge devices`)")


class RingBuffer:
    """Single-producer single-consumer ring of interleaved float32 frames.

    The producer only writes samples, advances ``written`` and posts a wake-up token; the consumer only
    advances its own read position. Python int assignment is atomic under the GIL, so no lock is needed.
    """

    def __init__(self, capacity: int, channels: int) -> None:
        self.buf = np.zeros((capacity, channels), dtype=np.float32)
        self.capacity = capacity
        self.written = 0
        self.t_last_write_s = 0.0
        self.read_pos = 0
        self.dropped = 0
        self._wakeups: queue.SimpleQueue[None] = queue.SimpleQueue()

    def write(self, frames: npt.NDArray[np.float32]) -> None:
        """Producer side (audio callback): copy, then publish the new count."""
        n = frames.shape[0]
        if n > self.capacity:
            frames = frames[n - self.capacity :]
            n = self.capacity
        start = self.written % self.capacity
        first = min(n, self.capacity - start)
        self.buf[start : start + first] = frames[:first]
        if first < n:
            self.buf[: n - first] = frames[first:]
        self.t_last_write_s = time.monotonic()
        self.written += n
        self._wakeups.put(None)  # never blocks; wakes a consumer in wait()

    def wake(self) -> None:
        """Wake a consumer blocked in wait() without writing (e.g. to make it see a stop request)."""
        self._wakeups.put(None)

    def wait(self, timeout_s: float) -> bool:
        """Consumer side: sleep until a write (or wake()) since the last wait, at most ``timeout_s``.

        Returns:
            True if woken, False if the time ran out first.
        """
        try:
            self._wakeups.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            return False
        while True:  # one read serves every write so far
            try:
                self._wakeups.get_nowait()
            except queue.Empty:
                return True

    def read_available(self) -> tuple[npt.NDArray[np.float32], float]:
        """Consumer side: everything written since the last read (oldest dropped on overflow)."""
        written = self.written
        t_s = self.t_last_write_s
        behind = written - self.read_pos
        if behind > self.capacity:
            self.dropped += behind - self.capacity
            self.read_pos = written - self.capacity
        n = written - self.read_pos
        start = self.read_pos % self.capacity
        idx = (start + np.arange(n)) % self.capacity
        out = self.buf[idx]
        self.read_pos = written
        return out, t_s


class MicrophoneSource:
    """Blocks from an input device, mono at the device's rate."""

    def __init__(self, device: str, channel: int | None, buffer_s: float, block_ms: int) -> None:
        sd = _sounddevice()
        self._sd = sd
        index = resolve_device(device)
        try:
            info = sd.query_devices(index, "input")
        except (ValueError, sd.PortAudioError) as e:
            raise DeviceError(f"no usable input device ({e}); `avatar-bridge devices` lists the inputs") from e
        self.name = str(info["name"])
        self.sample_rate_hz = int(info["default_samplerate"])
        max_ch = int(info["max_input_channels"])
        if channel is not None and channel >= max_ch:
            raise DeviceError(f"channel {channel} requested but {self.name!r} has {max_ch} input channels")
        # Downmix at most a stereo pair; a selected channel needs every channel up to it opened.
        self.channels = min(max_ch, 2) if channel is None else channel + 1
        self._channel = channel
        self._block_s = block_ms / 1000
        self.ring = RingBuffer(max(1, int(buffer_s * self.sample_rate_hz)), self.channels)
        try:
            self._stream = sd.InputStream(
                device=index,
                samplerate=self.sample_rate_hz,
                channels=self.channels,
                dtype="float32",
                blocksize=max(1, int(self.sample_rate_hz * self._block_s)),
                latency="low",
                callback=self._callback,
            )
        except sd.PortAudioError as e:
            raise DeviceError(f"cannot open input device {self.name!r}: {e} (is it busy?)") from e
        self._stopped = False

    def _callback(self, indata: npt.NDArray[np.float32], frames: int, time_info: Any, status: Any) -> None:
        self.ring.write(indata)

    @property
    def dropped_s(self) -> float:
        return self.ring.dropped / self.sample_rate_hz

    def blocks(self) -> Iterator[AudioBlock]:
        """Yield captured audio until stop() is called.

        Raises:
            DeviceError: the device stops delivering audio (unplugged, server gone).
        """
        try:
            self._stream.start()
        except self._sd.PortAudioError as e:
            raise DeviceError(f"cannot start input device {self.name!r}: {e}") from e
        log.info("capturing from %r at %d Hz, %d channel(s)", self.name, self.sample_rate_hz, self.channels)
        n_stream = 0
        t_last_data = time.monotonic() + _STARTUP_GRACE_S - _NO_DATA_TIMEOUT_S
        try:
            while not self._stopped:
                self.ring.wait(_WAIT_S)
                frames, t_capture_s = self.ring.read_available()
                now = time.monotonic()
                if frames.shape[0] == 0:
                    if now - t_last_data > _NO_DATA_TIMEOUT_S or not self._stream.active:
                        raise DeviceError(f"input device {self.name!r} stopped delivering audio (vanished?)")
                    continue
                t_last_data = now
                mono = to_mono(frames, self._channel)
                yield AudioBlock(mono, self.sample_rate_hz, t_capture_s, n_stream / self.sample_rate_hz)
                n_stream += mono.shape[0]
        finally:
            _close_without_waiting(self._stream)

    def stop(self) -> None:
        self._stopped = True
        self.ring.wake()
