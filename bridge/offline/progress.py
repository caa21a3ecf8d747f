"""A one-line progress bar on stderr for batch bakes (no dependency), redrawn in place on a terminal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_WIDTH = 28


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressBar:
    """``[#####.......]  12/100  3 failed  0:04 left``; draws nothing when disabled.

    Args:
        total: number of items.
        stream: where to draw (stderr).
        enabled: draw at all (only on a terminal with human-readable logs).
    """

    def __init__(self, total: int, stream: TextIO, enabled: bool) -> None:
        self.total = total
        self.stream = stream
        self.enabled = enabled and total > 0
        self.done = 0
        self.failed = 0
        self._t0 = time.monotonic()
        self._shown = False

    def line(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        filled = int(round(frac * _WIDTH))
        text = f"[{'#' * filled}{'.' * (_WIDTH - filled)}] {self.done:>{len(str(self.total))}}/{self.total}"
        if self.failed:
            text += f"  {self.failed} failed"
        elapsed = time.monotonic() - self._t0
        if 0 < self.done < self.total:
            text += f"  {_clock(elapsed / self.done * (self.total - self.done))} left"
        elif self.done == self.total:
            text += f"  {_clock(elapsed)}"
        return text

    def advance(self, failed: bool = False) -> None:
        self.done += 1
        self.failed += int(failed)
        self.draw()

    def draw(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K" + self.line())
            self.stream.flush()
            self._shown = True

    def clear(self) -> None:
        if self.enabled and self._shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._shown = False

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Clear the bar while other lines (log messages) are written, then redraw it."""
        self.clear()
        try:
            yield
        finally:
            self.draw()

    def finish(self) -> None:
        if self.enabled and self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
