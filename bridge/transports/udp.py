"""Non-blocking UDP sending to HOST:PORT targets, with failures counted and logged at most once per interval."""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.errors import TransportError
from bridge.logs import RateLimitedLog

log = logging.getLogger(__name__)

RECONNECT_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class SendStats:
    """Counters of one publisher's datagrams (UDP) or messages (ZeroMQ).

    Attributes:
        sent: handed to the kernel (or to ZeroMQ's queue); sent + dropped is what was offered.
        dropped: never sent (socket buffer or queue full, no route...).
        refused: refusals the receiver sent back for datagrams already counted as sent (ICMP port
            unreachable: nothing listening). The kernel holds one refusal until the next send, so
            this is a lower bound on the sent datagrams that were lost.
    """

    sent: int
    dropped: int
    refused: int = 0


def parse_hostport(target: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (IPv6 hosts may be bracketed).

    Raises:
        TransportError: no port or a port outside 1-65535.
    """
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TransportError(f"{target!r}: expected HOST:PORT with a port 1-65535")
    return host.strip("[]"), int(port)


def _resolve(host: str, port: int, target: str, label: str) -> list[tuple[Any, ...]]:
    # IPv4 first: "localhost" often resolves to ::1 first, while VSeeFace, Unreal & co. listen on IPv4.
    for family in (socket.AF_INET, socket.AF_UNSPEC):
        try:
            return list(socket.getaddrinfo(host, port, family=family, type=socket.SOCK_DGRAM))
        except socket.gaierror as e:
            error = e
    raise TransportError(f"{label} target {target}: cannot resolve host {host!r} ({error.strerror})") from error


class UdpTarget:
    """One connected, non-blocking UDP socket to a receiver.

    The socket is connected so the kernel reports ICMP port-unreachable as ECONNREFUSED on a later
    send: that refusal is an earlier datagram's, so it is counted as ``refused`` and logged, and the
    datagram that met it (which the kernel did not send) is sent again once. A target whose route is
    missing at start is retried at most once per ``RECONNECT_INTERVAL_S``.
    """

    def __init__(self, target: str, label: str, clock: Callable[[], float] = time.monotonic) -> None:
        host, port = parse_hostport(target)
        infos = _resolve(host, port, target, label)
        family, _, _, _, address = infos[0]
        self.target = target
        self._label = label
        self._address = address
        self._clock = clock
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET:
            # A subnet's broadcast address (one Unreal editor anywhere on the LAN) needs SO_BROADCAST,
            # without which every send was refused ("Permission denied; retrying") for the whole run.
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        self._sock.setblocking(False)
        self._connected = False
        self._next_connect_s = 0.0
        self._errors = RateLimitedLog(log)
        self.sent = 0
        self.dropped = 0
        self.refused = 0
        self._connect()

    def _connect(self) -> None:
        try:
            self._sock.connect(self._address)
            self._connected = True
        except OSError as e:
            self._next_connect_s = self._clock() + RECONNECT_INTERVAL_S
            self._errors.warning("%s %s: %s; retrying", self._label, self.target, e.strerror or e, key=str(e.errno))

    def send(self, datagrams: Sequence[bytes]) -> None:
        """Send datagrams in order; never blocks or raises for network conditions."""
        self._errors.poll()
        if not self._connected:
            if self._clock() < self._next_connect_s:
                self.dropped += len(datagrams)
                return
            self._connect()
            if not self._connected:
                self.dropped += len(datagrams)
                return
        for i, datagram in enumerate(datagrams):
            try:
                self._send_one(datagram)
            except BlockingIOError:
                self.dropped += 1
                self._errors.warning("%s %s: socket buffer full, dropping", self._label, self.target)
            except OSError as e:
                # ECONNREFUSED again (a second refusal), EHOSTUNREACH, ENETUNREACH, EMSGSIZE...: drop the rest
                self.refused += isinstance(e, ConnectionRefusedError)
                self.dropped += len(datagrams) - i
                name = errno.errorcode.get(e.errno or 0, "error")
                self._errors.warning(
                    "%s %s: %s %s; dropping", self._label, self.target, name, e.strerror or e, key=name
                )
                return
            else:
                self.sent += 1

    def _send_one(self, datagram: bytes) -> None:
        try:
            self._sock.send(datagram)
        except ConnectionRefusedError:
            # The refusal of an earlier datagram, reported (and cleared) instead of sending this one.
            self.refused += 1
            self._errors.warning(
                "%s %s: ECONNREFUSED, the receiver refused a datagram (nothing listening on the port?)",
                self._label, self.target,
            )  # fmt: skip
            self._sock.send(datagram)

    def close(self) -> None:
        self._errors.flush()
        self._sock.close()


class UdpFanout:
    """The same datagrams to several targets."""

    def __init__(self, targets: Sequence[str], label: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._targets: list[UdpTarget] = []
        try:
            for t in targets:
                self._targets.append(UdpTarget(t, label, clock))
        except TransportError:
            self.close()
            raise
        log.info("%s: sending to %s", label, ", ".join(targets), extra={"event": "targets", "targets": list(targets)})

    def send(self, datagrams: Sequence[bytes]) -> None:
        for target in self._targets:
            target.send(datagrams)

    @property
    def stats(self) -> SendStats:
        return SendStats(
            sum(t.sent for t in self._targets), sum(t.dropped for t in self._targets),
            sum(t.refused for t in self._targets),
        )  # fmt: skip

    def close(self) -> None:
        for target in self._targets:
            target.close()
