"""The live loop: a stalled sink never stalls capture, and late frames are skipped, not sent in a burst."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from bridge.audio.capture import RingBuffer
from bridge.audio.files import read_audio
from bridge.config import load_config
from bridge.face import build_face_solver
from bridge.frames import AnimationFrame, AudioBlock
from bridge.model import load_model
from bridge.pipeline import Bridge
from tests.conftest import EXAMPLE_WAV


class RealtimeRingSource:
    """A producer thread writes 10 ms blocks into a ring in real time, like a PortAudio callback."""

    name = "ring"
    sample_rate_hz = 16000

    def __init__(self, samples: np.ndarray) -> None:
        self.ring = RingBuffer(2 * self.sample_rate_hz, 1)
        self._samples = samples
        self._done = threading.Event()

    @property
    def dropped_s(self) -> float:
        return self.ring.dropped / self.sample_rate_hz

    def _produce(self) -> None:
        t0 = time.monotonic()
        for i, start in enumerate(range(0, self._samples.shape[0], 160)):
            time.sleep(max(0.0, t0 + (i + 1) * 0.01 - time.monotonic()))
            self.ring.write(self._samples[start : start + 160, None])
        self._done.set()

    def blocks(self) -> Iterator[AudioBlock]:
        threading.Thread(target=self._produce, daemon=True).start()
        n = 0
        while True:
            time.sleep(0.005)
            frames, t_s = self.ring.read_available()
            if frames.shape[0]:
                yield AudioBlock(frames[:, 0].copy(), self.sample_rate_hz, t_s, n / self.sample_rate_hz)
                n += frames.shape[0]
            elif self._done.is_set():
                return

    def stop(self) -> None:
        self._done.set()


class StallingSink:
    name = "stalling"

    def __init__(self) -> None:
        self.frames: list[tuple[float, AnimationFrame]] = []

    def send(self, frame: AnimationFrame) -> None:
        self.frames.append((time.monotonic(), frame))
        if frame.seq == 60:
            time.sleep(0.4)  # a receiver that hangs for 400 ms

    def close(self) -> None:
        pass


def test_stall_skips_late_frames_without_losing_audio() -> None:
    x, _ = read_audio(EXAMPLE_WAV)
    cfg = load_config(None, {"output": {"fps": 100}, "publish": {"zmq": []}})
    sink = StallingSink()
    source = RealtimeRingSource(x[: 16000 * 3])
    bridge = Bridge(cfg, source, load_model(cfg.model), build_face_solver(cfg.face), [sink])
    bridge.run()
    status = bridge.status()
    assert status.dropped_audio_s == 0.0  # capture kept going into the ring during the stall
    assert status.frames_skipped_late >= 20  # ~40 frames became due during the stall
    sent = [t for t, _ in sink.frames]
    after = [t for t in sent if t > sent[60] + 0.35]
    # After the stall, the frames that follow within 30 ms are at most a handful, not the ~40-frame burst
    # that became due; the margin absorbs a producer thread that wakes late and writes a few blocks at once.
    first = after[0]
    assert sum(1 for t in after if t - first < 0.03) <= 10
    seqs = [f.seq for _, f in sink.frames]
    assert seqs == list(range(len(seqs)))
    times = [f.t_s for _, f in sink.frames]
    assert max(np.diff(times)) > 0.2  # the skipped span shows as a jump in stream time


class BlockSource:
    """Blocks of ``block_ms`` handed over at once, as a capture with long blocks (or --fast) does."""

    name = "blocks"
    sample_rate_hz = 16000
    dropped_s = 0.0

    def __init__(self, samples: np.ndarray, block_ms: int) -> None:
        self._samples = samples
        self._n = self.sample_rate_hz * block_ms // 1000

    def blocks(self) -> Iterator[AudioBlock]:
        for start in range(0, self._samples.shape[0], self._n):
            yield AudioBlock(self._samples[start : start + self._n], self.sample_rate_hz, time.monotonic(),
                             start / self.sample_rate_hz)  # fmt: skip

    def stop(self) -> None:
        pass


class _StreamClock:
    """The pipeline's clock, stood still while a block is processed: the test decides how long
    processing takes, so a loaded CI machine cannot make frames late."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def monotonic(self) -> float:
        return self.now_s


def test_long_capture_blocks_lose_no_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    # A block's first frames are a block older than its last: with 100 ms blocks at 30 fps most frames
    # used to count as late and were skipped (112 of 508 sent on examples/hello.wav).
    import bridge.pipeline
    from bridge.pipeline import render_offline

    clock = _StreamClock()
    monkeypatch.setattr(bridge.pipeline, "time", clock)

    class CapturedBlocks(BlockSource):
        def blocks(self) -> Iterator[AudioBlock]:
            for block in super().blocks():
                captured_s = block.t_stream_s + block.samples.shape[0] / block.sample_rate_hz
                # Each block takes half its length to process: slow, but keeping up with real time.
                clock.now_s = captured_s + 0.05
                yield AudioBlock(block.samples, block.sample_rate_hz, captured_s, block.t_stream_s)

    x, rate = read_audio(EXAMPLE_WAV)
    cfg = load_config(None, {"output": {"fps": 30}, "audio": {"block_ms": 100}, "publish": {"zmq": []}})
    sent: list[AnimationFrame] = []
    sink = type("ListSink", (), {"name": "list", "send": lambda self, f: sent.append(f), "close": lambda self: None})()
    bridge = Bridge(cfg, CapturedBlocks(x, 100), load_model(cfg.model), build_face_solver(cfg.face), [sink])
    bridge.run()
    assert bridge.status().frames_skipped_late == 0
    assert len(sent) == len(render_offline(x, rate, cfg))


