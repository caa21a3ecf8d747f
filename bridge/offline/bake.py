"""Bake one audio file: read, (align the transcript), run the face pipeline, write every export and the sidecar."""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bridge.audio.downmix import log as downmix_log
from bridge.audio.files import log as files_log
from bridge.audio.files import read_audio
from bridge.audio.resample import StreamingResampler, resample
from bridge.config import Config, ModelConfig
from bridge.errors import AudioError, BridgeError, ModelError
from bridge.features.level import offline_gain_db
from bridge.frames import F32, ModelOutput
from bridge.offline import guided
from bridge.offline.exports import FORMATS, ExportOptions
from bridge.offline.lexicon import Lexicon
from bridge.offline.manifest import Sidecar, atomic_file, identities, write_sidecar
from bridge.offline.take import Phone, Take
from bridge.pipeline import render_offline
from bridge.stages import ArticulationModel

log = logging.getLogger(__name__)

SILENT_PEAK = 1e-4  # peak amplitude below which a file counts as silence
WORK_RATE_HZ = 16000  # the model's, webrtcvad's and pocketsphinx's rate: a file is resampled once


@dataclass(frozen=True, slots=True)
class BakeSettings:
    """What every file of a bake shares.

    Attributes:
        cfg: pipeline config.
        formats: export format names (``FORMATS`` keys).
        export: options of the exports.
        phone_weight: share of the phone-driven articulation (transcript-aligned or recognized) in
            the blend with the acoustic model (0 = acoustic only, 1 = phones only).
        recognize: without a usable transcript, take the phones from pocketsphinx phone recognition.
        lexicon: the studio's own pronunciations (``--lexicon``), used before the dictionary.
    """

    cfg: Config
    formats: tuple[str, ...]
    export: ExportOptions
    phone_weight: float
    recognize: bool = False
    lexicon: Lexicon = Lexicon()


@dataclass(frozen=True, slots=True)
class BakeJob:
    """One file to bake.

    Attributes:
        source: the audio file.
        outputs: (format name, path) per requested format.
        sidecar: where the bake record goes.
        transcript: the transcript text, None without one.
        digest: settings digest written to the sidecar.
        inputs: the files the bake reads (the audio, and its transcript file when there is one).
    """

    source: Path
    outputs: tuple[tuple[str, Path], ...]
    sidecar: Path
    transcript: str | None
    digest: str
    inputs: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class BakeReport:
    """The outcome of one baked file."""

    source: Path
    duration_s: float
    frames: int
    aligned: bool
    warnings: tuple[str, ...]
    align_s: float
    compute_s: float


@functools.lru_cache(maxsize=2)
def load_bake_model(cfg: ModelConfig) -> ArticulationModel:
    """One model per process and model config (forked workers inherit the parent's); reset before each file."""
    from bridge.upstream import build_model

    return build_model(cfg)


def acoustic_articulation(samples: F32, sample_rate_hz: int, model: ArticulationModel) -> ModelOutput:
    """The acoustic model over a whole signal (the same resampling and flush as ``render_offline``)."""
    x = StreamingResampler(sample_rate_hz, model.sample_rate_hz).process(samples)
    return ModelOutput.concat(0, [model.process(x), model.flush()])


