"""Export formats: one module per format, chosen by name (``--format``); each writes to a text stream."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from bridge.errors import ConfigError
from bridge.offline.exports import bvh, jsonl, llf_csv, rhubarb, visemes
from bridge.offline.take import Take


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """Settings some exports take.

    Attributes:
        extended_shapes: Rhubarb extended mouth shapes to use, a subset of "GHX" (Rhubarb's
            ``--extendedShapes``); shapes left out fall back to their basic shape.
        dat_frame_rate: frames per second of the Moho switch file (Rhubarb's ``--datFrameRate``).
        dat_preston_blair: Preston Blair shape names in the Moho switch file (``--datUsePrestonBlair``).
    """

    extended_shapes: str = "GHX"
    dat_frame_rate: float = 24.0
    dat_preston_blair: bool = False


@dataclass(frozen=True, slots=True)
class ExportFormat:
    """One output format.

    Attributes:
        name: the ``--format`` value.
        suffix: appended to the output stem (may contain several dots).
        write: writes a take to a text stream.
        description: one line for ``--help``.
    """

    name: str
    suffix: str
    write: Callable[[Take, ExportOptions, TextIO], None]
    description: str


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("jsonl", ".jsonl", lambda t, o, s: jsonl.write(t, s), "bake contract, one JSON object per frame"),
        ExportFormat("llf-csv", ".csv", lambda t, o, s: llf_csv.write(t, s), "Live Link Face app CSV"),
        ExportFormat(
            "rhubarb-tsv", ".tsv", lambda t, o, s: rhubarb.write_tsv(t, o.extended_shapes, s), "Rhubarb mouth cues, TSV"
        ),
        ExportFormat(
            "rhubarb-json",
            ".rhubarb.json",
            lambda t, o, s: rhubarb.write_json(t, o.extended_shapes, s),
            "Rhubarb mouth cues, JSON",
        ),
        ExportFormat(
            "moho-dat",
            ".dat",
            lambda t, o, s: rhubarb.write_dat(t, o.extended_shapes, o.dat_frame_rate, o.dat_preston_blair, s),
            "Moho switch data (Rhubarb's dat), for Moho and OpenToonz",
        ),
        ExportFormat("visemes", ".visemes.csv", lambda t, o, s: visemes.write(t, s), "Oculus viseme weights per frame"),
        ExportFormat("bvh", ".bvh", lambda t, o, s: bvh.write(t, s), "BVH of head, jaw and eye joints"),
    )
}


def parse_formats(spec: str | list[str]) -> tuple[str, ...]:
    """Split "jsonl,bvh" (or repeated flags) into known format names, in a stable order, no duplicates.

    Raises:
        ConfigError: an unknown name.
    """
    items = [spec] if isinstance(spec, str) else spec
    names: list[str] = []
    for item in items:
        for name in (n.strip() for n in item.split(",")):
            if not name:
                continue
            if name not in FORMATS:
                raise ConfigError(f"--format: unknown format {name!r} (known: {', '.join(FORMATS)})")
            if name not in names:
                names.append(name)
    if not names:
        raise ConfigError("--format: no format given")
    return tuple(names)


def check_extended_shapes(value: str) -> str:
    """Validate Rhubarb's extended-shape set (any subset of G, H, X)."""
    if any(c not in "GHX" for c in value):
        raise ConfigError(f"--extended-shapes: must be a subset of GHX (got {value!r})")
    return "".join(c for c in "GHX" if c in value)


def check_dat_frame_rate(value: float) -> float:
    """Validate the Moho switch file's frame rate (Rhubarb's range)."""
    lo, hi = rhubarb.DAT_FRAME_RATES
    if not lo <= value <= hi:
        raise ConfigError(f"--dat-frame-rate: must be between {lo:g} and {hi:g} fps (got {value:g})")
    return value
