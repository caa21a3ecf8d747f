"""The microphone reader sleeps until the audio callback has written, not on a timer (PortAudio faked)."""

from __future__ import annotations

import logging
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
    assert block.t_capture_s == mic.ring.head[1]
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


class _RestartingSoundDevice:
    """A sound server that can go away and come back: PortAudio sees it again only once re-initialised."""

    PortAudioError = RuntimeError
    _initialized = 1
    server_up = True
    devices_seen = True  # what PortAudio's device list shows: as of its last initialisation
    hang_initialize = threading.Event()  # set: re-initialisation blocks until cleared... never, in these tests
    streams: list[_FakeStream] = []
    calls: list[str] = []

    class InputStream(_FakeStream):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            _RestartingSoundDevice.streams.append(self)
            _RestartingSoundDevice.calls.append("open")

        def close(self, ignore_errors: bool = False) -> None:
            super().close(ignore_errors)
            _RestartingSoundDevice.calls.append("close")

    @classmethod
    def _terminate(cls) -> None:
        assert all(not s.active for s in cls.streams), "PortAudio terminated under an open stream"
        cls.calls.append("terminate")
        cls._initialized -= 1

    @classmethod
    def _initialize(cls) -> None:
        cls.calls.append("initialize")
        if cls.hang_initialize.is_set():
            threading.Event().wait(3600)
        cls.devices_seen = cls.server_up
        cls._initialized += 1

    @classmethod
    def query_devices(cls, index: int | None = None, kind: str | None = None) -> Any:
        device = {"name": "Fake Mic", "max_input_channels": 1, "default_samplerate": 16000.0}
        if index is None and kind is None:
            return [device] if cls.devices_seen else []
        return device


@pytest.fixture
def restarting(monkeypatch: pytest.MonkeyPatch) -> type[_RestartingSoundDevice]:
    sd = _RestartingSoundDevice
    monkeypatch.setattr(sd, "server_up", True)
    monkeypatch.setattr(sd, "devices_seen", True)
    monkeypatch.setattr(sd, "_initialized", 1)
    monkeypatch.setattr(sd, "hang_initialize", threading.Event())
    monkeypatch.setattr(sd, "streams", [])
    monkeypatch.setattr(sd, "calls", [])
    monkeypatch.setattr(capture, "_sounddevice", lambda: sd)
    monkeypatch.setattr(capture, "_LEFT_HANGING", threading.Event())
    monkeypatch.setattr(capture, "_WAIT_S", 0.01)
    monkeypatch.setattr(capture, "_REOPEN_EVERY_S", 0.05)
    return sd


def _lose(sd: type[_RestartingSoundDevice], mic: MicrophoneSource, out: queue.SimpleQueue[Any]) -> None:
    """Deliver one block, then the server goes away: the stream stops, PortAudio lists no device."""
    sd.streams[-1].callback(np.ones((160, 1), dtype=np.float32), 160, None, None)
    assert isinstance(out.get(timeout=_FAILSAFE_S), AudioBlock)
    sd.server_up = False
    sd.streams[-1].active = False


def test_a_lost_device_yields_real_time_silence_until_it_is_reopened(
    restarting: type[_RestartingSoundDevice], caplog: pytest.LogCaptureFixture
) -> None:
    sd = restarting
    caplog.set_level(logging.INFO, logger=capture.__name__)
    mic = MicrophoneSource("Fake Mic", None, 1.0, 10, reopen_s=_FAILSAFE_S)
    thread, out = _read_in_thread(mic)
    _lose(sd, mic, out)
    silence = [out.get(timeout=_FAILSAFE_S) for _ in range(20)]  # 0.2 s, paced by the clock
    assert all(isinstance(b, AudioBlock) and not b.samples.any() and b.samples.shape == (160,) for b in silence)
    starts = [b.t_stream_s for b in silence if isinstance(b, AudioBlock)]
    np.testing.assert_allclose(starts, 0.01 * np.arange(1, 21))  # the stream time runs on without a gap
    assert sd.calls[:3] == ["open", "close", "terminate"]  # the dead stream is closed before PortAudio is reset
    sd.server_up = True
    while len(sd.streams) < 2:  # the next attempt sees the device again and opens it
        out.get(timeout=_FAILSAFE_S)
    sd.streams[-1].callback(np.full((160, 1), 0.5, dtype=np.float32), 160, None, None)
    while not (block := out.get(timeout=_FAILSAFE_S)).samples.any():  # type: ignore[union-attr]
        pass
    assert isinstance(block, AudioBlock)
    np.testing.assert_array_equal(block.samples, np.full(160, 0.5, dtype=np.float32))
    mic.stop()
    thread.join(_FAILSAFE_S)
    assert not thread.is_alive() and not sd.streams[-1].active
    messages = [r.getMessage() for r in caplog.records]
    assert "input device 'Fake Mic' stopped delivering audio; trying to reopen it for up to 30 s" in messages
    assert [m for m in messages if "reopened after" in m][0].startswith("input device 'Fake Mic' reopened after ")


