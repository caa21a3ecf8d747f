"""Wires the stages: audio source -> resample + VAD -> articulation model -> face solver -> frame clock -> sinks."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from bridge.audio.resample import StreamingResampler
from bridge.audio.samples import unusable
from bridge.audio.sources import AudioSource
from bridge.audio.vad import SpeechFrames, VoiceActivity
from bridge.config import Config, VadConfig
from bridge.frames import (
    ARKIT_NAMES,
    F32,
    VISEMES,
    AnimationFrame,
    ArticulationFrame,
    AudioBlock,
    FacePose,
    ModelOutput,
)
from bridge.logs import RateLimitedLog
from bridge.stages import ArticulationModel, FaceSolver, Sink, send_to_sinks

log = logging.getLogger(__name__)

HOP_S = 0.01  # the model's frame period


class Articulator:
    """Audio blocks at any rate in, 100 Hz ArticulationFrames out (resampling, VAD, model).

    Attributes:
        muted: when set, voice activity is forced to 0 so the face rests.
    """

    def __init__(self, model: ArticulationModel, vad: VadConfig, in_rate_hz: int) -> None:
        self.model = model
        self.speech = SpeechFrames(vad.aggressiveness)
        self.activity = VoiceActivity(vad, model.hears_voicing)
        self.resampler = StreamingResampler(in_rate_hz, model.sample_rate_hz)
        self.muted = False
        self._vad_values: deque[bool] = deque()
        self._vad_base = 0  # frame index of _vad_values[0]
        self._n_samples = 0  # model-rate samples received so far
        self._lookahead_samples = round(model.lookahead_s * model.sample_rate_hz)
        self._bad_input = RateLimitedLog(log)

    def process(self, block: AudioBlock) -> list[ArticulationFrame]:
        samples = block.samples
        bad = unusable(samples)
        if bad.any():
            # One NaN would poison the normaliser and the recurrent state for the rest of the stream.
            samples = np.where(bad, np.float32(0.0), samples)
            self._bad_input.warning("NaN, infinite or out-of-range audio samples at %.2f s replaced by silence",
                                    block.t_stream_s)  # fmt: skip
        x = self.resampler.process(samples)
        self._n_samples += x.shape[0]
        self._vad_values.extend(self.speech.process(x).tolist())
        return self._frames(self.model.process(x), block.t_capture_s)

    def flush(self, t_capture_s: float) -> list[ArticulationFrame]:
        """The frames held back by the model's look-ahead, at the end of the stream."""
        return self._frames(self.model.flush(), t_capture_s)

    def _frames(self, out: ModelOutput, t_capture_s: float) -> list[ArticulationFrame]:
        frames = []
        rate_hz = self.model.sample_rate_hz
        for i in range(out.n_frames):
            idx = out.frame_index + i
            voicing = float(out.voicing[i])
            activity = self.activity.step(self._pop_vad(idx), voicing)
            # When the last sample this frame needs (its hop plus the look-ahead) was captured: a block
            # that arrives late after a stall holds frames whose audio is already old.
            needed = (idx + 1) * round(HOP_S * rate_hz) + self._lookahead_samples
            frames.append(
                ArticulationFrame(
                    t_s=(idx + 0.5) * HOP_S,
                    t_capture_s=t_capture_s - max(0, self._n_samples - needed) / rate_hz,
                    ema=out.ema[i],
                    controls=out.controls[i],
                    visemes=out.visemes[i],
                    voicing=voicing,
                    voice_activity=0.0 if self.muted else activity,
                )
            )
        return frames

    def _pop_vad(self, idx: int) -> bool:
        # The VAD has no look-ahead, so it is always ahead of the model; a frame it has not seen
        # (the flushed tail) counts as silence.
        while self._vad_values and self._vad_base < idx:
            self._vad_values.popleft()
            self._vad_base += 1
        if self._vad_values and self._vad_base == idx:
            self._vad_base += 1
            return self._vad_values.popleft()
        return False


def _blend(a: FacePose, b: FacePose, alpha: float) -> FacePose:
    """Linear blend of two poses; the mood comes from the nearer one, the dominant viseme from the
    blended weights (so it is always their largest, as in every pose the solver makes)."""
    near = a if alpha < 0.5 else b
    w = np.float32(alpha)
    visemes = a.visemes + w * (b.visemes - a.visemes)
    return replace(
        near,
        blendshapes=a.blendshapes + w * (b.blendshapes - a.blendshapes),
        joints=a.joints + w * (b.joints - a.joints),
        ema=a.ema + w * (b.ema - a.ema),
        visemes=visemes,
        vrm=a.vrm + w * (b.vrm - a.vrm),
        viseme=VISEMES[int(np.argmax(visemes))],
        voice=a.voice + alpha * (b.voice - a.voice),
    )


