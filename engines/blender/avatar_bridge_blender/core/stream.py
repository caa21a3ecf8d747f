"""Packets -> frames for one protocol, with the counters the panel shows (no bpy)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable

from .._vendor.avatar_wire import AvatarDecoder, Frame, WireError, parse_livelinkface, remember

log = logging.getLogger(__name__)

PROTOCOLS: tuple[str, ...] = ("OSC", "LLF")
DEFAULT_PORTS: dict[str, int] = {"OSC": 9100, "LLF": 11111}
RATE_WINDOW_S = 1.0
# A jump over this many frames (a minute at 100 fps) is no loss the network made: a restarted or
# forged sender, counted afresh like a lower seq.
MAX_GAP_FRAMES = 6000


class PacketStream:
    """Decodes datagrams of one protocol; malformed ones are counted and skipped, never raised.

    Attributes:
        packets: datagrams seen.
        frames: frames decoded.
        malformed: datagrams that failed to decode.
        lost: OSC frames missing from each subject's sequence numbers (dropped on the way, or by
            the socket's buffer when Blender fell behind).
        last_error: the most recent decode error message ("" if none).
        last_frame_s: host monotonic time the newest frame arrived (None before the first).
    """

    def __init__(self, protocol: str) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")
        self.protocol = protocol
        self._osc = AvatarDecoder()
        self.packets = 0
        self.frames = 0
        self.malformed = 0
        self.lost = 0
        self._last_seq: dict[str, int] = {}  # in order of last frame; at most MAX_SUBJECTS
        self.last_error = ""
        self.last_frame_s: float | None = None
        self._arrivals: deque[float] = deque()

    def decode(self, packets: Iterable[bytes], now_s: float) -> list[Frame]:
        """Frames carried by ``packets`` (in order) that arrived at host time ``now_s``."""
        out: list[Frame] = []
        for packet in packets:
            self.packets += 1
            try:
                out.extend(self._decode_one(packet))
            except WireError as e:
                self.malformed += 1
                if self.malformed == 1 or str(e) != self.last_error:
                    log.warning("ignored malformed %s packet: %s", self.protocol, e)
                self.last_error = str(e)
        if self.protocol == "OSC":
            for frame in out:
                last = self._last_seq.get(frame.subject)
                if last is not None and 1 <= frame.seq - last - 1 <= MAX_GAP_FRAMES:
                    self.lost += frame.seq - last - 1  # a lower seq is a restarted sender: counted afresh
                remember(self._last_seq, frame.subject, frame.seq)
        if out:
            self.frames += len(out)
            self.last_frame_s = now_s
            self._arrivals.extend([now_s] * len(out))
        return out

    def _decode_one(self, packet: bytes) -> list[Frame]:
        if self.protocol == "LLF":
            return [parse_livelinkface(packet).to_frame(seq=self.frames)]
        return self._osc.feed(packet)

    @property
    def foreign(self) -> int:
        """Messages of another protocol on this port (e.g. VMC), ignored."""
        return self._osc.foreign

    def frames_per_s(self, now_s: float) -> float:
        """Frames that arrived in the last second."""
        while self._arrivals and self._arrivals[0] < now_s - RATE_WINDOW_S:
            self._arrivals.popleft()
        return len(self._arrivals) / RATE_WINDOW_S

    def last_frame_age_s(self, now_s: float) -> float | None:
        return None if self.last_frame_s is None else now_s - self.last_frame_s
