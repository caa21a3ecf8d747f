"""Receive frames on a background thread and hand them to the main thread, newest only.

Host-free (no maya import). The receive thread decodes each datagram, keeps the newest frame in a
``FrameHub`` (and every frame while recording), and asks a ``CoalescingScheduler`` to run the
apply callback on the main thread; the scheduler keeps at most one apply pending, so a slow scene
skips stale frames instead of queueing them.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

from .avatar_wire import (
    AvatarDecoder,
    Frame,
    WireError,
    frame_from_zmq_face,
    parse_livelinkface,
    parse_zmq_message,
)

log = logging.getLogger(__name__)

FORMATS = ("osc", "livelinkface", "zmq")
_MAX_DATAGRAM = 65535
_POLL_S = 0.2  # how often the receive thread checks for stop
_LOGGED_ERRORS = 5  # malformed packets logged in full; later ones are only counted


class ReceiverError(RuntimeError):
    """The receiver could not start (bad format, port in use...)."""


class CoalescingScheduler:
    """Runs ``fn`` through ``defer`` (e.g. maya.utils.executeDeferred) with at most one pending.

    ``request`` may be called from any thread. The pending flag is cleared before ``fn`` runs,
    so a frame that arrives during an apply schedules the next one.
    """

    def __init__(self, defer: Callable[[Callable[[], None]], object], fn: Callable[[], None]) -> None:
        self._defer = defer
        self._fn = fn
        self._lock = threading.Lock()
        self._pending = False
        self.scheduled = 0

    def request(self) -> bool:
        """Schedule ``fn`` unless a run is already pending; True if this call scheduled it."""
        with self._lock:
            if self._pending:
                return False
            self._pending = True
            self.scheduled += 1
        self._defer(self._run)
        return True

    def _run(self) -> None:
        with self._lock:
            self._pending = False
        self._fn()


class FrameHub:
    """Thread-safe hand-off: the newest frame for live apply, every frame while recording."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._newest: Frame | None = None
        self._take: list[Frame] | None = None
        self.frames = 0
        self.applied = 0
        self.last: Frame | None = None

    def push(self, frame: Frame) -> None:
        with self._lock:
            self._newest = frame
            self.last = frame
            self.frames += 1
            if self._take is not None:
                self._take.append(frame)

    def take_newest(self) -> Frame | None:
        """The newest frame not yet taken, or None (so the same frame is never applied twice)."""
        with self._lock:
            frame, self._newest = self._newest, None
            if frame is not None:
                self.applied += 1
            return frame

    def start_recording(self) -> None:
        with self._lock:
            self._take = []

    def stop_recording(self) -> list[Frame]:
        """Every frame pushed since start_recording (empty if not recording)."""
        with self._lock:
            take, self._take = self._take, None
        return take or []

    @property
    def recording(self) -> bool:
        with self._lock:
            return self._take is not None


class _Receiver:
    """A daemon thread that reads messages and pushes decoded frames to ``on_frame``.

    Malformed messages are counted (``errors``) and skipped; the thread never dies on them.
    Subclasses provide ``_recv`` (bytes, or None after a poll timeout), ``_decode`` and ``_close``.
    """

    description = ""

    def __init__(self, on_frame: Callable[[Frame], None]) -> None:
        self._on_frame = on_frame
        self._stop = threading.Event()
        self.packets = 0
        self.errors = 0
        self.last_error = ""
        self._thread = threading.Thread(target=self._loop, name="avatar-bridge-receiver", daemon=True)
        self._started = False

    def start(self) -> None:
        self._started = True
        self._thread.start()
        log.info("avatar bridge: listening on %s", self.description)

    def stop(self) -> None:
        self._stop.set()
        if not self._started:
            self._close()  # the thread would have closed it
        elif self._thread.is_alive():
            self._thread.join(timeout=2 * _POLL_S + 1.0)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _recv(self) -> bytes | None:
        raise NotImplementedError

    def _decode(self, data: bytes) -> list[Frame]:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._recv()
                if data is None:
                    continue
                self.packets += 1
                try:
                    frames = self._decode(data)
                except WireError as e:
                    self.errors += 1
                    self.last_error = str(e)
                    if self.errors <= _LOGGED_ERRORS:
                        log.warning("avatar bridge: skipped a malformed packet: %s", e)
                    continue
                for frame in frames:
                    self._on_frame(frame)
        finally:
            self._close()


class UdpReceiver(_Receiver):
    """OSC (/avatar/v1/*) or Live Link Face datagrams on a UDP port."""

    def __init__(
        self, on_frame: Callable[[Frame], None], port: int, host: str = "127.0.0.1", fmt: str = "osc"
    ) -> None:
        if fmt not in ("osc", "livelinkface"):
            raise ReceiverError(f"unknown UDP format {fmt!r}; expected 'osc' or 'livelinkface'")
        super().__init__(on_frame)
        self._fmt = fmt
        self._decoder = AvatarDecoder()
        self._seq = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except OSError as e:
            self._sock.close()
            raise ReceiverError(f"cannot listen on UDP {host}:{port}: {e}") from e
        self._sock.settimeout(_POLL_S)
        self.address = self._sock.getsockname()
        self.description = "{} on UDP {}:{}".format(fmt, *self.address)

    def _recv(self) -> bytes | None:
        try:
            return self._sock.recv(_MAX_DATAGRAM)
        except socket.timeout:
            return None
        except OSError as e:  # e.g. the network went away: stop instead of spinning
            log.error("avatar bridge: UDP receive failed, stopping: %s", e)
            self._stop.set()
            return None

    def _decode(self, data: bytes) -> list[Frame]:
        if self._fmt == "osc":
            return self._decoder.feed(data)
        self._seq += 1  # Live Link Face carries no sequence number
        return [parse_livelinkface(data).to_frame(self._seq)]

    def _close(self) -> None:
        self._sock.close()


class ZmqReceiver(_Receiver):
    """``face/<subject>`` messages from the bridge's ZeroMQ PUB socket (needs pyzmq in mayapy).

    No CONFLATE: every frame is decoded so recording misses none; live apply still shows only the
    newest (FrameHub).
    """

    def __init__(self, on_frame: Callable[[Frame], None], endpoint: str, subject: str | None = None) -> None:
        try:
            import zmq
        except ImportError as e:
            raise ReceiverError(
                "pyzmq is not installed in this Python; run: mayapy -m pip install pyzmq"
            ) from e
        super().__init__(on_frame)
        self._zmq = zmq
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        # The NUL ends the topic, so "face/avatar\0" does not match "face/avatar2".
        topic = b"face/" + (subject.encode("utf-8") + b"\x00" if subject else b"")
        self._sock.setsockopt(zmq.SUBSCRIBE, topic)
        try:
            self._sock.connect(endpoint)
        except zmq.ZMQError as e:
            self._close()
            raise ReceiverError(f"cannot connect to {endpoint}: {e}") from e
        self.address = endpoint
        self.description = "ZeroMQ " + endpoint

    def _recv(self) -> bytes | None:
        if not self._sock.poll(int(_POLL_S * 1000)):
            return None
        return bytes(self._sock.recv())

    def _decode(self, data: bytes) -> list[Frame]:
        _, payload = parse_zmq_message(data)
        return [frame_from_zmq_face(payload)]

    def _close(self) -> None:
        self._sock.close(linger=0)
        self._ctx.term()