def make_take(
    source: Path, samples: F32, sample_rate_hz: int, settings: BakeSettings, transcript: str | None
) -> tuple[Take, float]:
    """Frames for one signal; aligned transcript phones (or, with ``recognize``, recognized ones)
    steer the articulation.

    Returns:
        The take and the seconds spent aligning or recognizing.
    """
    cfg = settings.cfg
    warnings: list[str] = []
    duration_s = samples.shape[0] / sample_rate_hz
    silent = float(np.max(np.abs(samples))) < SILENT_PEAK
    if silent:
        warnings.append("the audio is silent: the face stays at rest")
    if transcript is not None and not transcript.strip():  # a failed script export, not "no transcript"
        warnings.append("the transcript is empty: baked from the audio alone")
    model = load_bake_model(cfg.model)
    model.reset()
    x = resample(samples, sample_rate_hz, WORK_RATE_HZ)
    gain_db, peak_dbfs = offline_gain_db(x)
    if gain_db > 0.0 and not silent:
        x = np.clip(x * np.float32(10.0 ** (gain_db / 20.0)), -1.0, 1.0).astype(np.float32)
        warnings.append(f"the speech is quiet (it peaks at {peak_dbfs:.0f} dBFS): raised by {gain_db:.0f} dB "
                        "for the whole file")  # fmt: skip
    phones: tuple[Phone, ...] = ()
    words: tuple[str, ...] = ()
    align_s = 0.0
    if transcript is not None and transcript.strip() and not silent:
        from bridge.offline.align import MIN_SPEECH_COVERAGE, align, speech_coverage

        t0 = time.perf_counter()
        result = align(x, WORK_RATE_HZ, transcript, settings.lexicon.entries)
        warnings += result.warnings
        phones, words = result.phones, result.words
        coverage = speech_coverage(phones, x, WORK_RATE_HZ, cfg.vad.aggressiveness) if phones else None
        if coverage is not None and coverage < MIN_SPEECH_COVERAGE:
            # A wrong or cut-short transcript holds the mouth shut where the unsaid words are spoken.
            warnings.append(
                f"the transcript covers only {coverage:.0%} of the speech heard: check that it says what the audio says"
            )
        align_s = time.perf_counter() - t0
    aligned = bool(phones)
    if not phones and settings.recognize and not silent:
        from bridge.offline.recognize import recognize_phones

        t0 = time.perf_counter()
        phones = recognize_phones(x, WORK_RATE_HZ)
        align_s += time.perf_counter() - t0
        if not phones:
            warnings.append("phone recognition heard no speech; using the acoustic model alone")
    if phones:
        acoustic = acoustic_articulation(x, WORK_RATE_HZ, model)
        steered = guided.blend(acoustic, guided.phone_articulation(phones, acoustic.n_frames), settings.phone_weight)
        frames = render_offline(x, WORK_RATE_HZ, cfg, articulation=steered)
    else:
        frames = render_offline(x, WORK_RATE_HZ, cfg, model=model)
    if frames and not all(
        np.all(np.isfinite(f.pose.blendshapes)) and np.all(np.isfinite(f.pose.joints)) for f in frames
    ):
        raise ModelError(f"{source}: the pipeline produced non-finite values")
    take = Take(
        source=source,
        duration_s=duration_s,
        fps=cfg.output.fps,
        frames=tuple(frames),
        phones=phones,
        transcript=" ".join(words) if aligned else "",
        warnings=tuple(warnings),
    )
    return take, align_s


def make_parent(path: Path) -> None:
    """Create the folder an output goes into.

    Raises:
        BridgeError: it cannot be made (a file in the way, no permission, a read-only file system).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as e:  # mkdir's own words ("File exists") hide that a file is in the way
        raise BridgeError(f"{path}: cannot write ({e.filename} is a file, not a folder)") from e
    except OSError as e:
        raise BridgeError(f"{path}: cannot write ({e.strerror or e})") from e


def _write_atomic(path: Path, fmt: str, take: Take, options: ExportOptions) -> None:
    make_parent(path)
    with atomic_file(path) as out:
        FORMATS[fmt].write(take, options, out)


@contextlib.contextmanager
def _warnings_taken_from(*loggers: str) -> Iterator[list[str]]:
    """The warnings these loggers log meanwhile, taken instead of logged: the bake reports them with the
    take's own, per file (a worker's line printed straight to stderr would cut through the progress bar)."""
    caught: list[str] = []

    def take(record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        caught.append(record.getMessage())
        return False

    for name in loggers:
        logging.getLogger(name).addFilter(take)
    try:
        yield caught
    finally:
        for name in loggers:
            logging.getLogger(name).removeFilter(take)


def bake_file(job: BakeJob, settings: BakeSettings) -> BakeReport:
    """Bake one file and write its outputs, then its sidecar.

    Raises:
        AudioError: unreadable, corrupt or empty audio.
        BridgeError: an output cannot be written, or another pipeline error.
    """
    t0 = time.perf_counter()
    try:
        # Taken before reading: a file replaced during the bake no longer matches, and is baked again.
        inputs = identities(job.inputs, job.sidecar)
    except OSError as e:
        raise AudioError(f"{e.filename or job.source}: {e.strerror or e}") from e
    # A file cut short, phase-inverted channels: said per file, with the take's warnings.
    with _warnings_taken_from(files_log.name, downmix_log.name) as audio_warnings:
        samples, rate_hz = read_audio(job.source, settings.cfg.audio.channel)
    take, align_s = make_take(job.source, samples, rate_hz, settings, job.transcript)
    warnings = tuple(w.removeprefix(f"{job.source}: ") for w in audio_warnings) + take.warnings
    for fmt, path in job.outputs:
        _write_atomic(path, fmt, take, settings.export)
    try:
        outputs = identities(tuple(p for _, p in job.outputs), job.sidecar)
    except OSError as e:  # another process removed it meanwhile
        raise BridgeError(f"{e.filename}: {e.strerror or e}") from e
    write_sidecar(
        job.sidecar,
        Sidecar(
            digest=job.digest,
            source=str(job.source),
            outputs=tuple(str(p) for _, p in job.outputs),
            duration_s=take.duration_s,
            frames=len(take.frames),
            aligned=bool(take.transcript),
            # Kept, so a half-length animation stays on record when a later run skips the file as up to date.
            warnings=warnings,
            files=inputs | outputs,
        ),
    )
    return BakeReport(
        source=job.source,
        duration_s=take.duration_s,
        frames=len(take.frames),
        aligned=bool(take.transcript),
        warnings=warnings,
        align_s=align_s,
        compute_s=time.perf_counter() - t0,
    )