class FrameClock:
    """Resamples 100 Hz poses to the output rate: frame k shows stream time k / fps."""

    def __init__(self, fps: int) -> None:
        self.fps = fps
        self._next_k = 0
        self._prev: tuple[float, float, FacePose] | None = None  # (t_s, t_capture_s, pose)

    def push(self, t_s: float, t_capture_s: float, pose: FacePose) -> list[tuple[float, float, FacePose]]:
        """Output (t_s, t_capture_s, pose) for every output instant up to t_s."""
        out = []
        while self._next_k / self.fps <= t_s:
            t_k = self._next_k / self.fps
            if self._prev is None or t_k <= self._prev[0]:
                out.append((t_k, t_capture_s, pose))
            else:
                t_prev = self._prev[0]
                out.append((t_k, t_capture_s, _blend(self._prev[2], pose, (t_k - t_prev) / (t_s - t_prev))))
            self._next_k += 1
        self._prev = (t_s, t_capture_s, pose)
        return out


@dataclass(frozen=True, slots=True)
class Status:
    """A snapshot of the running bridge (status line, control-channel replies)."""

    frames: int
    fps: float
    latency_ms_p50: float
    latency_ms_p99: float
    lookahead_ms: float
    voice: float
    dropped_audio_s: float
    frames_skipped_late: int
    muted: bool
    subject: str
    mood: str
    mood_intensity: float
    top_blendshapes: tuple[tuple[str, float], ...]


class Bridge:
    """The live loop: one processing thread pulls audio, computes frames and hands them to the sinks.

    Sinks never block, so a stalled receiver cannot stall capture; when the loop itself falls behind,
    frames whose audio is older than two output periods plus the model's latency and one capture block are
    skipped rather than sent in a late burst (a chunked model, such as an SSL upstream, computes a whole
    chunk's frames at once).
    Control methods may be called from other threads.
    """

    def __init__(
        self,
        cfg: Config,
        source: AudioSource,
        model: ArticulationModel,
        solver: FaceSolver,
        sinks: Sequence[Sink],
    ) -> None:
        self.cfg = cfg
        self.source = source
        self.solver = solver
        self.sinks = list(sinks)
        self.articulator = Articulator(model, cfg.vad, source.sample_rate_hz)
        self.clock = FrameClock(cfg.output.fps)
        self.subject = cfg.output.subject
        # A block's first frames are a block older than its last when it arrives: that is the capture's
        # pace, not the loop falling behind, so a block of audio is added to the allowance.
        self._late_s = 2.0 / cfg.output.fps + model.lookahead_s + cfg.audio.block_ms / 1000
        self._seq = 0
        self._skipped = 0
        self._lock = threading.Lock()
        self._latencies_ms: deque[float] = deque(maxlen=512)
        self._publish_times: deque[float] = deque(maxlen=256)
        self._last: AnimationFrame | None = None
        self.on_frame: Callable[[AnimationFrame], None] | None = None
        self._sink_errors = RateLimitedLog(log)
        self._lag = RateLimitedLog(log)  # a subscriber cannot see skipped frames: seq has no gap for them

    # --- control (thread-safe) -------------------------------------------------------------
    def set_muted(self, muted: bool) -> None:
        self.articulator.muted = muted

    def set_subject(self, subject: str) -> None:
        self.subject = subject

    def stop(self) -> None:
        self.source.stop()

    def status(self) -> Status:
        with self._lock:
            lat = np.array(self._latencies_ms) if self._latencies_ms else np.zeros(1)
            times = list(self._publish_times)
            last = self._last
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        top: tuple[tuple[str, float], ...] = ()
        voice, mood, mood_i = 0.0, "neutral", 0.0
        if last is not None:
            order = np.argsort(last.pose.blendshapes)[::-1][:3]
            top = tuple((ARKIT_NAMES[i], float(last.pose.blendshapes[i])) for i in order)
            voice, mood, mood_i = last.pose.voice, last.pose.mood, last.pose.mood_intensity
        return Status(
            frames=self._seq,
            fps=fps,
            latency_ms_p50=float(np.percentile(lat, 50)),
            latency_ms_p99=float(np.percentile(lat, 99)),
            lookahead_ms=self.articulator.model.lookahead_s * 1000,
            voice=voice,
            dropped_audio_s=self.source.dropped_s,
            frames_skipped_late=self._skipped,
            muted=self.articulator.muted,
            subject=self.subject,
            mood=mood,
            mood_intensity=mood_i,
            top_blendshapes=top,
        )

    # --- the loop --------------------------------------------------------------------------
    def run(self) -> None:
        """Process until the source ends (files, stdin) or stop() is called."""
        t_capture_s = time.monotonic()
        for block in self.source.blocks():
            t_capture_s = block.t_capture_s
            self._emit(self.articulator.process(block), live=True)
        self._emit(self.articulator.flush(t_capture_s), live=False)
        self._sink_errors.flush()
        self._lag.flush()

    def _emit(self, frames: list[ArticulationFrame], live: bool) -> None:
        out: list[tuple[float, float, FacePose]] = []
        for af in frames:
            out.extend(self.clock.push(af.t_s, af.t_capture_s, self.solver.process(af)))
        now = time.monotonic()
        skipped = 0
        for i, (t_s, t_capture_s, pose) in enumerate(out):
            if live and i < len(out) - 1 and now - t_capture_s > self._late_s:
                skipped += 1
                continue
            self._publish(t_s, t_capture_s, pose)
        if skipped:
            self._skipped += skipped
            self._lag.warning(
                "processing fell behind the audio: %d frame(s) older than %.0f ms skipped, %d in all (a busy CPU?)",
                skipped, self._late_s * 1000, self._skipped,
            )  # fmt: skip

    def _publish(self, t_s: float, t_capture_s: float, pose: FacePose) -> None:
        t_publish_s = time.monotonic()
        frame = AnimationFrame(
            seq=self._seq,
            t_s=t_s,
            t_capture_s=t_capture_s,
            t_publish_s=t_publish_s,
            fps=self.cfg.output.fps,
            subject=self.subject,
            pose=pose,
            rig=self.solver.rig(pose),
        )
        send_to_sinks(self.sinks, frame, self._sink_errors)
        with self._lock:
            self._seq += 1
            self._latencies_ms.append((time.monotonic() - t_capture_s) * 1000)
            self._publish_times.append(t_publish_s)
            self._last = frame
        if self.on_frame is not None:
            self.on_frame(frame)


