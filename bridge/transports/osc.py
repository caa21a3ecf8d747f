"""Publisher of the bridge's own OSC address space (/avatar/v1/names, /avatar/v1/frame) over UDP."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bridge.frames import AnimationFrame
from bridge.transports.encoding import encode_osc_packet
from bridge.transports.udp import SendStats, UdpFanout

NAMES_INTERVAL_S = 1.0


class OscPublisher:
    """Sends every frame to each HOST:PORT; names go before the first frame, on a subject change and
    every ``names_interval_s`` so late receivers learn them."""

    name = "osc"

    def __init__(
        self,
        targets: Sequence[str],
        *,
        bundle: bool = True,
        names_interval_s: float = NAMES_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out = UdpFanout(targets, "OSC", clock)
        self._bundle = bundle
        self._names_interval_s = names_interval_s
        self._clock = clock
        self._names_due_s = float("-inf")
        self._subject: str | None = None

    def send(self, frame: AnimationFrame, /) -> None:
        now = self._clock()
        names = now >= self._names_due_s or frame.subject != self._subject
        if names:
            self._names_due_s = now + self._names_interval_s
            self._subject = frame.subject
        self._out.send(encode_osc_packet(frame, names=names, bundle=self._bundle))

    @property
    def stats(self) -> SendStats:
        return self._out.stats

    def close(self) -> None:
        self._out.close()
