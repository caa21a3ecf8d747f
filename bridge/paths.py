"""Output paths checked against input paths, so no command ever writes over what it reads."""

from __future__ import annotations

import os
from pathlib import Path

from bridge.errors import ConfigError


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name the same file (links and hard links included), existing or not."""
    try:
        return a.samefile(b)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return os.path.realpath(a) == os.path.realpath(b)  # Path.resolve raises on a symlink loop


def refuse_overwrite(flag: str, output: Path, inputs: tuple[Path, ...]) -> None:
    """Raise ConfigError when writing ``output`` would overwrite one of ``inputs``.

    Args:
        flag: the option that named the output (``-o``, ``--record``), for the message.
        output: the path about to be written.
        inputs: the files the command reads.
    """
    for source in inputs:
        if same_file(output, source):
            raise ConfigError(f"{flag} {output}: would overwrite the input {source}")