def test_a_device_not_back_within_the_window_ends_the_stream(restarting: type[_RestartingSoundDevice]) -> None:
    sd = restarting
    mic = MicrophoneSource("Fake Mic", None, 1.0, 10, reopen_s=0.3)
    thread, out = _read_in_thread(mic)
    _lose(sd, mic, out)
    while isinstance(item := out.get(timeout=_FAILSAFE_S), AudioBlock):
        pass
    assert isinstance(item, DeviceError) and str(item) == "input device 'Fake Mic' stopped delivering audio (vanished?)"
    assert sd.calls.count("initialize") >= 3  # tried about every _REOPEN_EVERY_S meanwhile
    thread.join(_FAILSAFE_S)


def test_a_reinitialisation_that_hangs_ends_the_stream_within_the_startup_timeout(
    restarting: type[_RestartingSoundDevice], monkeypatch: pytest.MonkeyPatch
) -> None:
    sd = restarting
    monkeypatch.setattr(capture, "_INIT_TIMEOUT_S", 0.2)
    mic = MicrophoneSource("Fake Mic", None, 1.0, 10, reopen_s=_FAILSAFE_S)
    sd.hang_initialize.set()  # the sound server accepts the connection and never answers
    thread, out = _read_in_thread(mic)
    _lose(sd, mic, out)
    while isinstance(item := out.get(timeout=_FAILSAFE_S), AudioBlock):  # silence meanwhile
        pass
    assert isinstance(item, DeviceError) and "is not answering" in str(item), item
    assert capture.device_left_hanging()  # the CLI then ends without PortAudio's exit handler
    thread.join(_FAILSAFE_S)


def test_a_close_that_hangs_says_the_sound_server_is_not_answering(
    restarting: type[_RestartingSoundDevice], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frozen server blocked the close and the run ended with "stopped delivering audio (vanished?)"."""
    sd = restarting
    never = threading.Event()
    monkeypatch.setattr(capture, "_CLOSE_TIMEOUT_S", 0.1)
    monkeypatch.setattr(sd.InputStream, "close", lambda self, ignore_errors=False: never.wait(_FAILSAFE_S))
    mic = MicrophoneSource("Fake Mic", None, 1.0, 10, reopen_s=_FAILSAFE_S)
    thread, out = _read_in_thread(mic)
    _lose(sd, mic, out)
    while isinstance(item := out.get(timeout=_FAILSAFE_S), AudioBlock):
        pass
    never.set()
    assert isinstance(item, DeviceError) and str(item).startswith(
        "input device 'Fake Mic' stopped delivering audio, and the sound server (PulseAudio or PipeWire) is not "
        "answering: closing the device did not finish within"
    ), item
    thread.join(_FAILSAFE_S)


def test_stop_during_an_outage_ends_the_stream_without_an_error(restarting: type[_RestartingSoundDevice]) -> None:
    sd = restarting
    mic = MicrophoneSource("Fake Mic", None, 1.0, 10, reopen_s=_FAILSAFE_S)
    thread, out = _read_in_thread(mic)
    _lose(sd, mic, out)
    assert isinstance(out.get(timeout=_FAILSAFE_S), AudioBlock)
    mic.stop()
    thread.join(_FAILSAFE_S)
    assert not thread.is_alive()
    while not out.empty():  # silence up to the stop, and no error
        assert isinstance(out.get_nowait(), AudioBlock)
