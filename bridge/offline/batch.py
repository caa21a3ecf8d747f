"""``avatar-bridge bake``: files, folders and glob patterns, N worker processes, skip what is up to date.

Outputs go next to each input (same stem, the format's suffix), or into a mirror tree under
``-o DIR`` (paths relative to the folder or glob base that found the input), or, for a single
input file, to ``-o FILE`` itself (``_output_is_file`` has the rule). A file that fails is reported
at the end and the exit status is 1; the other files are still baked.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import fnmatch
import functools
import glob
import logging
import multiprocessing
import os
import signal
import stat
import sys
import time
from collections.abc import Generator, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.queues import SimpleQueue
from pathlib import Path
from types import FrameType

from bridge.audio.sources import AUDIO_SUFFIXES
from bridge.errors import BridgeError, ConfigError, ModelError
from bridge.face import build_face_solver
from bridge.offline.bake import BakeJob, BakeReport, BakeSettings, bake_file, load_bake_model
from bridge.offline.exports import FORMATS
from bridge.offline.manifest import (
    SIDECAR_SUFFIX,
    Sidecar,
    is_sidecar_or_absent,
    read_sidecar,
    remove_stale_temporaries,
    settings_digest,
    sidecar_path,
    up_to_date,
)
from bridge.offline.progress import ProgressBar
from bridge.paths import broken_link, refuse_overwrite, same_file, walk_files

log = logging.getLogger(__name__)

TRANSCRIPT_SUFFIX = ".txt"


@dataclass(frozen=True, slots=True)
class BakeRequest:
    """What the user asked for on the command line.

    Attributes:
        inputs: files, folders and glob patterns.
        output: None (next to inputs), a folder (mirror tree) or, for one input file, a file path.
        output_folder: ``-o`` was written with a trailing slash: a folder even for one input file.
        settings: shared bake settings.
        text: transcript for a single input (``--text``).
        text_files: use ``<stem>.txt`` next to an audio file as its transcript.
        workers: worker processes (1 = bake in this process).
        force: bake even when outputs are up to date.
        progress: draw a progress bar (on a terminal).
    """

    inputs: tuple[str, ...]
    output: Path | None
    settings: BakeSettings
    text: str | None = None
    text_files: bool = True
    workers: int = 1
    force: bool = False
    progress: bool = True
    output_folder: bool = False


@dataclass(frozen=True, slots=True)
class Found:
    """An input file and the folder its mirror path is relative to (None: given by name)."""

    path: Path
    root: Path | None


@dataclass(frozen=True, slots=True)
class Failure:
    source: Path
    message: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Outcome of a bake run.

    Attributes:
        baked: reports of files baked now.
        skipped: files whose outputs were up to date.
        failed: files that could not be baked, with the reason.
        wall_s: wall time of the whole run.
    """

    baked: tuple[BakeReport, ...]
    skipped: tuple[Path, ...]
    failed: tuple[Failure, ...]
    wall_s: float

    @property
    def audio_s(self) -> float:
        return sum(r.duration_s for r in self.baked)


