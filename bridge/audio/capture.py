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
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from bridge.audio.downmix import StreamDownmix
from bridge.errors import DeviceError
from bridge.frames import AudioBlock
from bridge.logs import stderr_restored_after

log = logging.getLogger(__name__)
_T = TypeVar("_T")

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
_REOPEN_EVERY_S = 1.0  # pause between two attempts to reopen a device that stopped delivering


def _within_init_timeout(call: Callable[[], _T], name: str) -> _T:
    """``call()`` (a PortAudio initialisation) in a helper thread given ``_INIT_TIMEOUT_S``.

    PortAudio waits for the sound server without a timeout of its own, and the calling thread must
    stay free to stop with one clear line (and to take SIGTERM) meanwhile. sounddevice points stderr
    at /dev/null while it initialises, so log lines need stderr back even while the call is stuck.

    Raises:
        FutureTimeout: the call has not returned in time; PortAudio is then left hanging.
        Exception: what ``call`` raised.
    """
    result: Future[_T] = Future()

    def work() -> None:
        try:
            result.set_result(call())
        except BaseException as e:  # handed to the waiting thread, which reports it
            result.set_exception(e)

    try:
        with stderr_restored_after():
            threading.Thread(target=work, name=name, daemon=True).start()
            return result.result(timeout=_INIT_TIMEOUT_S)
    finally:
        if not result.done():  # timed out or interrupted: still stuck in PortAudio
            _LEFT_HANGING.set()


def _import_sounddevice() -> Any:
    import sounddevice

    return sounddevice