def render_offline(
    samples: F32,
    sample_rate_hz: int,
    cfg: Config,
    *,
    model: ArticulationModel | None = None,
    solver: FaceSolver | None = None,
    articulation: ModelOutput | None = None,
) -> list[AnimationFrame]:
    """The live path run over a whole signal at once: identical frames, no clocks or sockets.

    With ``articulation`` given, the face is driven from it (e.g. transcript-aligned phones) instead of
    the acoustic model; voice activity still comes from the audio.
    """
    from bridge.face import build_face_solver
    from bridge.model import load_model

    if solver is None:
        solver = build_face_solver(cfg.face)
    x = StreamingResampler(sample_rate_hz, 16000).process(samples)
    speech = SpeechFrames(cfg.vad.aggressiveness).process(x)
    hears_voicing = True  # given articulation is aligned phones, whose voicing is known
    if articulation is None:
        model = model if model is not None else load_model(cfg.model)
        articulation = ModelOutput.concat(0, [model.process(x), model.flush()])
        hears_voicing = model.hears_voicing
    n = min(articulation.n_frames, max(1, -(-x.shape[0] // 160)))
    speech = np.concatenate([speech[:n], np.zeros(max(0, n - speech.shape[0]), bool)])
    vad = VoiceActivity(cfg.vad, hears_voicing).process(speech, articulation.voicing[:n])
    clock = FrameClock(cfg.output.fps)
    frames: list[AnimationFrame] = []
    for i in range(n):
        af = ArticulationFrame(
            t_s=(i + 0.5) * HOP_S,
            t_capture_s=0.0,
            ema=articulation.ema[i],
            controls=articulation.controls[i],
            visemes=articulation.visemes[i],
            voicing=float(articulation.voicing[i]),
            voice_activity=float(vad[i]),
        )
        for t_s, _, pose in clock.push(af.t_s, 0.0, solver.process(af)):
            frames.append(
                AnimationFrame(
                    seq=len(frames), t_s=t_s, t_capture_s=0.0, t_publish_s=0.0,
                    fps=cfg.output.fps, subject=cfg.output.subject, pose=pose, rig=solver.rig(pose),
                )
            )
    return frames

