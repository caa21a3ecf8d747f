"""Control channel: OSC (UDP) and ZeroMQ REP servers that validate requests and apply them to a ControlTarget.

Each server runs one daemon thread. Every packet is validated by encoding.py before anything changes;
invalid ones are logged (rate-limited) and, on ZeroMQ, answered with an error. Requests map to five
fixed operations; nothing in a message is ever evaluated.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from abc import ABC, abstractmethod
from typing import Protocol

import zmq

from bridge.errors import BridgeError, ProtocolError, TransportError
from bridge.logs import RateLimitedLog
from bridge.transports.encoding import (
    decode_control_osc,
    decode_control_zmq_request,
    encode_control_zmq_reply,
    encode_osc_status,
)
from bridge.transports.messages import (
    BridgeStatus,
    Calibrate,
    ControlReply,
    ControlRequest,
    QueryStatus,
    SetMood,
    SetMuted,
    SetSubject,
)
from bridge.transports.zeromq import bind_socket

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.1
# Receive buffer larger than any valid request, so oversized datagrams are seen whole and rejected.
RECV_BYTES = 65536
# Requests up to this size are received and answered (over 1,024 bytes: an error); libzmq
# disconnects a peer that sends more, so a bigger request is the one that gets no reply. Any
# request a client can reasonably make fits; the cap bounds the memory one message can take.
ZMQ_MAX_MESSAGE_BYTES = 1 << 20

__all__ = ["BridgeStatus", "ControlTarget", "OscControlServer", "ZmqControlServer", "apply_request"]


class ControlTarget(Protocol):
    """What the control channel drives (the pipeline implements it). Called from server threads, so
    implementations must be thread-safe. May raise BridgeError to refuse a valid request."""

    def set_mood(self, mood: str, intensity: float, transition_s: float | None) -> None: ...

    def set_muted(self, muted: bool) -> None: ...

    def calibrate(self) -> None: ...

    def set_subject(self, subject: str) -> None: ...

    def status(self) -> BridgeStatus: ...


def apply_request(target: ControlTarget, request: ControlRequest) -> ControlReply:
    """Perform one validated request."""
    try:
        match request:
            case SetMood(mood=mood, intensity=intensity, transition_s=transition_s):
                target.set_mood(mood, intensity, transition_s)
            case SetMuted(muted=muted):
                target.set_muted(muted)
            case Calibrate():
                target.calibrate()
            case SetSubject(subject=subject):
                target.set_subject(subject)
            case QueryStatus():
                return ControlReply(ok=True, status=target.status())
    except BridgeError as e:
        return ControlReply(ok=False, error=str(e))
    return ControlReply(ok=True)


class _ServerThread(ABC):
    def __init__(self, name: str, target: ControlTarget) -> None:
        self._target = target
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.handled = 0
        self.rejected = 0
        self._rejects = RateLimitedLog(log)
        # A fader sending 60 requests a second is normal use, but not 60 log lines a second.
        self._applied = RateLimitedLog(log)

    def start(self) -> None:
        self._thread.start()

    @abstractmethod
    def _run(self) -> None: ...

    def _reject(self, transport: str, sender: str, e: ProtocolError) -> ControlReply:
        self.rejected += 1
        # One line per field at fault, or per kind of problem (the message's first words, numbers left out),
        # per interval: values and sender ports vary from packet to packet.
        field, sep, _ = str(e).partition(":")
        kind = field if sep and " " not in field else " ".join(re.sub(r"\d+", "N", str(e)).split()[:3])
        self._rejects.warning("control %s: rejected%s: %s", transport, sender, e, key=kind)
        return ControlReply(ok=False, error=str(e))

    def _apply(self, request: ControlRequest) -> ControlReply:
        self.handled += 1
        reply = apply_request(self._target, request)
        if reply.ok and not isinstance(request, QueryStatus):
            self._applied.info("control: %s", request, key=type(request).__name__)
        return reply

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self._rejects.flush()
        self._applied.flush()


class OscControlServer(_ServerThread):
    """``/avatar/v1/control/*`` over UDP; a status query is answered to the sender with /avatar/v1/status."""

    def __init__(self, target: ControlTarget, port: int, bind: str = "127.0.0.1") -> None:
        super().__init__("control-osc", target)
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self._sock.bind((bind, port))
        except OSError as e:
            self._sock.close()
            raise TransportError(f"OSC control {bind}:{port}: cannot bind ({e.strerror or e})") from e
        self._sock.settimeout(POLL_INTERVAL_S)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        log.info("OSC control listening on %s:%d", *self.address, extra={"event": "bound", "port": self.address[1]})

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self._sock.recvfrom(RECV_BYTES)
            except TimeoutError:
                self._rejects.poll()
                self._applied.poll()
                continue
            except OSError as e:
                if self._stop.is_set():
                    return
                self._rejects.warning("control OSC: receive failed: %s", e.strerror or e)
                continue
            self.handle(data, sender)

    def handle(self, data: bytes, sender: tuple[str, int]) -> ControlReply:
        """Validate and apply one datagram (also used directly by tests)."""
        try:
            request = decode_control_osc(data)
        except ProtocolError as e:
            return self._reject("OSC", f" from {sender[0]}:{sender[1]}", e)
        reply = self._apply(request)
        if reply.status is not None:
            try:
                self._sock.sendto(encode_osc_status(reply.status), sender)
            except OSError as e:
                self._rejects.warning("control OSC: status reply to %s: %s", sender, e.strerror or e)
        elif not reply.ok:
            self._rejects.warning("control OSC: %s", reply.error)
        return reply

    def close(self) -> None:
        super().close()
        self._sock.close()


class ZmqControlServer(_ServerThread):
    """msgpack request/reply on a ZeroMQ REP socket; every request gets a reply."""

    def __init__(
        self, target: ControlTarget, endpoint: str, context: zmq.Context[zmq.Socket[bytes]] | None = None
    ) -> None:
        super().__init__("control-zmq", target)
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.REP)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.MAXMSGSIZE, ZMQ_MAX_MESSAGE_BYTES)
        (self.endpoint,) = bind_socket(self._sock, [endpoint], "ZeroMQ control")

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                if not poller.poll(int(POLL_INTERVAL_S * 1000)):
                    self._rejects.poll()
                    self._applied.poll()
                    continue
                parts = self._sock.recv_multipart()
                reply = self.handle(parts)
                self._sock.send(encode_control_zmq_reply(reply))
        finally:
            self._sock.close(linger=0)

    def handle(self, parts: list[bytes]) -> ControlReply:
        """Validate and apply one request (also used directly by tests)."""
        try:
            if len(parts) != 1:
                raise ProtocolError(f"expected a single-frame message, got {len(parts)} frames")
            request = decode_control_zmq_request(parts[0])
        except ProtocolError as e:
            return self._reject("ZeroMQ", "", e)
        return self._apply(request)

    def close(self) -> None:
        started = self._thread.is_alive()
        super().close()
        if not started:
            self._sock.close(linger=0)
