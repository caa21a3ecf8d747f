"""Bake sidecars: what produced an output (settings digest), so unchanged inputs are skipped next time.

Every baked input gets ``<output stem>.bake.json`` next to its outputs, written last, after every
output is complete. It records the size and modification time of the audio and transcript it read and
of every output it wrote. An input is up to date when its sidecar names the same settings digest and
outputs and every one of those files is still exactly as recorded (named relative to the sidecar, so a tree
copied or moved whole keeps its records): a different recording copied over
the audio with its old time (``cp -p``, rsync, an archive) is baked again, and so is an output that
another bake of the same tree replaced, or that someone edited.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import bridge
from bridge.config import Config
from bridge.errors import BridgeError

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".bake.json"
# Config sections that change what a bake writes (audio/publish/log only affect the live path).
_RELEVANT_SECTIONS = ("vad", "model", "face", "output")


@dataclass(frozen=True, slots=True)
class Sidecar:
    """The record of one bake.

    Attributes:
        digest: settings digest (see ``settings_digest``).
        source: the audio file, as given.
        outputs: output paths written, as strings.
        duration_s: audio length.
        frames: frames written.
        aligned: whether transcript phones drove the face.
        warnings: warnings of the bake.
        files: ``file_identity`` of the inputs read and the outputs written, by path relative to the sidecar's folder.
    """

    digest: str
    source: str
    outputs: tuple[str, ...]
    duration_s: float
    frames: int
    aligned: bool
    warnings: tuple[str, ...]
    files: dict[str, tuple[int, int]]


def file_identity(path: Path) -> tuple[int, int]:
    """(size, mtime in ns) of a file.

    Raises:
        OSError: it cannot be read.
    """
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def identities(paths: tuple[Path, ...], sidecar: Path) -> dict[str, tuple[int, int]]:
    """``file_identity`` of each path, keyed by its path relative to the sidecar's folder: the same file
    however it was named, and a baked tree copied or moved whole (``cp -a`` to another checkout, a CI
    cache) stays up to date."""
    base = os.path.abspath(sidecar.parent)
    return {_relative(os.path.abspath(p), base): file_identity(p) for p in paths}


def _relative(path: str, base: str) -> str:
    try:
        return os.path.relpath(path, base)
    except ValueError:  # another drive (Windows): no relative path
        return path


@functools.cache
def code_digest(root: Path = Path(bridge.__file__).parent) -> str:
    """SHA-256 of the installed package's code and data: any change to what computes a bake (a fix
    between releases, an edited checkout) makes earlier bakes stale, not only a new version number."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".npz", ".toml", ".json")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def _file_identity(path: str) -> str:
    """Path plus size and mtime, so retrained weights or a refitted head invalidate earlier bakes."""
    if path in ("default", ""):
        return path
    target = Path(path).expanduser()
    try:
        # A model directory (an SSL upstream): every file in it (config, weights).
        files = sorted(p for p in target.iterdir() if p.is_file()) if target.is_dir() else [target]
        stats = [(f.name, st.st_size, st.st_mtime_ns) for f in files for st in [f.stat()]]
    except OSError:
        return path
    return f"{path}:{stats}"


def settings_digest(
    cfg: Config, extra: dict[str, Any], transcript: str | None, lexicon: Mapping[str, str] | None = None
) -> str:
    """SHA-256 over everything that changes a bake's outputs.

    Args:
        cfg: the pipeline config (only sections that affect offline frames count).
        extra: bake options (formats, export options, blend weight).
        transcript: the transcript text, None without one.
        lexicon: the ``--lexicon`` entries for the transcript's words (``Lexicon.used_by``): editing an
            entry bakes again the lines that say the word, and only those. Left out of the digest when
            empty, so bakes without a lexicon keep their digests.
    """
    config = {s: dataclasses.asdict(getattr(cfg, s)) for s in _RELEVANT_SECTIONS}
    del config["output"]["subject"]  # receivers show it; no bake output holds it
    payload = {
        "version": bridge.__version__,
        "code": code_digest(),
        "config": config,
        "weights": _file_identity(cfg.model.weights),
        "head": _file_identity(cfg.model.head),
        # A profile file edited in place changes the rig channels under the same path.
        "profile": _file_identity(cfg.face.profile) if cfg.face.profile.endswith(".toml") else cfg.face.profile,
        "upstream": _file_identity(cfg.model.upstream),
        "extra": extra,
        "transcript": transcript,
    }
    if lexicon:
        payload["lexicon"] = dict(sorted(lexicon.items()))
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def sidecar_path(stem: Path) -> Path:
    return stem.with_name(stem.name + SIDECAR_SUFFIX)