@functools.cache  # a success only: a failure raises, so the next call tries again
def _sounddevice() -> Any:
    """The sounddevice module, whose import initialises PortAudio.

    The import runs within ``_INIT_TIMEOUT_S`` (``_within_init_timeout``).

    Raises:
        DeviceError: PortAudio is missing, or the sound server does not answer.
    """
    try:
        return _within_init_timeout(_import_sounddevice, "audio-init")
    except FutureTimeout:
        raise DeviceError(
            f"the sound server (PulseAudio or PipeWire) is not answering: PortAudio's initialisation did not "
            f"finish within {_INIT_TIMEOUT_S:.0f} s"
        ) from None
    except OSError as e:
        raise DeviceError(f"PortAudio is not available ({e}); install libportaudio2") from e


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

    The producer only writes samples, publishes the new count with its time and posts a wake-up token;
    the consumer only advances its own read position. The count and time are one tuple, replaced in one
    atomic assignment under the GIL, so no lock is needed and a reader never pairs a count with the
    time of another write.
    """

    def __init__(self, capacity: int, channels: int) -> None:
        self.buf = np.zeros((capacity, channels), dtype=np.float32)
        self.capacity = capacity
        self.head: tuple[int, float] = (0, 0.0)  # (frames written so far, monotonic time of that write)
        self.read_pos = 0
        self.dropped = 0
        self._wakeups: queue.SimpleQueue[None] = queue.SimpleQueue()

    def write(self, frames: npt.NDArray[np.float32]) -> None:
        """Producer side (audio callback): copy, then publish the new count."""
        n = frames.shape[0]
        if n > self.capacity:
            frames = frames[n - self.capacity :]
            n = self.capacity
        written = self.head[0]
        start = written % self.capacity
        first = min(n, self.capacity - start)
        self.buf[start : start + first] = frames[:first]
        if first < n:
            self.buf[: n - first] = frames[first:]
        self.head = (written + n, time.monotonic())
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
        written, t_s = self.head
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
    """Blocks from an input device, mono at the device's rate.

    A device that stops delivering (unplugged, sound server killed or restarting) is reopened for up
    to ``reopen_s``: meanwhile the reader yields silence paced in real time (the face rests through the
    normal voice-activity path and the stream time runs on) while a helper thread re-initialises
    PortAudio (the only way to see a restarted server's devices) and opens the same device spec, about
    once a second, at the sample rate and channel count of the first open (the ring and the pipeline
    keep them; a device that cannot give them is not back). PortAudio is touched by one thread at a
    time: the dead stream is closed first, and only one attempt runs at once.
    """

    def __init__(self, device: str, channel: int | None, buffer_s: float, block_ms: int, reopen_s: float = 0.0) -> None:
        sd = _sounddevice()
        self._sd = sd
        self._device = device
        self._reopen_s = reopen_s
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
        # Channels that cancel in the mean are judged once, on the first loud second (bridge.audio.downmix).
        self._downmix = StreamDownmix(self.sample_rate_hz, self.channels, channel, self.name)
        self._block_s = block_ms / 1000
        self.ring = RingBuffer(max(1, int(buffer_s * self.sample_rate_hz)), self.channels)
        try:
            self._stream: Any = self._open(index)
        except sd.PortAudioError as e:
            raise DeviceError(f"cannot open input device {self.name!r}: {e} (is it busy?)") from e
        self._stopped = False
        self._n_stream = 0  # samples yielded so far, silence included

    def _open(self, index: int | None) -> Any:
        return self._sd.InputStream(
            device=index,
            samplerate=self.sample_rate_hz,
            channels=self.channels,
            dtype="float32",
            blocksize=max(1, int(self.sample_rate_hz * self._block_s)),
            latency="low",
            callback=self._callback,
        )

    def _callback(self, indata: npt.NDArray[np.float32], frames: int, time_info: Any, status: Any) -> None:
        self.ring.write(indata)

    @property
    def dropped_s(self) -> float:
        return self.ring.dropped / self.sample_rate_hz

    def blocks(self) -> Iterator[AudioBlock]:
        """Yield captured audio until stop() is called, silence while the device is being reopened.

        Raises:
            DeviceError: the device stops delivering audio (unplugged, server gone) and is not back
                within ``reopen_s``.
        """
        try:
            self._stream.start()
        except self._sd.PortAudioError as e:
            raise DeviceError(f"cannot start input device {self.name!r}: {e}") from e
        log.info("capturing from %r at %d Hz, %d channel(s)", self.name, self.sample_rate_hz, self.channels)
        grace_s = _STARTUP_GRACE_S
        try:
            while not self._stopped:
                yield from self._delivered(grace_s)
                if self._stopped:
                    break
                lost = f"input device {self.name!r} stopped delivering audio"
                if self._reopen_s <= 0:
                    raise DeviceError(f"{lost} (vanished?)")
                log.warning("%s; trying to reopen it for up to %.0f s", lost, self._reopen_s)
                stream, self._stream = self._stream, None
                _close_without_waiting(stream)
                if device_left_hanging():  # PortAudio is stuck in the close: no call into it can work
                    raise DeviceError(
                        f"{lost}, and the sound server (PulseAudio or PipeWire) is not answering: closing the "
                        f"device did not finish within {_CLOSE_TIMEOUT_S:.0f} s"
                    )
                yield from self._silence_until_reopened(lost)
                grace_s = _NO_DATA_TIMEOUT_S  # it has delivered already
        finally:
            if self._stream is not None:
                _close_without_waiting(self._stream)

    def _delivered(self, grace_s: float) -> Iterator[AudioBlock]:
        """The device's audio; returns when stop() is called or the device stops delivering."""
        t_last_data = time.monotonic() + grace_s - _NO_DATA_TIMEOUT_S
        while not self._stopped:
            self.ring.wait(_WAIT_S)
            frames, t_capture_s = self.ring.read_available()
            now = time.monotonic()
            if frames.shape[0] == 0:
                if now - t_last_data > _NO_DATA_TIMEOUT_S or not self._stream.active:
                    return
                continue
            t_last_data = now
            yield self._block(self._downmix(frames), t_capture_s)

    def _block(self, mono: npt.NDArray[np.float32], t_capture_s: float) -> AudioBlock:
        block = AudioBlock(mono, self.sample_rate_hz, t_capture_s, self._n_stream / self.sample_rate_hz)
        self._n_stream += mono.shape[0]
        return block

    def _silence_until_reopened(self, lost: str) -> Iterator[AudioBlock]:
        """Silence in real time while reopening; returns once the reopened device has delivered.

        Raises:
            DeviceError: not back within ``reopen_s``, or PortAudio stuck on a server that does not answer.
        """
        rate = self.sample_rate_hz
        n_block = max(1, int(rate * self._block_s))
        t_lost = time.monotonic()
        n_silence = 0
        attempt: Future[Any] | None = None
        opened: Any = None  # started by an attempt, waiting for its first callback
        t_opened = 0.0
        written = self.ring.head[0]
        t_next_try = t_lost
        try:
            while not self._stopped:
                now = time.monotonic()
                if opened is not None and self.ring.head[0] > written:
                    self._stream, opened = opened, None
                    log.info("input device %r reopened after %.1f s", self.name, now - t_lost)
                    return
                if opened is not None and now - t_opened > _STARTUP_GRACE_S:  # opened, but silent
                    stream, opened = opened, None
                    _close_without_waiting(stream)
                if attempt is not None and attempt.done():
                    try:
                        opened, t_opened = attempt.result(), now
                        log.debug("opened %r again; waiting for its first audio", self._device)
                    except Exception as e:  # any failure of an attempt means "not back yet"
                        log.debug("reopening %r failed: %s", self._device, e)
                        t_next_try = now + _REOPEN_EVERY_S
                    attempt = None
                if device_left_hanging():
                    raise DeviceError(
                        f"{lost}, and the sound server (PulseAudio or PipeWire) is not answering: PortAudio's "
                        f"re-initialisation did not finish within {_INIT_TIMEOUT_S:.0f} s"
                    )
                if now - t_lost >= self._reopen_s:
                    raise DeviceError(f"{lost} (vanished?)")
                if attempt is None and opened is None and now >= t_next_try:
                    written = self.ring.head[0]
                    attempt = Future()
                    threading.Thread(target=self._reopen, args=(attempt,), name="audio-reopen", daemon=True).start()
                while int((now - t_lost) * rate) - n_silence >= n_block:
                    n_silence += n_block
                    yield self._block(np.zeros(n_block, dtype=np.float32), t_lost + n_silence / rate)
                self.ring.wait(max(0.0, t_lost + (n_silence + n_block) / rate - time.monotonic()))
        finally:
            if opened is not None:
                _close_without_waiting(opened)
            if attempt is not None:  # still in PortAudio: its exit handler must not run meanwhile
                _LEFT_HANGING.set()
                attempt.add_done_callback(_close_opened)

    def _reopen(self, result: Future[Any]) -> None:
        """One attempt (helper thread): re-initialise PortAudio, open and start the same device spec.

        PortAudio's initialisation is given ``_INIT_TIMEOUT_S``, as at start-up; past that PortAudio is
        left hanging and the attempt fails with a DeviceError.
        """
        try:
            result.set_result(_within_init_timeout(self._reinitialise_and_start, "audio-reinit"))
        except FutureTimeout:
            result.set_exception(DeviceError("PortAudio's re-initialisation did not finish"))
        except BaseException as e:  # handed to the reader through ``result``
            result.set_exception(e)

    def _reinitialise_and_start(self) -> Any:
        sd = self._sd
        if sd._initialized:  # a failed attempt may have left it terminated
            sd._terminate()
        sd._initialize()
        stream = self._open(resolve_device(self._device))
        try:
            stream.start()
        except BaseException:
            stream.close(ignore_errors=True)
            raise
        return stream

    def stop(self) -> None:
        self._stopped = True
        self.ring.wake()


def _close_opened(attempt: Future[Any]) -> None:
    """Close the stream of an attempt that finished after the reader had given up on it."""
    if attempt.exception() is None:
        attempt.result().close(ignore_errors=True)
