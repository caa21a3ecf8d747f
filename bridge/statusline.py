"""The live status line: frames/s, latency, voice activity and the strongest blendshapes."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from bridge.pipeline import Status

log = logging.getLogger(__name__)


def format_status(s: Status) -> str:
    bar = "#" * round(s.voice * 5)
    top = " ".join(f"{name} {value:.2f}" for name, value in s.top_blendshapes)
    muted = " MUTED" if s.muted else ""
    return (
        f"{s.fps:5.1f} fps | latency {s.latency_ms_p50:5.1f} ms (p99 {s.latency_ms_p99:5.1f}) "
        f"+ look-ahead {s.lookahead_ms:.0f} ms | voice {bar:<5} | {top}{muted}"
    )


class StatusLine:
    """Refreshes one line on a terminal; elsewhere (pipes, CI, JSON logs) emits `status` log events."""

    def __init__(self, get_status: Callable[[], Status], interval_s: float, stream: TextIO = sys.stderr) -> None:
        self._get = get_status
        self._interval_s = interval_s
        self._stream = stream
        self._tty = stream.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="status-line", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()

    def _loop(self) -> None:
        # On a terminal the line refreshes in place; as log events it is sent at most once a second.
        interval_s = self._interval_s if self._tty else max(1.0, self._interval_s)
        while not self._stop.wait(interval_s):
            s = self._get()
            if self._tty:
                self._stream.write("\r\x1b[2K" + format_status(s))
                self._stream.flush()
            else:
                log.info(
                    format_status(s),
                    extra={"event": "status", "fps": round(s.fps, 2), "latency_ms_p99": round(s.latency_ms_p99, 2),
                           "voice": round(s.voice, 3), "frames": s.frames},
                )