_NAME_MAX_BYTES = 255  # a file name's limit on Linux, macOS and Windows file systems (NTFS: 255 UTF-16 units)
_TEMPORARY = re.compile(r"(?P<name>.+)\.(?P<pid>[0-9]+)\.[0-9a-f]{8}\.tmp")


def temporary_name(name: str, pid: int, tag: str) -> str:
    """``<name>.<pid>.<tag>.tmp``, with ``name`` shortened when the whole would pass the file name limit: an
    output whose own name fits must not fail for its temporary one."""
    suffix = f".{pid}.{tag}.tmp"
    room = _NAME_MAX_BYTES - len(suffix.encode())
    short = name.encode("utf-8", "surrogateescape")[:room].decode("utf-8", "ignore")
    return f"{short}{suffix}"


def remove_stale_temporaries(outputs: Iterable[Path]) -> None:
    """Remove temporary files left beside ``outputs`` by bakes that died before they could (a worker
    killed by the system, a power cut): those whose process is gone. A running bake's are left alone."""
    names: dict[Path, list[str]] = {}
    for path in outputs:
        names.setdefault(path.parent, []).append(path.name)
    for folder, wanted in names.items():
        try:
            entries = os.listdir(folder)
        except OSError:
            continue  # not made yet, or unreadable: its outputs will say so
        for entry in entries:
            m = _TEMPORARY.fullmatch(entry)
            if m and any(w.startswith(m["name"]) for w in wanted) and not _running(int(m["pid"])):
                with contextlib.suppress(OSError):
                    (folder / entry).unlink()
                    log.info("removed %s, left by a bake that did not finish", folder / entry,
                             extra={"event": "bake_stale_temporary", "file": str(folder / entry)})  # fmt: skip


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[TextIO]:
    """A text file that appears at ``path`` complete or not at all: written under a temporary name of its
    own in the same folder, then renamed. Two bakes writing one path at once each rename a whole file;
    a failed or interrupted write leaves nothing behind.

    Raises:
        BridgeError: it cannot be written.
    """
    tmp: Path | None = None
    try:
        name = path.with_name(temporary_name(path.name, os.getpid(), secrets.token_hex(4)))
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as to any output
        tmp = name
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            yield out
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise BridgeError(f"{path}: cannot write ({e.strerror or e})") from e
    finally:
        if tmp is not None:  # also when interrupted (Ctrl+C, SIGTERM) halfway through a long export
            # Where the folder is read-only there is nothing to remove, and the unlink's own error must
            # not replace the one above.
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def write_sidecar(path: Path, sidecar: Sidecar) -> None:
    """Write atomically, so a crash never leaves a sidecar for partial outputs."""
    with atomic_file(path) as out:
        out.write(json.dumps(dataclasses.asdict(sidecar), indent=1) + "\n")


def read_sidecar(path: Path) -> Sidecar | None:
    """The sidecar, or None when it is missing or unreadable (the input is then baked again)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Sidecar(
            digest=str(data["digest"]),
            source=str(data["source"]),
            outputs=tuple(str(o) for o in data["outputs"]),
            duration_s=float(data["duration_s"]),
            frames=int(data["frames"]),
            aligned=bool(data["aligned"]),
            warnings=tuple(str(w) for w in data["warnings"]),
            files={str(k): (int(v[0]), int(v[1])) for k, v in data["files"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None  # also a sidecar of an older version, without "files": baked again once


# How write_sidecar's records begin: one cut short (a crash, a full disk, a power cut before the data
# reached the disk) is still a record, not someone's file.
_RECORD_START = '{\n "digest": "'


def is_sidecar_or_absent(path: Path) -> bool:
    """False when something else sits where a bake record goes (a user's ``x.bake.json`` export), which a
    bake must not overwrite. A record of an older version, without ``files``, is still a record, and so
    are an empty file and a record cut short."""
    if not os.path.lexists(path):
        return True
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except UnicodeDecodeError:
        return False
    except ValueError:
        return not text.strip() or text.startswith(_RECORD_START) or _RECORD_START.startswith(text)
    except OSError:
        return False
    return isinstance(data, dict) and "digest" in data and "source" in data


def up_to_date(
    record: Sidecar | None, sidecar: Path, outputs: tuple[Path, ...], inputs: tuple[Path, ...], digest: str
) -> bool:
    """True when ``outputs`` were made from ``inputs`` with the same settings and none of them changed
    since, by ``record``, the sidecar read from ``sidecar`` (read once by the caller, which uses it too)."""
    if record is None or record.digest != digest:
        return False
    try:
        return record.files == identities((*inputs, *outputs), sidecar)
    except OSError:
        return False