def _glob_base(pattern: str) -> Path:
    parts = Path(pattern).parts
    base: list[str] = []
    for part in parts:
        if glob.has_magic(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


def _name_matches(name: str, pattern: str) -> bool:
    """One path component against one glob component; as in glob, wildcards skip names starting with a dot."""
    return (pattern.startswith(".") or not name.startswith(".")) and fnmatch.fnmatch(name, pattern)


def _parts_match(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """glob's rules, with ``**`` as any number of (not hidden) folders."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return _parts_match(parts, pattern[1:]) or (
            bool(parts) and _name_matches(parts[0], "*") and _parts_match(parts[1:], pattern)
        )
    return bool(parts) and _name_matches(parts[0], pattern[0]) and _parts_match(parts[1:], pattern[1:])


def _files_under(folder: Path, unreadable: list[Failure]) -> list[Path]:
    """``walk_files``; a folder that cannot be listed (no permission) is added to ``unreadable``."""

    def cannot_list(e: OSError) -> None:
        unreadable.append(Failure(Path(e.filename), f"cannot read the folder ({e.strerror or e})"))

    return walk_files(folder, on_error=cannot_list)


def _glob(spec: str, base: Path, unreadable: list[Failure]) -> list[Path]:
    """``glob.glob``, except that ``**`` enters each linked folder once (``_files_under``): glob's
    follows links, and two links to ``.`` make it walk 2^40 paths."""
    pattern = Path(spec).parts
    if "**" not in pattern:
        return [Path(m) for m in glob.glob(spec)]
    rest = pattern[len(base.parts) :]
    if not os.path.lexists(base):  # nothing to match: not a folder that cannot be read
        return []
    return [p for p in _files_under(base, unreadable) if _parts_match(p.relative_to(base).parts, rest)]


def _audio_files(candidates: Iterable[Path], spec: str, unreadable: list[Failure]) -> list[Path]:
    """The audio files among ``candidates``, sorted; links to audio that lead nowhere are named in a
    warning, and files that cannot be looked at (no permission on their folder) go to ``unreadable``."""
    files: list[Path] = []
    broken: list[Path] = []
    for p in candidates:
        if p.suffix.lower() not in AUDIO_SUFFIXES:
            continue
        try:
            if p.is_file():
                files.append(p)
            elif p.is_symlink():
                broken.append(p)
        except OSError as e:
            unreadable.append(Failure(p, f"cannot read ({e.strerror or e})"))
    if broken:
        log.warning(
            "%s: skipped %d broken symbolic link%s (dangling or looping): %s",
            spec, len(broken), "" if len(broken) == 1 else "s", ", ".join(str(p) for p in sorted(broken)),
            extra={"event": "bake_broken_links", "count": len(broken)},
        )  # fmt: skip
    return sorted(files)


def _links_in(path: Path) -> int:
    """How many components of ``path`` (as written) are symbolic links."""
    return sum(p.is_symlink() for p in (path, *path.parents))


def _unique(found: list[Found]) -> list[Found]:
    """One entry per real file: the path with the fewest symbolic links in it, else the first; the others are logged."""
    same_file: dict[str, list[Found]] = {}
    for f in found:
        same_file.setdefault(os.path.realpath(f.path), []).append(f)  # unlike Path.resolve, never raises on a loop
    unique = []
    for group in same_file.values():
        keep = group[0] if len(group) == 1 else min(group, key=lambda f: _links_in(f.path))
        for f in group:
            if f.path != keep.path:
                log.info("%s: skipped, the same file as %s", f.path, keep.path,
                         extra={"event": "bake_duplicate", "file": str(f.path)})  # fmt: skip
        unique.append(keep)
    return unique


def _is_dir(path: Path) -> bool:
    """``Path.is_dir``, False where the path cannot be looked at (it then fails as a file, naming why)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def collect_inputs(specs: tuple[str, ...]) -> tuple[list[Found], list[Failure]]:
    """Expand folders (recursively) and glob patterns into audio files, sorted, without duplicates, and
    the folders and files found that cannot be read (they fail; the others are baked).

    A name that is neither a folder nor a pattern is kept even if it does not exist: it fails
    at bake time and is reported with the others. Linked folders are entered once each.

    Raises:
        ConfigError: a folder or pattern that holds no audio file and nothing unreadable; standard
            input, a pipe or a device named as an input.
    """
    found: list[Found] = []
    unreadable: list[Failure] = []
    for spec in specs:
        path = Path(spec)
        before = len(unreadable)
        if glob.has_magic(spec) and not os.path.lexists(path):  # "take[1].wav" may be a real name
            base = _glob_base(spec)
            files = _audio_files(_glob(spec, base, unreadable), spec, unreadable)
            if not files and len(unreadable) == before:
                raise ConfigError(f"{spec}: the pattern matches no audio file")
            found += [Found(m, base) for m in files]
        elif _is_dir(path):
            files = _audio_files(_files_under(path, unreadable), spec, unreadable)
            if not files and len(unreadable) == before:
                raise ConfigError(f"{spec}: the folder holds no audio file ({', '.join(sorted(AUDIO_SUFFIXES))})")
            found += [Found(p, path) for p in files]
        elif spec == "-":
            raise ConfigError("-: bake reads audio files, not standard input; save the audio to a file first, "
                              "or stream it live with `avatar-bridge run --input -`")  # fmt: skip
        elif _is_stream(path):
            # A pipe is read once, but a bake reads its input twice (the digest, then the audio).
            raise ConfigError(f"{spec}: is a pipe or a device, not a file; save the audio to a file first, "
                              "or stream it live with `avatar-bridge run --input -`")  # fmt: skip
        else:
            found.append(Found(path, None))
    return _unique(found), unreadable


def _is_stream(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False  # missing or unreadable: reported by name when it is baked
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def _strip_suffix(path: Path) -> Path:
    """``take.rhubarb.json`` -> ``take``: drop a known output suffix, else the last suffix."""
    for fmt in sorted(FORMATS.values(), key=lambda f: -len(f.suffix)):
        if path.name.endswith(fmt.suffix) and len(path.name) > len(fmt.suffix):
            return path.with_name(path.name[: -len(fmt.suffix)])
    return path.with_suffix("")


def _file_type(suffix: str) -> str:
    """``.visemes.csv`` -> ``.csv``: the part of a format's suffix that says what kind of file it is."""
    return "." + suffix.rsplit(".", 1)[-1]


# bake writes no video (preview does): an animation file named take.mp4 would pass for one.
_VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv", ".mpg", ".mpeg"})

# Suffixes that make a name a file's: a folder -o with one of them is a mistake (``-o new.jsonl``).
_FILE_SUFFIXES = AUDIO_SUFFIXES | _VIDEO_SUFFIXES | {_file_type(f.suffix) for f in FORMATS.values()}


def transcript_path(source: Path) -> Path:
    """``take.wav`` -> ``take.txt``: where the transcript of a recording is."""
    return source.with_suffix(TRANSCRIPT_SUFFIX)


def _recording_of(txt: Path) -> Path | None:
    """The audio or video file beside ``txt`` whose transcript it is, if any.

    Letter case is ignored: on a case-insensitive file system ``TAKE.TXT`` is ``take.wav``'s ``take.txt``.
    """
    try:
        beside = sorted(txt.parent.iterdir())
    except OSError:  # no such folder (yet): nothing to protect
        return None
    media = AUDIO_SUFFIXES | _VIDEO_SUFFIXES
    stem = txt.stem.casefold()
    return next((p for p in beside if p.suffix.lower() in media and p.stem.casefold() == stem), None)


def _output_is_file(request: BakeRequest, found: list[Found]) -> bool:
    """Whether ``-o`` names the output file (True) or a folder for the mirror tree (False).

    ``-o`` is a file when there is one input, named on the command line, and ``-o`` has a suffix,
    is not a folder and was not written with a trailing slash. Otherwise it is a folder.

    Raises:
        ConfigError: an audio file name (a later folder bake would read it as a recording), a video
            file name, the ``<stem>.txt`` transcript of the input or of another recording beside
            it, an existing file where a folder is needed, or a file's name (an output, audio
            or video suffix) for a folder that does not exist yet.
    """
    out = request.output
    if out is None:
        return False
    single = len(found) == 1 and found[0].root is None
    if single and out.suffix and not request.output_folder and not out.is_dir():
        suffix = out.suffix.lower()
        if suffix in AUDIO_SUFFIXES or suffix in _VIDEO_SUFFIXES:
            refuse_overwrite("-o", out, (found[0].path,))  # the more precise message when it is the input
        if suffix in AUDIO_SUFFIXES:
            raise ConfigError(f"-o {out}: an audio file name; a later bake of its folder would read it as a recording")
        if suffix in _VIDEO_SUFFIXES:
            raise ConfigError(f"-o {out}: a video file name; bake writes animation files "
                              "(`avatar-bridge preview` renders a video)")  # fmt: skip
        if out.name.lower().endswith(SIDECAR_SUFFIX):
            raise ConfigError(f"-o {out}: a name ending in {SIDECAR_SUFFIX} is a bake record's; a later bake "
                              f"of {found[0].path} would write its record over it")  # fmt: skip
        if suffix == TRANSCRIPT_SUFFIX and not same_file(out, transcript_path(found[0].path)):  # own one: bake()
            recording = _recording_of(out)
            if recording is not None:
                raise ConfigError(f"-o {out}: the transcript of {recording}; a later bake of it would read "
                                  "the output as its words")  # fmt: skip
        return True
    if out.exists() and not out.is_dir():
        if single:
            raise ConfigError(f"-o {out}: is a file without a suffix; name the output file with one "
                              f"({out}.jsonl) or a folder")  # fmt: skip
        raise ConfigError(f"-o {out}: is a file; with several inputs -o must be a folder")
    if not out.exists() and not request.output_folder and out.name.lower() in _FILE_SUFFIXES:
        # `-o .jsonl` has no suffix to Python: it would become a hidden folder.
        raise ConfigError(f"-o {out}: is only a suffix; name the file (take{out.name}), or end it with / for a "
                          "folder of that name")  # fmt: skip
    if not out.exists() and not request.output_folder and out.suffix.lower() in _FILE_SUFFIXES:
        raise ConfigError(f"-o {out}: names a file, but the inputs need a folder (end it with / for a folder "
                          "of that name)")  # fmt: skip
    return False


def _file_outputs(out: Path, formats: tuple[str, ...]) -> tuple[tuple[tuple[str, Path], ...], Path]:
    """((format, path), ...) and the stem for ``-o FILE``: one format gets FILE itself; with several, the
    format whose suffix ends FILE gets it and the others share its stem.

    Raises:
        ConfigError: one format and a name of another format's file type (``take.bvh`` for jsonl), or
            several formats and a name that ends with none of their suffixes.
    """
    if len(formats) == 1:
        _refuse_other_format(out, formats[0])
        return ((formats[0], out),), _strip_suffix(out)
    named = [f for f in formats if out.name.endswith(FORMATS[f].suffix) and len(out.name) > len(FORMATS[f].suffix)]
    if not named:
        suffixes = ", ".join(FORMATS[f].suffix for f in formats)
        raise ConfigError(f"-o {out}: with several formats the name must end with one of {suffixes}")
    suffix = max((FORMATS[f].suffix for f in named), key=len)  # take.visemes.csv: visemes, not llf-csv
    stem = out.with_name(out.name[: -len(suffix)])
    return tuple((f, Path(f"{stem}{FORMATS[f].suffix}")) for f in formats), stem


def _refuse_other_format(out: Path, fmt: str) -> None:
    """Raise ConfigError when ``out`` has another format's file type and not ``fmt``'s.

    The file type is the last suffix, so ``take.csv`` holds visemes (a CSV too) and ``take.json``
    Rhubarb's JSON; other suffixes no format uses (``take.txt``) are the user's choice.
    """
    suffix = out.suffix.lower()
    implied = [f.name for f in FORMATS.values() if _file_type(f.suffix) == suffix]
    if implied and suffix != _file_type(FORMATS[fmt].suffix):
        good = Path(f"{_strip_suffix(out)}{FORMATS[fmt].suffix}")
        raise ConfigError(f"-o {out}: a {suffix} file is the {' or '.join(implied)} format's, not the {fmt} "
                          f"format's; name the file {good}")  # fmt: skip


Plan = tuple[Path, tuple[tuple[str, Path], ...], Path]


def _refuse_collisions(planned: list[Plan]) -> None:
    """Raise one ConfigError naming every pair of inputs that would write the same file.

    Stems alone are not enough: ``y.wav``'s visemes and ``y.visemes.wav``'s CSV are both ``y.visemes.csv``.
    """
    owner: dict[str, Path] = {}
    clashes: dict[tuple[Path, Path], list[Path]] = {}
    for source, outputs, sidecar in planned:
        for path in (*(p for _, p in outputs), sidecar):
            first = owner.setdefault(os.path.abspath(path), source)
            if first != source:
                clashes.setdefault((source, first), []).append(path)
    if clashes:
        raise ConfigError("; ".join(
            f"{a} and {b} would write the same outputs ({', '.join(str(p) for p in paths)})"
            for (a, b), paths in clashes.items()
        ))  # fmt: skip


def _warn_case_collisions(planned: list[Plan]) -> None:
    """Log one warning per pair of inputs whose output paths differ only in letter case.

    ``A.wav`` and ``a.wav`` write ``A.jsonl`` and ``a.jsonl``: two files on Linux, which users may rely
    on, but one on a case-insensitive file system (macOS, Windows, shares of theirs), where one input's
    outputs overwrite the other's. Exact collisions are refused before this runs.
    """
    owner: dict[str, tuple[Path, Path]] = {}
    pairs: dict[tuple[Path, Path], list[str]] = {}
    for source, outputs, sidecar in planned:
        for path in (*(p for _, p in outputs), sidecar):
            first, first_path = owner.setdefault(os.path.abspath(path).casefold(), (source, path))
            if first != source:
                pairs.setdefault((first, source), []).append(f"{first_path} and {path}")
    for (a, b), paths in pairs.items():
        log.warning(
            "%s and %s write outputs whose paths differ only in letter case (%s): on a case-insensitive "
            "file system (macOS, Windows) they are the same files, and one bake overwrites the other",
            a, b, ", ".join(paths), extra={"event": "bake_case_collision", "file": str(b), "other": str(a)},
        )  # fmt: skip


def plan_outputs(request: BakeRequest, found: list[Found]) -> list[Plan]:
    """(input, ((format, output path), ...), sidecar path) per input.

    Two inputs whose outputs differ only in letter case are warned about, not refused.

    Raises:
        ConfigError: an ``-o`` that does not fit the inputs or formats, or two inputs that would
            write the same file.
    """
    formats = request.settings.formats
    if _output_is_file(request, found):
        assert request.output is not None
        outputs, stem = _file_outputs(request.output, formats)
        return [(found[0].path, outputs, sidecar_path(stem))]
    planned: list[Plan] = []
    for f in found:
        if request.output is None:
            stem = f.path.with_suffix("")
        elif f.root is None:
            stem = request.output / f.path.with_suffix("").name
        else:
            stem = request.output / f.path.relative_to(f.root).with_suffix("")
        planned.append(
            (f.path, tuple((fmt, Path(f"{stem}{FORMATS[fmt].suffix}")) for fmt in formats), sidecar_path(stem))
        )
    _refuse_collisions(planned)
    _warn_case_collisions(planned)
    return planned


def _utf16_without_bom(raw: bytes) -> str | None:
    """The codec of UTF-16 text saved without a byte-order mark, told by where its NUL bytes fall, else None.

    Latin-script text has a zero high byte in nearly every 2-byte unit: at odd offsets in little-endian,
    at even ones in big-endian. It counts as UTF-16 when at least half of the units have a NUL on one
    side and none has one on the other; UTF-8 text holds no NUL bytes at all.
    """
    if len(raw) % 2:
        return None
    units = len(raw) // 2
    nul_even, nul_odd = raw[0::2].count(0), raw[1::2].count(0)
    if nul_odd >= units / 2 and nul_even == 0:
        return "utf-16-le"
    if nul_even >= units / 2 and nul_odd == 0:
        return "utf-16-be"
    return None


def read_transcript(txt: Path) -> str:
    """The text of a transcript file: UTF-8 (byte-order mark or not), or UTF-16 with or without its mark.

    Raises:
        BridgeError: not a readable regular file (a folder, a dangling or looping link, no permission),
            another encoding, or NUL bytes that are not UTF-16's.
    """
    if not txt.is_file():
        broken = broken_link(txt)
        what = broken if broken is not None else "a folder" if txt.is_dir() else "not a regular file"
        raise BridgeError(f"{txt}: cannot read the transcript ({what})")
    try:
        raw = txt.read_bytes()
        # Windows editors save "Unicode" text as UTF-16 with a byte-order mark; the mark tells it apart.
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = raw.decode("utf-16")
        elif b"\0" in raw:  # UTF-16 saved without the mark by some Windows tools; as UTF-8 it decodes, NULs and all
            codec = _utf16_without_bom(raw)
            if codec is None:
                raise BridgeError(f"{txt}: cannot read the transcript (it holds NUL bytes and is not UTF-16 "
                                  "text; save it as UTF-8)")  # fmt: skip
            text = raw.decode(codec)
        else:
            text = raw.decode("utf-8-sig")
    except OSError as e:
        raise BridgeError(f"{txt}: cannot read the transcript ({e.strerror or e})") from e
    except UnicodeDecodeError as e:
        raise BridgeError(f"{txt}: cannot read the transcript ({e}; save it as UTF-8)") from e
    if "\0" in text:
        raise BridgeError(f"{txt}: cannot read the transcript (it holds NUL characters; save it as UTF-8)")
    return text


def find_transcript(source: Path, text: str | None, text_files: bool) -> tuple[str | None, Path | None]:
    """The transcript of ``source`` and the file it came from: ``text`` (``--text``) as given, else its
    ``<stem>.txt`` when ``text_files`` is set and one exists; (None, None) for none.

    A ``<stem>.txt`` that exists in any form (a folder, a link that leads nowhere) is the user's
    transcript and must be read: ignoring it would bake from the audio alone without a word.

    Raises:
        BridgeError: a transcript file that cannot be read.
    """
    if text is not None:
        return text, None
    if not text_files:
        return None, None
    txt = transcript_path(source)
    if not (txt.exists() or txt.is_symlink()):
        return None, None
    return read_transcript(txt), txt


def _digest_extra(settings: BakeSettings) -> dict[str, object]:
    extra: dict[str, object] = {
        "formats": sorted(settings.formats),  # the order they were asked in changes no output
        "extended_shapes": settings.export.extended_shapes,
        "phone_weight": settings.phone_weight,
        "recognize": settings.recognize,
        "channel": settings.cfg.audio.channel,  # the [audio] section is not in the config digest
    }
    if "moho-dat" in settings.formats:  # its options change nothing else
        extra["dat"] = [settings.export.dat_frame_rate, settings.export.dat_preston_blair]
    return extra


@functools.cache
def espeak_available() -> bool:
    """Whether transcript words the dictionary lacks can be guessed (espeak-ng); they are left out
    otherwise, so installing espeak-ng later bakes the lines with transcripts again."""
    from bridge.corpus.espeak import espeak_library_available

    return espeak_library_available()


def _failure_line(f: Failure) -> str:
    """The reason, prefixed with the file unless the message already names it."""
    return f.message if str(f.source) in f.message else f"{f.source}: {f.message}"


def _check_settings(settings: BakeSettings, workers: int) -> None:
    """Load the rig profile and the model once before any file, so a bad ``--profile`` or
    ``--weights`` is one usage error rather than the same failure for every file.

    Raises:
        ConfigError: the profile or the model cannot be loaded.
    """
    build_face_solver(settings.cfg.face)
    if settings.cfg.model.upstream and workers > 1:
        return  # not torch in the parent: forked workers could inherit its threads' locks
    try:
        load_bake_model(settings.cfg.model)  # cached: -j 1 and forked workers reuse it
    except ModelError as e:
        raise ConfigError(str(e)) from e


def _bake_one(job: BakeJob, settings: BakeSettings) -> BakeReport | Failure:
    """Worker entry: a BridgeError, an OS error (a full disk, an output that cannot be made) or running out
    of memory fails this file only."""
    try:
        return bake_file(job, settings)
    except BridgeError as e:
        return Failure(job.source, str(e))
    except OSError as e:
        return Failure(job.source, f"{e.filename or job.source}: {e.strerror or e}")
    except MemoryError as e:
        return Failure(job.source, f"ran out of memory ({e})")


_in_bake = False  # in a worker: whether a file is being baked now
_started: SimpleQueue[str] | None = None  # in a worker: where it says which file it begins


def _exit_worker(signum: int, frame: FrameType | None) -> None:
    if _in_bake:
        raise SystemExit(128 + signum)  # unwinds the file in progress, which removes its temporary output
    # Between files: nothing to clean up. A SystemExit would unwind multiprocessing's own worker loop and
    # exit handlers instead, which can wait on a result pipe that nobody reads once the parent is dead.
    os._exit(128 + signum)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _init_worker(parent_pid: int, started: SimpleQueue[str]) -> None:
    """Workers leave stopping to the parent, and stop when it dies.

    Ctrl+C reaches the whole process group: a worker that took it would fail its file and go on to
    the next. The parent stops a worker with SIGTERM, which unwinds the file in progress through
    SystemExit, so its temporary output is removed on the way out. A parent killed outright (SIGKILL:
    a CI timeout, the OOM killer) cannot do that, and its workers went on forever holding the caller's
    output pipe open: Linux sends them the same SIGTERM when it dies.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_worker)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # it died before the request above
        os._exit(1)
    global _started
    _started = started


def _bake_in_worker(job: BakeJob, settings: BakeSettings) -> BakeReport | Failure:
    """``_bake_one`` in a worker process, which ends once stopped rather than take the next file."""
    global _in_bake
    try:
        _in_bake = True
        if _started is not None:
            _started.put(str(job.source))  # so a worker that dies here can be told from one that never began
        return _bake_one(job, settings)
    except SystemExit as e:  # the executor would report it and hand this worker the next queued file
        os._exit(e.code if isinstance(e.code, int) else 1)
    finally:
        _in_bake = False


def _pool_results(
    jobs: list[BakeJob], settings: BakeSettings, workers: int
) -> Generator[BakeReport | Failure, None, None]:
    """Results in the order files finish; closing the iterator early (an interrupt) stops the workers."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield _bake_one(job, settings)
        return
    pending = jobs
    while pending:
        lost: list[BakeJob] = []
        started: set[str] = set()
        yield from _pool_round(pending, settings, workers, lost, started)
        # A worker that died (killed by the system, out of memory, a crash in a decoder) takes its file
        # and the pool with it. The files it had begun are tried again alone, so the one that kills its
        # worker is named; those not begun yet go on in parallel.
        begun = [j for j in lost if str(j.source) in started]
        pending = [j for j in lost if str(j.source) not in started]
        if lost and not begun:  # workers that die before any file: trying again would never end
            for job in lost:
                yield Failure(job.source, "the worker processes ended before baking it")
            return
        for job in begun:
            again: list[BakeJob] = []
            yield from _pool_round([job], settings, 1, again, set())
            if again:
                yield Failure(job.source, "the process baking it ended abruptly (killed by the system, or out of "
                                          "memory?)")  # fmt: skip


def _pool_round(
    jobs: list[BakeJob], settings: BakeSettings, workers: int, lost: list[BakeJob], started: set[str]
) -> Generator[BakeReport | Failure, None, None]:
    """Bake ``jobs`` on a pool of ``workers`` processes. The jobs a dying worker took down go to ``lost``,
    and the sources of every job a worker began to ``started``."""
    # fork: workers inherit the imported modules and logging setup (bridge.logs gives each its own
    # log writer thread); the bake itself starts no threads.
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    begun: SimpleQueue[str] = ctx.SimpleQueue()
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(), begun)
    )
    try:
        futures = {pool.submit(_bake_in_worker, j, settings): j for j in jobs}
        for fut in as_completed(futures):
            try:
                result = fut.result()
            except BrokenProcessPool:
                lost.append(futures[fut])
                continue
            yield result
        while not begun.empty():
            started.add(begun.get())
    except BaseException:
        # Left early (Ctrl+C, SIGTERM, an unexpected error): drop the queued files and stop those in
        # progress; a plain shutdown() would wait until every queued file was baked. There is no
        # public way to stop the workers before Python 3.14's terminate_workers().
        procs = list((pool._processes or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join()  # each removes the temporary output of its file first
        raise
    pool.shutdown()


def _plan_job(
    request: BakeRequest, source: Path, outputs: tuple[tuple[str, Path], ...], sidecar: Path, extra: dict[str, object]
) -> BakeJob | Failure | None:
    """The job for one input, its failure, or None when its outputs are up to date.

    Raises:
        ConfigError: an output that would overwrite an input or a transcript.
        OSError: the input or its folder cannot be looked at.
    """
    broken = broken_link(source)
    if broken is not None:
        return Failure(source, broken)
    try:
        transcript, txt = find_transcript(source, request.text, request.text_files)
    except BridgeError as e:
        return Failure(source, str(e))
    settings = request.settings
    file_extra = extra if transcript is None else {**extra, "espeak": espeak_available()}
    digest = settings_digest(settings.cfg, file_extra, transcript, settings.lexicon.used_by(transcript))
    inputs = (source,) if txt is None else (source, txt)
    paths = tuple(p for _, p in outputs)
    flag = "-o" if request.output is not None else "output"
    txt_path = transcript_path(source)  # protected also when not read this run (--text, --no-text-files)
    for path in (*paths, sidecar):
        refuse_overwrite(flag, path, inputs)
        if same_file(path, txt_path):
            raise ConfigError(f"{flag} {path}: would overwrite {txt_path}, the transcript of {source}")
    record = read_sidecar(sidecar)  # read once: for the check below, up to date, and what it left behind
    if record is None and not is_sidecar_or_absent(sidecar):
        return Failure(source, f"{sidecar} exists and is not a bake record; bake would write its record there "
                               "(move that file, or bake with -o elsewhere)")  # fmt: skip
    if not request.force and source.is_file() and up_to_date(record, sidecar, paths, inputs, digest):
        return None
    if record is not None:
        _warn_left_behind(source, record, sidecar, (*paths, *inputs, transcript_path(source)))
    return BakeJob(source, outputs, sidecar, transcript, digest, inputs)


def _warn_left_behind(source: Path, record: Sidecar, sidecar: Path, kept: tuple[Path, ...]) -> None:
    """Name the outputs of the last bake (``record``) that this one no longer writes (other formats asked
    for): they stay as they were, and a pipeline that imports them would take old animation for new."""
    now = {os.path.abspath(p) for p in kept}
    # Outputs are written beside their sidecar; the record's other files are inputs (an earlier take's audio
    # under the same -o is not an output of this one).
    earlier = [sidecar.parent / Path(name).name for name in record.outputs]
    stale = [str(p) for p in earlier if os.path.abspath(p) not in now and p.is_file()]
    if stale:
        log.warning("%s: %s from an earlier bake %s not written this time and %s left as %s",
                    source, ", ".join(stale), "is" if len(stale) == 1 else "are",
                    "is" if len(stale) == 1 else "are", "it was" if len(stale) == 1 else "they were",
                    extra={"event": "bake_stale_outputs", "file": str(source), "outputs": stale})  # fmt: skip


def bake(request: BakeRequest) -> BatchResult:
    """Plan, skip up-to-date inputs, bake the rest, report.

    Raises:
        ConfigError: bad inputs or options, or an output that would overwrite an input (before
            anything is baked).
    """
    t0 = time.perf_counter()
    found, unreadable = collect_inputs(request.inputs)
    if request.text is not None and len(found) + len(unreadable) != 1:
        raise ConfigError(f"--text: applies to exactly one input file, got {len(found) + len(unreadable)} "
                          "(use <name>.txt files)")  # fmt: skip
    settings = request.settings
    extra = _digest_extra(settings)
    jobs: list[BakeJob] = []
    skipped: list[Path] = []
    failed: list[Failure] = list(unreadable)
    alone = _alone(len(found) + len(unreadable))
    for f in unreadable:
        _log_failure(f, quiet=False, alone=alone)
    try:
        planned = plan_outputs(request, found)
    except OSError as e:  # -o or a folder on its path that cannot be looked at
        raise ConfigError(f"{e.filename}: cannot read ({e.strerror or e})") from e
    for source, outputs, sidecar in planned:
        try:
            job = _plan_job(request, source, outputs, sidecar, extra)
        except OSError as e:  # the file or its folder cannot be looked at (no permission)
            job = Failure(source, f"cannot read ({e.strerror or e})")
        if isinstance(job, Failure):
            job = _name_left_outputs(job, _present(p for _, p in outputs))
            _log_failure(job, quiet=False, alone=alone)
            failed.append(job)
        elif job is None:
            skipped.append(source)
        else:
            jobs.append(job)
    if skipped:
        log.info(
            "%d of %d files are up to date (use --force to bake them again)",
            len(skipped),
            len(found),
            extra={"event": "bake_skipped", "count": len(skipped)},
        )
    if jobs:
        _check_settings(settings, request.workers)
        remove_stale_temporaries(path for job in jobs for path in (*(p for _, p in job.outputs), job.sidecar))
    bar = ProgressBar(len(jobs), sys.stderr, request.progress and sys.stderr.isatty())
    baked: list[BakeReport] = []
    earlier = {job.source: _present(p for _, p in job.outputs) for job in jobs}
    bar.draw()
    # closing: an interrupt in this loop stops the workers at once, not when the generator is collected.
    # finally: an interrupt's own line goes below the bar, not onto its end.
    with contextlib.closing(_pool_results(jobs, settings, request.workers)) as results, _finishing(bar):
        for result in results:
            if isinstance(result, Failure):
                result = _name_left_outputs(result, earlier[result.source])
            with bar.suspended():
                _log_result(result, quiet=bar.enabled, alone=alone)
            if isinstance(result, Failure):
                failed.append(result)
            else:
                baked.append(result)
            bar.advance(failed=isinstance(result, Failure))
    return BatchResult(tuple(baked), tuple(skipped), tuple(failed), time.perf_counter() - t0)


@contextlib.contextmanager
def _finishing(bar: ProgressBar) -> Generator[None, None, None]:
    try:
        yield
    finally:
        bar.finish()


def _identity(path: Path) -> tuple[int, int, int] | None:
    """The file's inode, size and modification time; None when it is absent or cannot be looked at."""
    try:
        st = path.stat()
    except OSError:  # absent, a name too long, a folder without permission
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


def _present(paths: Iterable[Path]) -> dict[Path, tuple[int, int, int]]:
    """The outputs already there before this bake wrote any, with their identities."""
    return {p: ident for p in paths if (ident := _identity(p)) is not None}


def _name_left_outputs(f: Failure, earlier: dict[Path, tuple[int, int, int]]) -> Failure:
    """Name the outputs an earlier bake left that this failed one did not replace: a pipeline that
    imports whatever is there would take them for this file's."""
    left = [str(p) for p, ident in earlier.items() if _identity(p) == ident]
    if not left:
        return f
    if len(left) == 1:
        said = f"its output {left[0]}, there before this bake, is left as it was"
    else:
        said = f"its outputs {', '.join(left)}, there before this bake, are left as they were"
    return Failure(f.source, f"{f.message}; {said}")


def _alone(files: int) -> bool:
    """A one-file bake reports its failure once, as an error; a batch's are listed again at the end."""
    return files == 1


def _log_failure(f: Failure, quiet: bool, alone: bool) -> None:
    extra = {"event": "bake_failed", "file": str(f.source)}
    if alone:
        log.error("failed: %s", _failure_line(f), extra=extra)
    else:
        log.log(logging.DEBUG if quiet else logging.WARNING, "%s", _failure_line(f), extra=extra)


def _log_result(result: BakeReport | Failure, quiet: bool, alone: bool) -> None:
    """One line per finished file (debug level under a progress bar, except warnings)."""
    if isinstance(result, Failure):
        _log_failure(result, quiet, alone)
        return
    for w in result.warnings:
        log.warning("%s: %s", result.source, w, extra={"event": "bake_warning", "file": str(result.source)})
    log.log(
        logging.DEBUG if quiet else logging.INFO,
        "baked %s (%.2f s of audio, %d frames%s)",
        result.source, result.duration_s, result.frames, ", transcript-aligned" if result.aligned else "",
        extra={"event": "bake_file", "file": str(result.source), "frames": result.frames, "aligned": result.aligned},
    )  # fmt: skip


def run_bake(request: BakeRequest) -> int:
    """CLI entry: bake and log a summary. Returns the exit status (1 if any file failed)."""
    result = bake(request)
    speed = result.audio_s / result.wall_s if result.wall_s > 0 else 0.0
    log.info(
        "bake: %d baked, %d up to date, %d failed; %.1f s of audio in %.2f s (%sx real time)",
        len(result.baked),
        len(result.skipped),
        len(result.failed),
        result.audio_s,
        result.wall_s,
        f"{speed:.0f}" if speed >= 10 else f"{speed:.2g}",  # an SSL upstream runs slower than real time
        extra={
            "event": "bake_done",
            "baked": len(result.baked),
            "skipped": len(result.skipped),
            "failed": len(result.failed),
            "audio_s": round(result.audio_s, 3),
            "wall_s": round(result.wall_s, 3),
        },
    )
    if not _alone(len(result.baked) + len(result.skipped) + len(result.failed)):
        for f in result.failed:
            log.error("failed: %s", _failure_line(f), extra={"event": "bake_failed", "file": str(f.source)})
    return 1 if result.failed else 0
