"""Path rules every command shares: output paths checked against input paths, so no command ever writes
over what it reads, and folders searched through their links without looping."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from bridge.errors import ConfigError


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name the same file (links and hard links included), existing or not."""
    try:
        return a.samefile(b)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return os.path.realpath(a) == os.path.realpath(b)  # Path.resolve raises on a symlink loop


def broken_link(path: Path) -> str | None:
    """Why ``path`` cannot be followed, when it is a looping or dangling symbolic link."""
    try:
        path.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symbolic link loop"
        if path.is_symlink():
            return f"a dangling symbolic link (to {os.readlink(path)})"
    return None


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


def walk_files(
    folder: Path, *, skip_hidden: bool = False, on_error: Callable[[OSError], None] | None = None
) -> list[Path]:
    """Everything but folders under ``folder``. Linked folders are entered once each: one whose real
    folder was walked already (a link to ``.`` or to a parent, a second link to the same folder) is not,
    so links cannot loop, and the first by name wins. ``skip_hidden`` leaves out names starting with a
    dot (macOS ``._x`` copies); ``on_error`` hears of folders that cannot be listed."""
    seen = {os.path.realpath(folder)}
    files: list[Path] = []
    for d, dirs, names in os.walk(folder, onerror=on_error, followlinks=True):
        kept = []
        for name in sorted(dirs):  # sorted: which of two links to one folder is entered must not vary
            real = os.path.realpath(os.path.join(d, name))
            if not (skip_hidden and name.startswith(".")) and real not in seen:
                seen.add(real)
                kept.append(name)
        dirs[:] = kept
        files += [Path(d, n) for n in names if not (skip_hidden and n.startswith("."))]
    return files

