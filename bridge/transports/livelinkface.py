"""Live Link Face (v6) publisher: Unreal's Apple ARKit Face Support source shows the subject, no plugin."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bridge.frames import AnimationFrame
from bridge.transports.encoding import LLF_DEFAULT_DEVICE_ID, encode_livelinkface
from bridge.transports.udp import SendStats, UdpFanout


class LiveLinkFacePublisher:
    """Sends one Live Link Face packet per frame to each HOST:PORT (Unreal listens on 11111)."""

    name = "livelinkface"

    def __init__(
        self,
        targets: Sequence[str],
        *,
        device_id: str = LLF_DEFAULT_DEVICE_ID,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out = UdpFanout(targets, "Live Link Face", clock)
        self._device_id = device_id

    def send(self, frame: AnimationFrame, /) -> None:
        self._out.send([encode_livelinkface(frame, self._device_id)])

    @property
    def stats(self) -> SendStats:
        return self._out.stats

    def close(self) -> None:
        self._out.close()
