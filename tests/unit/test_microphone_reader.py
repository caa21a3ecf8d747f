"""The microphone reader sleeps until the audio callback has written, not on a timer (PortAudio faked)."""

from __future__ import annotations

import queue
import threading
from typing import Any

import numpy as np
import pytest

import bridge.audio.capture as capture
from bridge.audio.capture import MicrophoneSource, RingBuffer
from bridge.errors import DeviceError
from bridge.frames import AudioBlock

_FAILSAFE_S = 30.0  # only so that a broken build fails instead of hanging; nothing is timed


class _FakeStream:
    def __init__(self, **kwargs: Any) -> None:
        self.callback = kwargs["callback"]
        self.active = False
        self.latency = 0.01

    def start(self) -> None:
        self.active = True

    def close(self, ignore_errors: bool = False) -> None:
        self.active = False


class _FakeSoundDevice:
    PortAudioError = RuntimeError
    InputStream = _FakeStream

    @staticmethod
    def query_devices(index: int | None = None, kind: str | None = None) -> Any:
        device = {"name": "Fake Mic", "max_input_channels": 1, "default_samplerate": 16000.0}
        return [device] if index is None and kind is None else device


@pytest.fixture
def mic(monkeypatch: pytest.MonkeyPatch) -> MicrophoneSource:
    monkeypatch.setattr(capture, "_sounddevice", lambda: _FakeSoundDevice)
    # An hour between checks: the reader returns only if something wakes it.
    monkeypatch.setattr(capture, "_WAIT_S", 3600.0)
    return MicrophoneSource("default", None, 1.0, 10)


def _read_in_thread(mic: MicrophoneSource) -> tuple[threading.Thread, queue.SimpleQueue[AudioBlock | BaseException]]:
    out: queue.SimpleQueue[AudioBlock | BaseException] = queue.SimpleQueue()

    def read() -> None:
        try:
            for block in mic.blocks():
                out.put(block)
        except BaseException as e:  # handed to the test thread
            out.put(e)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, out


def test_a_ring_write_wakes_the_reader_once_for_everything_written() -> None:
    ring = RingBuffer(capacity=100, channels=1)
    assert not ring.wait(0)
    ring.write(np.ones((10, 1), dtype=np.float32))
    ring.write(np.ones((10, 1), dtype=np.float32))
    assert ring.wait(0)
    assert not ring.wait(0)  # both writes were one wake-up: one read takes them all
    ring.wake()
    assert ring.wait(0)


def test_the_reader_hands_over_a_callback_write_without_waiting_for_a_timer(mic: MicrophoneSource) -> None:
    thread, out = _read_in_thread(mic)
    samples = np.arange(160, dtype=np.float32)[:, None] / 160
    mic._stream.callback(samples, 160, None, None)
    block = out.get(timeout=_FAILSAFE_S)
    assert isinstance(block, AudioBlock)
    np.testing.assert_array_equal(block.samples, samples[:, 0])
    assert block.t_capture_s == mic.ring.t_last_write_s
    mic.stop()
    thread.join(_FAILSAFE_S)
    assert not thread.is_alive()


def test_stop_releases_a_reader_that_is_waiting_for_audio(mic: MicrophoneSource) -> None:
    waiting = threading.Event()
    wait = mic.ring.wait

    def noted_wait(timeout_s: float) -> bool:
        waiting.set()
        return wait(timeout_s)

    mic.ring.wait = noted_wait  # type: ignore[method-assign]
    thread, out = _read_in_thread(mic)
    assert waiting.wait(_FAILSAFE_S)
    mic.stop()
    thread.join(_FAILSAFE_S)
    assert not thread.is_alive() and out.empty()
    assert not mic._stream.active  # closed on the way out


def test_a_device_that_stops_delivering_still_ends_the_stream(
    mic: MicrophoneSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capture, "_WAIT_S", 0.01)
    thread, out = _read_in_thread(mic)
    mic._stream.callback(np.zeros((160, 1), dtype=np.float32), 160, None, None)
    assert isinstance(out.get(timeout=_FAILSAFE_S), AudioBlock)
    mic._stream.active = False  # PortAudio stopped the stream: no more callbacks
    error = out.get(timeout=_FAILSAFE_S)
    assert isinstance(error, DeviceError) and "stopped delivering audio" in str(error)
    thread.join(_FAILSAFE_S)
