"""Command-line flags of ``bake`` and ``preview`` and their translation into requests (bridge/cli.py wires them)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from bridge.config import Config
from bridge.errors import ConfigError
from bridge.offline.exports import (
    FORMATS,
    ExportOptions,
    check_dat_frame_rate,
    check_extended_shapes,
    parse_formats,
)

if TYPE_CHECKING:
    from bridge.offline.batch import BakeRequest
    from bridge.offline.lexicon import Lexicon
    from bridge.offline.preview import PreviewRequest

# Share of aligned phones in the blend with the acoustic model (docs/offline.md has the measurement).
DEFAULT_PHONE_WEIGHT = 0.7


def _add_channel_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--channel", type=int, help="use this channel (0-based) of each file instead of a downmix")


def _add_transcript_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("transcript-guided timing")
    g.add_argument("--text", help="transcript of the (single) input: aligned with pocketsphinx to time the mouth")
    g.add_argument("--no-text-files", action="store_true", help="ignore <name>.txt transcripts next to the audio")
    g.add_argument("--recognize", action="store_true",
                   help="without a transcript, time the mouth with pocketsphinx phone recognition as well")
    g.add_argument("--lexicon", type=Path, metavar="FILE",
                   help="your own pronunciations of names and game words, CMU dictionary lines "
                   "('XALTHAR  Z AE L TH AA R'), used before the dictionary")
    g.add_argument(
        "--phone-weight",
        type=float,
        default=DEFAULT_PHONE_WEIGHT,
        help=f"share of the aligned/recognized phones vs the acoustic model, 0..1 (default {DEFAULT_PHONE_WEIGHT})",
    )


def add_bake_args(p: argparse.ArgumentParser) -> None:
    """Flags of ``avatar-bridge bake`` (the pipeline's config flags are added by the CLI)."""
    p.add_argument(
        "inputs", nargs="+", metavar="IN", help="audio files, folders (searched recursively) or glob patterns"
    )
    p.add_argument(
        "-o",
        "--output",
        help="output folder (mirror tree of the inputs), or for one input file the output file (a name with a "
        "suffix that fits the format, not an audio or video one; end it with / for a folder); default: next to "
        "each input",
    )
    p.add_argument(
        "-f",
        "--format",
        action="append",
        metavar="FMT",
        help="output formats, comma-separated or repeated: "
        f"{', '.join(f'{f.name} ({f.suffix})' for f in FORMATS.values())} (default jsonl)",
    )
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help=f"worker processes (default 1; this machine has {os.cpu_count()} cores)",
    )
    p.add_argument("--force", action="store_true", help="bake again even when outputs are up to date")
    p.add_argument(
        "--extended-shapes",
        default="GHX",
        help="Rhubarb extended mouth shapes to use, a subset of GHX (default GHX; '' = A-F only)",
    )
    p.add_argument("--dat-frame-rate", type=float, default=24.0, metavar="FPS",
                   help="frames per second of moho-dat files, 24-100 (default 24)")  # fmt: skip
    p.add_argument("--dat-preston-blair", action="store_true",
                   help="Preston Blair shape names (MBP, etc, E, ...) in moho-dat files instead of A-H, X")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_channel_arg(p)
    _add_transcript_args(p)


def _check_weight(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"--phone-weight: must be between 0 and 1 (got {value!r})")
    return value


def _lexicon(path: Path | None) -> Lexicon:
    """The ``--lexicon`` file, read and checked before anything is baked (an empty lexicon without one)."""
    from bridge.offline.lexicon import Lexicon, load_lexicon

    return Lexicon() if path is None else load_lexicon(path)


def bake_request(args: argparse.Namespace, cfg: Config) -> BakeRequest:
    """The parsed ``bake`` flags as a request.

    Raises:
        ConfigError: an invalid flag value.
    """
    from bridge.offline.bake import BakeSettings
    from bridge.offline.batch import BakeRequest

    if args.jobs < 1:
        raise ConfigError(f"--jobs: must be at least 1 (got {args.jobs})")
    settings = BakeSettings(
        cfg=cfg,
        formats=parse_formats(args.format or ["jsonl"]),
        export=ExportOptions(
            extended_shapes=check_extended_shapes(args.extended_shapes),
            dat_frame_rate=check_dat_frame_rate(args.dat_frame_rate),
            dat_preston_blair=args.dat_preston_blair,
        ),
        phone_weight=_check_weight(args.phone_weight),
        recognize=args.recognize,
        lexicon=_lexicon(args.lexicon),
    )
    return BakeRequest(
        inputs=tuple(args.inputs),
        output=None if args.output is None else Path(args.output),
        output_folder=args.output is not None and args.output.endswith(("/", os.sep)),  # Path drops the slash
        settings=settings,
        text=args.text,
        text_files=not args.no_text_files,
        workers=args.jobs,
        force=args.force,
        progress=not args.no_progress and cfg.log.format == "text",
    )


def add_preview_args(p: argparse.ArgumentParser) -> None:
    """Flags of ``avatar-bridge preview``."""
    p.add_argument("source", type=Path, metavar="IN", help="audio file")
    p.add_argument("-o", "--output", type=Path, metavar="OUT.mp4", help="video of the animated face with the audio")
    p.add_argument("--plot", type=Path, metavar="OUT.png", help="picture of the main curves over the waveform")
    p.add_argument("--size", type=int, default=360, help="video height and width in pixels, 64-4096 (default 360)")
    _add_channel_arg(p)
    _add_transcript_args(p)


def preview_request(args: argparse.Namespace, cfg: Config) -> PreviewRequest:
    """The parsed ``preview`` flags as a request."""
    from bridge.offline.bake import BakeSettings
    from bridge.offline.preview import PreviewRequest

    settings = BakeSettings(
        cfg=cfg, formats=(), export=ExportOptions(), phone_weight=_check_weight(args.phone_weight),
        recognize=args.recognize, lexicon=_lexicon(args.lexicon),
    )
    return PreviewRequest(
        source=args.source,
        video=args.output,
        plot=args.plot,
        settings=settings,
        text=args.text,
        text_files=not args.no_text_files,
        size=args.size,
    )
