"""A non-blocking UDP socket that hands back whatever datagrams are waiting (no bpy)."""

from __future__ import annotations

import ipaddress
import logging
import socket

log = logging.getLogger(__name__)

MAX_DATAGRAM_BYTES = 65535
# Room for a few seconds of frames if the host stalls (a file load, a modal dialog).
RECV_BUFFER_BYTES = 1 << 20


def is_loopback(host: str) -> bool:
    """True when ``host`` only reaches this machine (so no online access is needed to bind it)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class UdpReceiver:
    """A bound, non-blocking UDP socket; ``drain`` never waits.

    Raises:
        OSError: from the constructor when the address cannot be bound (port in use, bad host).
    """

    def __init__(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER_BYTES)
            self._sock.bind((host, port))
            self._sock.setblocking(False)
        except OSError:
            self._sock.close()
            raise
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        log.info("listening on udp %s:%d", host, self.port)

    def drain(self, max_packets: int = 4096) -> list[bytes]:
        """All datagrams waiting now (oldest first), at most ``max_packets``."""
        packets: list[bytes] = []
        while len(packets) < max_packets:
            try:
                packets.append(self._sock.recv(MAX_DATAGRAM_BYTES))
            except (BlockingIOError, InterruptedError):
                break
            except ConnectionResetError:
                # Windows reports an earlier ICMP "port unreachable" on the next recv; harmless.
                continue
        return packets

    def close(self) -> None:
        self._sock.close()
        log.info("stopped listening on udp %s:%d", self.host, self.port)
