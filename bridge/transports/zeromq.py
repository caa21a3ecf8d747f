"""ZeroMQ PUB publisher: face and EMA frames on per-subject topics, status once a second."""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable, Sequence

import zmq

from bridge.errors import TransportError
from bridge.frames import AnimationFrame
from bridge.logs import RateLimitedLog
from bridge.transports.encoding import encode_zmq_ema, encode_zmq_face, encode_zmq_status
from bridge.transports.messages import BridgeStatus
from bridge.transports.udp import SendStats

log = logging.getLogger(__name__)

# Per-subscriber queue: a slow subscriber loses frames beyond this, the others are unaffected.
# 64 messages ride out a ~0.3 s stall of libzmq's I/O thread at 100 fps (face + ema per frame).
SNDHWM = 64
# Subscribers send their subscriptions as messages; a topic is at most "face/" + a 64-byte subject. A peer
# that sends more is disconnected by libzmq: one 50 MB subscription stalled every frame for 3 s and took
# 2 GB, which libzmq's subscription trie kept.
MAX_SUBSCRIPTION_BYTES = 1024
STATUS_INTERVAL_S = 1.0


_IPV4_MAPPED = re.compile(r"^tcp://\[::ffff:(\d+\.\d+\.\d+\.\d+)\]")


def bind_socket(sock: zmq.Socket[bytes], endpoints: Sequence[str], label: str) -> list[str]:
    """Bind to every endpoint (IPv4 or IPv6) and log the addresses bound; return them.

    The bound address is the one to give subscribers: ``tcp://127.0.0.1:*`` binds a random port.

    Raises:
        TransportError: an address in use or a bad endpoint; the socket is closed.
    """
    sock.setsockopt(zmq.IPV6, 1)
    bound = []
    for endpoint in endpoints:
        try:
            sock.bind(endpoint)
        except zmq.ZMQError as e:
            sock.close(linger=0)
            raise TransportError(f"{label} {endpoint}: cannot bind ({e.strerror})") from e
        # With IPv6 on, libzmq reports an IPv4 address in its mapped form (tcp://[::ffff:127.0.0.1]:5555).
        bound.append(_IPV4_MAPPED.sub(r"tcp://\1", sock.getsockopt_string(zmq.LAST_ENDPOINT)))
        log.info("%s bound to %s", label, bound[-1], extra={"event": "bound", "endpoint": bound[-1]})
    return bound


def check_connect_host(endpoint: str, label: str) -> None:
    """Resolve the host of a ``tcp://`` endpoint to connect to: libzmq connects in the background and
    would only ever report no reply.

    Raises:
        TransportError: the host cannot be resolved.
    """
    scheme, _, address = endpoint.partition("://")
    host = address.rpartition(":")[0].strip("[]")
    if scheme != "tcp" or not host:
        return
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise TransportError(f"{label} {endpoint}: cannot resolve host {host!r}") from e


class ZmqPublisher:
    """One PUB socket bound to every endpoint; single-frame ``topic\\0msgpack`` messages, NOBLOCK.

    ``status_source`` gives the status published on ``status/<subject>`` every second; without it the
    publisher reports what it sees in the frames (fps, frames, latency, voice activity, mood).
    """

    name = "zmq"

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        status_source: Callable[[], BridgeStatus] | None = None,
        status_interval_s: float = STATUS_INTERVAL_S,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.PUB)
        self._sock.setsockopt(zmq.SNDHWM, SNDHWM)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.MAXMSGSIZE, MAX_SUBSCRIPTION_BYTES)
        self.endpoints = tuple(bind_socket(self._sock, endpoints, "ZeroMQ PUB"))
        self._status_source = status_source
        self._status_interval_s = status_interval_s
        self._clock = clock
        self._status_due_s = float("-inf")
        self._frames = 0
        self._sent = 0
        self._dropped = 0
        self._errors = RateLimitedLog(log)

    def _send(self, message: bytes) -> None:
        try:
            self._sock.send(message, zmq.NOBLOCK, copy=len(message) > 2048)
            self._sent += 1
        except zmq.Again:
            self._dropped += 1
            self._errors.warning("ZeroMQ PUB: send queue full, dropping")
        except zmq.ZMQError as e:
            self._dropped += 1
            self._errors.warning("ZeroMQ PUB: %s; dropping", e.strerror, key=str(e.errno))

    def send(self, frame: AnimationFrame, /) -> None:
        self._errors.poll()
        self._frames += 1
        self._send(encode_zmq_face(frame))
        self._send(encode_zmq_ema(frame))
        now = self._clock()
        if now >= self._status_due_s:
            self._status_due_s = now + self._status_interval_s
            self._send(encode_zmq_status(self._status(frame)))

    def _status(self, frame: AnimationFrame) -> BridgeStatus:
        if self._status_source is not None:
            return self._status_source()
        return BridgeStatus(
            subject=frame.subject,
            fps=frame.fps,
            frames=self._frames,
            dropped_audio_s=0.0,
            latency_ms=max(0.0, (frame.t_publish_s - frame.t_capture_s) * 1000.0),
            vad=float(frame.pose.voice),
            model="unknown",
            mood=frame.pose.mood,
            mood_intensity=float(frame.pose.mood_intensity),
            muted=False,
        )

    @property
    def stats(self) -> SendStats:
        return SendStats(self._sent, self._dropped)

    def close(self) -> None:
        self._errors.flush()
        self._sock.close(linger=0)