@pytest.mark.parametrize("require_voicing", [False, True])
def test_live_frames_are_the_offline_frames(require_voicing: bool) -> None:
    # Voice activity is decided per model frame from webrtcvad and the model's voicing, which the live
    # path gets in pieces of 30 ms blocks; bake's whole-signal path must show the same face.
    from bridge.pipeline import render_offline
    from tests.unit.test_vad import _typing

    x, rate = read_audio(EXAMPLE_WAV)
    x = np.concatenate([x, _typing(2.0, -20.0)])  # speech, then typing, which require_voicing leaves still
    cfg = load_config(None, {"vad": {"require_voicing": require_voicing}, "audio": {"block_ms": 30},
                             "publish": {"zmq": []}})  # fmt: skip
    sent: list[AnimationFrame] = []
    sink = type("ListSink", (), {"name": "list", "send": lambda self, f: sent.append(f), "close": lambda self: None})()
    Bridge(cfg, BlockSource(x, 30), load_model(cfg.model), build_face_solver(cfg.face), [sink]).run()
    offline = render_offline(x, rate, cfg)
    assert len(sent) == len(offline)
    np.testing.assert_array_equal([f.pose.voice for f in sent], [f.pose.voice for f in offline])
    # The model streams to within float32 rounding of its whole-signal output (tests/model/test_runtime.py).
    live_bs, offline_bs = [f.pose.blendshapes for f in sent], [f.pose.blendshapes for f in offline]
    np.testing.assert_allclose(live_bs, offline_bs, atol=1e-5)
    typing = [f.pose.voice for f in offline if f.t_s > x.shape[0] / rate - 1.5]
    assert (max(typing) < 0.05) == require_voicing


def test_a_nan_sample_does_not_poison_the_rest_of_the_stream() -> None:
    # One NaN from a broken capture used to make every later frame NaN, through the normaliser and
    # the recurrent state; it is now silence for that sample.
    x, _ = read_audio(EXAMPLE_WAV)
    bad = x.copy()
    bad[16000] = np.nan
    bad[16001] = np.inf
    cfg = load_config(None, {"publish": {"zmq": []}})
    sent: list[AnimationFrame] = []
    sink = type("ListSink", (), {"name": "list", "send": lambda self, f: sent.append(f), "close": lambda self: None})()
    Bridge(cfg, BlockSource(bad, 10), load_model(cfg.model), build_face_solver(cfg.face), [sink]).run()
    shapes = np.array([f.pose.blendshapes for f in sent])
    assert np.isfinite(shapes).all() and np.isfinite(np.array([f.pose.ema for f in sent])).all()
    assert shapes[120:].max() > 0.1  # the face still moves with the speech after the bad samples


def test_a_burst_of_absurd_samples_does_not_shut_the_face() -> None:
    """Half a second of +-3e38 (finite) overflowed the level guard: the face stayed nearly shut for 15 s."""
    from bridge.frames import ARKIT_INDEX

    x, _ = read_audio(EXAMPLE_WAV)
    burst = x.copy()
    burst[24000:32000] = 3e38 * np.sign(np.sin(np.arange(8000)))
    cfg = load_config(None, {"publish": {"zmq": []}})
    jaw = []
    for signal in (x, burst):
        sent: list[AnimationFrame] = []
        sink = type("ListSink", (), {"name": "list", "send": lambda self, f, out=sent: out.append(f),
                                     "close": lambda self: None})()  # fmt: skip
        Bridge(cfg, BlockSource(signal, 10), load_model(cfg.model), build_face_solver(cfg.face), [sink]).run()
        jaw.append(np.array([f.pose.blendshapes[ARKIT_INDEX["jawOpen"]] for f in sent if f.t_s > 3.0]))
    assert jaw[1].mean() > 0.7 * jaw[0].mean() > 0.02, (jaw[0].mean(), jaw[1].mean())


class StaleSource(BlockSource):
    """Blocks whose audio was captured a second ago: the loop is far behind the microphone."""

    def blocks(self) -> Iterator[AudioBlock]:
        for block in super().blocks():
            yield AudioBlock(block.samples, block.sample_rate_hz, block.t_capture_s - 1.0, block.t_stream_s)


def test_frames_skipped_as_late_are_reported_while_the_stream_runs(caplog: pytest.LogCaptureFixture) -> None:
    # Skipped frames leave no gap in seq, so a subscriber cannot see them: the log must say so at once.
    x, _ = read_audio(EXAMPLE_WAV)
    cfg = load_config(None, {"audio": {"block_ms": 100}, "publish": {"zmq": []}})
    sent: list[AnimationFrame] = []
    sink = type("ListSink", (), {"name": "list", "send": lambda self, f: sent.append(f), "close": lambda self: None})()
    bridge = Bridge(cfg, StaleSource(x[:32000], 100), load_model(cfg.model), build_face_solver(cfg.face), [sink])
    with caplog.at_level(logging.WARNING, logger="bridge.pipeline"):
        bridge.run()
    skipped = bridge.status().frames_skipped_late
    assert skipped > 0
    warnings = [r.getMessage() for r in caplog.records if "fell behind" in r.getMessage()]
    assert warnings and "older than" in warnings[0]  # the first skip is logged when it happens
