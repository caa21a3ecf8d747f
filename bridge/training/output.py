"""Where ``train`` and ``train-head`` write: the path checked before any work, the file written whole.

A training takes up to an hour and a head fit minutes, so an ``--out`` that cannot be written is found
before they start, not after; and the file is written under a temporary name and renamed, so a full
disk at the end leaves the previous file as it was (the shipped model included) instead of a
truncated one.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from pathlib import Path

import numpy as np

from bridge.errors import ConfigError, ModelError


def prepare_output(path: Path, *, shipped: Path, may_replace_shipped: bool) -> None:
    """Make the folder of ``--out``; refuse one that cannot be written, or the shipped model when that is
    not allowed.

    Raises:
        ConfigError: a folder, a folder that cannot be made or written, or the shipped weights.
    """
    if not may_replace_shipped and path.resolve() == shipped.resolve():
        raise ConfigError(f"--out {path}: the shipped model's weights; this command must not replace them "
                          "(write elsewhere and pass the file with --weights)")  # fmt: skip
    if path.is_dir():
        raise ConfigError(f"--out {path}: is a folder; name the .npz file to write")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {path}: the folder {folder} cannot be made ({e.strerror or e})") from e
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {path}: the folder {folder} cannot be written")


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz (what ``np.load`` reads, no pickles) whose bytes depend only on the arrays, written whole.

    ``np.savez_compressed`` stamps every member with the current time, so two identical trainings
    gave different files; a fixed stamp lets a reproduction be checked with a checksum.

    Raises:
        ModelError: it cannot be written (the file at ``path`` is then unchanged).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, value in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                with zf.open(info, "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)  # type: ignore[no-untyped-call]
        os.replace(tmp, path)
    except OSError as e:
        raise ModelError(f"{path}: cannot write ({e.strerror or e}); the file there is unchanged") from e
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
