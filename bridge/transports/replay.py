"""Re-publish a recording with its original timing to every enabled publisher (``avatar-bridge replay``)."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from bridge.config import Config
from bridge.logs import RateLimitedLog
from bridge.stages import Sink, send_to_sinks
from bridge.transports.recorder import check_record_target, read_recording
from bridge.transports.sinks import build_sinks, log_recording_failures, log_send_counts

log = logging.getLogger(__name__)


def replay(
    path: str | Path,
    sinks: Sequence[Sink],
    *,
    speed: float = 1.0,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    seq_offset: int = 0,
    t_offset_s: float = 0.0,
) -> int:
    """Send a recording's frames to every sink at the recorded pace (``speed`` 2 = twice as fast).

    Each frame keeps its seq and stream time (plus the offsets: a loop's later passes go on counting),
    subject and content; its publish time becomes now and its capture time keeps the recorded latency.
    A sink that raises is logged and skipped for that frame, as in the live loop. Returns the number of
    frames sent.
    """
    if not speed > 0:
        raise ValueError(f"speed must be positive (got {speed!r})")
    start_s = clock()
    sent = 0
    errors = RateLimitedLog(log)
    for t_rel_s, frame in read_recording(path):
        if stop is not None and stop.is_set():
            break
        wait_s = start_s + t_rel_s / speed - clock()
        if wait_s > 0:
            sleep(wait_s)
        now = clock()
        out = replace(frame, seq=frame.seq + seq_offset, t_s=frame.t_s + t_offset_s, t_publish_s=now,
                      t_capture_s=now - (frame.t_publish_s - frame.t_capture_s))  # fmt: skip
        send_to_sinks(sinks, out, errors)
        sent += 1
    errors.flush()
    return sent


def _pass_length(path: Path) -> tuple[int, float]:
    """How far seq and stream time advance over one pass of a recording: its span plus one frame."""
    first = last = None
    for _, frame in read_recording(path):
        first = first or frame
        last = frame
    if first is None or last is None:
        return 0, 0.0
    return last.seq - first.seq + 1, last.t_s - first.t_s + 1.0 / last.fps


def run_replay(cfg: Config, path: Path, *, speed: float = 1.0, loop: bool = False) -> int:
    """Replay a recording to the publishers of ``cfg.publish``; exit code (1 when the ``--record`` copy
    could not be written to the end).

    Raises:
        TransportError: a publisher cannot start or the file cannot be read.
        ProtocolError: the file is not a valid recording.
    """
    if cfg.publish.control_osc is not None or cfg.publish.control_zmq is not None:
        log.warning("the control channel is not available during replay; ignoring the config's control_osc/control_zmq")
    check_record_target(cfg.publish.record, (path,))  # replay X --record X emptied X before reading it
    sinks = build_sinks(cfg.publish, cfg.output.subject, stream_clock=speed != 1.0)
    total = 0
    seq_step, t_step_s = _pass_length(path) if loop else (0, 0.0)
    try:
        for n in itertools.count():
            # Each pass goes on from the last: receivers that drop a seq or time going back would stall.
            sent = replay(path, sinks, speed=speed, seq_offset=n * seq_step, t_offset_s=n * t_step_s)
            total += sent
            if not loop or sent == 0:
                break
    finally:
        for sink in sinks:
            sink.close()
    log.info("replayed %d frames from %s", total, path, extra={"event": "replay_done", "frames": total})
    log_send_counts(sinks)
    return 1 if log_recording_failures(sinks) else 0
