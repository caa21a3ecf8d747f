"""VMC protocol publisher (VSeeFace, VNyan, Warudo, VMagicMirror): Blend/Val + Apply, Bone/Pos, OK, T."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bridge.frames import AnimationFrame
from bridge.transports.encoding import VMC_NAME_MODES, encode_vmc_frame
from bridge.transports.udp import SendStats, UdpFanout


class VmcPublisher:
    """Sends each frame's VMC datagrams (bundled under 1,400 bytes, or one message per datagram)."""

    name = "vmc"

    def __init__(
        self,
        targets: Sequence[str],
        *,
        names: str = "vrm0",
        bundle: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if names not in VMC_NAME_MODES:
            raise ValueError(f"VMC names must be one of {', '.join(VMC_NAME_MODES)} (got {names!r})")
        self._out = UdpFanout(targets, "VMC", clock)
        self._names = names
        self._bundle = bundle

    def send(self, frame: AnimationFrame, /) -> None:
        self._out.send(encode_vmc_frame(frame, self._names, bundle=self._bundle))

    @property
    def stats(self) -> SendStats:
        return self._out.stats

    def close(self) -> None:
        self._out.close()
