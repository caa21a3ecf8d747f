"""Bake sidecars: what produced an output (settings digest), so unchanged inputs are skipped next time.

Every baked input gets ``<output stem>.bake.json`` next to its outputs, written last, after every
output is complete. An input is up to date when its sidecar exists, names the same settings digest
and outputs, and the sidecar and every output are newer than the audio and its transcript file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge import __version__
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
    """

    digest: str
    source: str
    outputs: tuple[str, ...]
    duration_s: float
    frames: int
    aligned: bool
    warnings: tuple[str, ...]


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


def settings_digest(cfg: Config, extra: dict[str, Any], transcript: str | None) -> str:
    """SHA-256 over everything that changes a bake's outputs.

    Args:
        cfg: the pipeline config (only sections that affect offline frames count).
        extra: bake options (formats, export options, blend weight).
        transcript: the transcript text, None without one.
    """
    payload = {
        "version": __version__,
        "config": {s: dataclasses.asdict(getattr(cfg, s)) for s in _RELEVANT_SECTIONS},
        "weights": _file_identity(cfg.model.weights),
        "head": _file_identity(cfg.model.head),
        # A profile file edited in place changes the rig channels under the same path.
        "profile": _file_identity(cfg.face.profile) if cfg.face.profile.endswith(".toml") else cfg.face.profile,
        "upstream": _file_identity(cfg.model.upstream),
        "extra": extra,
        "transcript": transcript,
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def sidecar_path(stem: Path) -> Path:
    return stem.with_name(stem.name + SIDECAR_SUFFIX)


def write_sidecar(path: Path, sidecar: Sidecar) -> None:
    """Write atomically (temp file + rename) so a crash never leaves a sidecar for partial outputs."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(dataclasses.asdict(sidecar), indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise BridgeError(f"{path}: cannot write ({e.strerror or e})") from e
    finally:  # a failed or interrupted write leaves nothing behind (after the rename there is no tmp)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


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
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def up_to_date(sidecar: Path, outputs: tuple[Path, ...], inputs: tuple[Path, ...], digest: str) -> bool:
    """True when ``outputs`` were made from ``inputs`` with the same settings and nothing changed since."""
    record = read_sidecar(sidecar)
    if record is None or record.digest != digest or set(record.outputs) != {str(o) for o in outputs}:
        return False
    try:
        newest_input = max(p.stat().st_mtime_ns for p in inputs)
        oldest_output = min(p.stat().st_mtime_ns for p in (*outputs, sidecar))
    except OSError:
        return False
    return oldest_output >= newest_input
