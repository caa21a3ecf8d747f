"""Factories: publishers and control servers from the configuration."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from bridge.config import PublishConfig
from bridge.errors import TransportError
from bridge.stages import Sink
from bridge.transports.control import ControlTarget, OscControlServer, ZmqControlServer
from bridge.transports.encoding import LLF_MAX_NAME_BYTES
from bridge.transports.livelinkface import LiveLinkFacePublisher
from bridge.transports.messages import BridgeStatus
from bridge.transports.osc import OscPublisher
from bridge.transports.recorder import RecorderSink
from bridge.transports.udp import SendStats
from bridge.transports.vmc import VmcPublisher
from bridge.transports.zeromq import ZmqPublisher

ControlServer = OscControlServer | ZmqControlServer
log = logging.getLogger(__name__)


@runtime_checkable
class CountingSink(Protocol):
    """A publisher that counts what it sent and dropped (the recorder writes a file instead)."""

    name: str

    @property
    def stats(self) -> SendStats: ...


def log_send_counts(sinks: Sequence[Sink]) -> None:
    """One line per publisher at the end of a stream: what left, what was dropped on the way out and
    (UDP) how often the receiver refused what left."""
    for sink in sinks:
        if isinstance(sink, CountingSink):
            stats = sink.stats
            refused = f"; at least {stats.refused} of the sent were refused by the receiver (nothing listening)"
            log.info(
                "%s: %d sent, %d dropped%s", sink.name, stats.sent, stats.dropped, refused if stats.refused else "",
                extra={"event": "publisher_counts", "publisher": sink.name, "sent": stats.sent,
                       "dropped": stats.dropped, "refused": stats.refused},
            )  # fmt: skip


def log_recording_failures(sinks: Sequence[Sink]) -> bool:
    """One error line per recording that stopped before the stream ended, saying what its file keeps;
    whether there was one (the run then ends with a non-zero exit status)."""
    failed = False
    for sink in sinks:
        if isinstance(sink, RecorderSink) and sink.failure is not None:
            log.error(
                "recording %s failed (%s): the file keeps only the first %d frames; the live stream was not "
                "interrupted", sink.path, sink.failure, sink.frames,
                extra={"event": "record_failed", "file": str(sink.path), "frames": sink.frames},
            )  # fmt: skip
            failed = True
    return failed


def build_sinks(
    publish: PublishConfig,
    subject: str,
    *,
    status_source: Callable[[], BridgeStatus] | None = None,
    stream_clock: bool = False,
) -> list[Sink]:
    """One sink per enabled publisher (ZeroMQ, OSC, VMC, Live Link Face, recorder), in that order.
    ``stream_clock``: the recording is paced by stream time, not publish time (``RecorderSink``).

    Raises:
        TransportError: a port in use, an unresolvable host, an unwritable recording; sinks already
            opened are closed first.
    """
    if publish.livelinkface and not 0 < len(subject.encode()) <= LLF_MAX_NAME_BYTES:
        raise TransportError(f"Live Link Face subject must be 1-{LLF_MAX_NAME_BYTES} bytes: {subject!r}")
    makers: list[Callable[[], Sink]] = []
    if publish.zmq:
        makers.append(lambda: ZmqPublisher(publish.zmq, status_source=status_source))
    if publish.osc:
        makers.append(lambda: OscPublisher(publish.osc, bundle=publish.osc_bundle))
    if publish.vmc:
        makers.append(lambda: VmcPublisher(publish.vmc, names=publish.vmc_names, bundle=publish.vmc_bundle))
    if publish.livelinkface:
        makers.append(lambda: LiveLinkFacePublisher(publish.livelinkface))
    if publish.record:
        record = publish.record
        makers.append(lambda: RecorderSink(record, stream_clock=stream_clock))
    sinks: list[Sink] = []
    try:
        for make in makers:
            sinks.append(make())
    except TransportError:
        for sink in sinks:
            sink.close()
        raise
    return sinks


def build_control(publish: PublishConfig, target: ControlTarget) -> list[ControlServer]:
    """Start the enabled control servers (OSC on ``control_bind``, ZeroMQ REP).

    Raises:
        TransportError: a port in use; servers already started are closed first.
    """
    servers: list[ControlServer] = []
    try:
        if publish.control_osc is not None:
            servers.append(OscControlServer(target, publish.control_osc, publish.control_bind))
        if publish.control_zmq is not None:
            servers.append(ZmqControlServer(target, publish.control_zmq))
    except TransportError:
        for server in servers:
            server.close()
        raise
    for server in servers:
        server.start()
    return servers
