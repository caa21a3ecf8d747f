"""Builds the live bridge from a Config (source, model, face solver, publishers, control) and runs it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bridge.audio.sources import is_file_input, open_source
from bridge.config import Config, ModelConfig
from bridge.errors import ConfigError, ModelError
from bridge.face import FaceEngine, build_face_solver
from bridge.pipeline import Bridge
from bridge.stages import ArticulationModel
from bridge.statusline import StatusLine
from bridge.transports import BridgeStatus, build_control, build_sinks, log_recording_failures, log_send_counts
from bridge.transports.recorder import check_record_target

log = logging.getLogger(__name__)


class _Control:
    """The running bridge as the control channel sees it (a ControlTarget)."""

    def __init__(self, bridge: Bridge, solver: FaceEngine, model_name: str) -> None:
        self._bridge = bridge
        self._solver = solver
        self._model_name = model_name

    def set_mood(self, mood: str, intensity: float, transition_s: float | None) -> None:
        self._solver.set_mood(mood, intensity, transition_s)

    def set_muted(self, muted: bool) -> None:
        self._bridge.set_muted(muted)

    def calibrate(self) -> None:
        self._solver.calibrate()

    def set_subject(self, subject: str) -> None:
        self._bridge.set_subject(subject)

    def status(self) -> BridgeStatus:
        s = self._bridge.status()
        return BridgeStatus(
            subject=s.subject, fps=self._bridge.cfg.output.fps, frames=s.frames, dropped_audio_s=s.dropped_audio_s,
            latency_ms=s.latency_ms_p50, vad=s.voice, model=self._model_name, mood=s.mood,
            mood_intensity=s.mood_intensity, muted=s.muted,
        )


def run_live(
    cfg: Config, load_model: Callable[[ModelConfig], ArticulationModel], duration_s: float | None = None
) -> int:
    """Run until the input ends, `duration_s` passes, or the process is interrupted; exit code
    (130 when interrupted, as for an interrupt during startup and for every other command; else 1 when
    the ``--record`` file could not be written to the end, which does not interrupt the stream).

    ``load_model`` is the CLI's choice of model loader (shipped weights or an SSL upstream, which
    needs torch and so cannot be imported here).
    """
    t_start_s = time.monotonic()
    check_record_target(cfg.publish.record, (Path(cfg.audio.input),) if is_file_input(cfg.audio.input) else ())
    try:
        model = load_model(cfg.model)
    except ModelError as e:  # weights or a head that cannot be used: a usage error, as in bake
        raise ConfigError(str(e)) from e
    solver = build_face_solver(cfg.face)
    source = open_source(cfg.audio)
    control: _Control | None = None

    def control_status() -> BridgeStatus:
        # Sinks ask for status only while frames flow, i.e. after the control adapter exists.
        assert control is not None
        return control.status()

    # A --fast run publishes as fast as it computes: its recording keeps the stream's own pace.
    sinks = build_sinks(cfg.publish, cfg.output.subject, status_source=control_status, stream_clock=cfg.audio.fast)
    bridge = Bridge(cfg, source, model, solver, sinks)
    control = _Control(bridge, solver, model.name)
    try:
        servers = build_control(cfg.publish, control)
    except BaseException:
        for sink in sinks:
            sink.close()
        raise

    def first_frame(_frame: object) -> None:
        log.info(
            "first frame %.0f ms after start",
            (time.monotonic() - t_start_s) * 1000,
            extra={"event": "first_frame", "startup_ms": round((time.monotonic() - t_start_s) * 1000, 1)},
        )
        bridge.on_frame = None

    bridge.on_frame = first_frame
    status = StatusLine(bridge.status, cfg.log.status_interval_s) if cfg.log.status else None
    timer = threading.Timer(duration_s, bridge.stop) if duration_s else None
    log.info(
        "streaming from %s with model %s at %d fps",
        source.name, model.name, cfg.output.fps,
        extra={"event": "stream_started", "input": source.name, "fps": cfg.output.fps},
    )
    interrupted = False
    recording_failed = False
    try:
        if status:
            status.start()
        if timer:
            timer.start()
        bridge.run()
    except KeyboardInterrupt:
        interrupted = True
        bridge.stop()
    finally:
        if timer:
            timer.cancel()
        if status:
            status.stop()
        for server in servers:
            server.close()
        for sink in sinks:
            sink.close()
        # Also when the stream ends in an error (a vanished device): what was sent before it still counts.
        s = bridge.status()
        log.info(
            "stopped after %d frames; %.2f s of audio dropped, %d late frames skipped",
            s.frames, s.dropped_audio_s, s.frames_skipped_late,
            extra={"event": "stopped", "frames": s.frames, "dropped_audio_s": s.dropped_audio_s},
        )
        log_send_counts(sinks)
        recording_failed = log_recording_failures(sinks)
    if interrupted:
        return 130
    return 1 if recording_failed else 0
