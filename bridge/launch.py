"""The ``avatar-bridge`` command and ``python -m bridge``: the CLI, with an interrupt during start-up handled.

Importing the CLI takes a second or two (numpy, scipy, the audio stack), and those imports do not all
survive an interrupt: Ctrl+C in that time printed a traceback or died by the signal, and numpy turned
it into an ImportError. So Ctrl+C and SIGTERM are held back until the imports are done, then acted on:
the command ends quietly with exit status 130, as an interrupt does once it runs (``bridge.cli``).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

_HELD = {signal.SIGINT, signal.SIGTERM}


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    hold = hasattr(signal, "pthread_sigmask")  # POSIX; elsewhere an interrupt may still land in an import
    if hold:
        signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        from bridge.cli import main as cli_main

        if hold:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)  # one that came meanwhile is raised here
        code = cli_main()
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
