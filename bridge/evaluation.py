"""Accuracy on the dev recordings (GRID lip video, MNGU0 EMA) for the model and two baselines.

Metrics (issue 3):
* GRID, 25 fps: Pearson r of the predicted mouth opening with the measured inner-lip aperture.
  Closures: true closed = aperture < 0.010; predicted closed = opening <= its 2nd percentile +
  15 % of its 2nd-98th percentile range. Closed runs touching the clip's first or last frame are
  the resting mouth and are ignored (for truth and prediction alike). A true event is found when
  a predicted run overlaps it widened by +-2 frames (one-to-one, in time order); recall,
  precision, F1 and the median onset error (ms) of matched pairs are pooled over clips. The
  Matthews correlation of closed frames is pooled over the speech span of every clip (between
  the resting runs).
* MNGU0, 100 Hz: per-utterance z-normalised Pearson r per EMA channel (mean over utterances)
  and their mean; r of the predicted opening with the lip aperture (upper-lip y minus lower-lip
  y) and with the jaw opening (minus lower-incisor y).
* Reference frames that are not finite (a tracker's dropped frames, an EMA sensor gap) are unknown:
  left out of every correlation and of the closed-frame counts, and bridged by linear
  interpolation only to find closure runs. A clip whose reference file is missing or has no
  finite frame is skipped with a warning; the reported ``clips`` / ``utterances`` count what was
  scored.
* FACEGOOD (when the folder is there; not in issue 3), 30 fps: r of the predicted opening with
  the animator's jaw-open key ``mouth_stretch_c``, pooled over all clips and the mean of
  per-clip r. Eleven minutes of one Mandarin speaker: far more frames than GRID and MNGU0, so it
  tells weights apart with less noise, on a language the model never heard.

Methods: ``model`` (ModelOutput straight from the acoustic model: opening = lip_aperture
control), ``face`` (the full offline path, opening from ARKit blendshapes as
jawOpen - mouthClose + mean(mouthLowerDown)/2 + mean(mouthUpperUp)/2), ``recognized`` (the same
face path steered by pocketsphinx phone recognition, what ``bake --recognize`` writes), ``energy`` (RMS energy
mouth) and ``ulipsync`` (pylipsync's MFCC template matching, opening from the vowel weights).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from bridge.audio.downmix import Downmix, choose_downmix, detect_cancellation
from bridge.errors import AudioError, ConfigError
from bridge.frames import ARKIT_INDEX, EMA_NAMES, F32, AnimationFrame
from bridge.paths import walk_files

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
GRID_FPS = 25
CLOSED_APERTURE = 0.010
MATCH_FRAMES = 2


@dataclass(frozen=True, slots=True)
class Prediction:
    """What a method predicts for one clip.

    Attributes:
        times_s: sample times of the rows.
        opening: mouth opening (any scale).
        ema: (n, 12) EMA in EMA_NAMES order, or None when the method has none.
        jaw: jaw opening (any scale) when the method has one apart from the mouth opening, else None.
    """

    times_s: F64
    opening: F64
    ema: F64 | None = None
    jaw: F64 | None = None


Predictor = Callable[[F32, int], Prediction]


def pearson(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Pearson correlation over the frames where both sides are finite; 0 when either side is constant there."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    known = np.isfinite(x) & np.isfinite(y)
    if not known.all():
        x, y = x[known], y[known]
    if x.size < 2:
        return 0.0
    x = x - x.mean()
    y = y - y.mean()
    den = float(np.sqrt((x**2).sum() * (y**2).sum()))
    return float((x * y).sum() / den) if den > 0 else 0.0


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(start, stop) of True runs, stop exclusive."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _inner_runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    return [(a, b) for a, b in _runs(mask) if a > 0 and b < mask.size]


def predicted_closed(opening: F64) -> npt.NDArray[np.bool_]:
    """Closed frames by the issue's rule: <= 2nd percentile + 15 % of the 2nd-98th range."""
    p2, p98 = np.percentile(opening, [2, 98])
    return np.asarray(opening <= p2 + 0.15 * (p98 - p2))


@dataclass
class ClosureCounts:
    """Pooled closure statistics over clips."""

    true_events: int = 0
    pred_events: int = 0
    matched: int = 0
    onset_errors_ms: list[float] = field(default_factory=list)
    confusion: list[int] = field(default_factory=lambda: [0, 0, 0, 0])  # tp, fp, fn, tn

    def add(self, aperture: F64, opening: F64, fps: int = GRID_FPS) -> None:
        known = np.isfinite(aperture)
        true_closed = _bridge_gaps(aperture) < CLOSED_APERTURE
        pred_closed = predicted_closed(opening)
        t_runs = _inner_runs(true_closed)
        p_runs = _inner_runs(pred_closed)
        self.true_events += len(t_runs)
        self.pred_events += len(p_runs)
        used: set[int] = set()
        for ta, tb in t_runs:
            for j, (pa, pb) in enumerate(p_runs):
                if j not in used and pa < tb + MATCH_FRAMES and pb > ta - MATCH_FRAMES:
                    used.add(j)
                    self.matched += 1
                    self.onset_errors_ms.append(abs(pa - ta) * 1000.0 / fps)
                    break
        all_t = _runs(true_closed)
        lo = all_t[0][1] if all_t and all_t[0][0] == 0 else 0
        hi = all_t[-1][0] if all_t and all_t[-1][1] == true_closed.size else true_closed.size
        t, p = true_closed[lo:hi][known[lo:hi]], pred_closed[lo:hi][known[lo:hi]]
        self.confusion[0] += int(np.sum(t & p))
        self.confusion[1] += int(np.sum(~t & p))
        self.confusion[2] += int(np.sum(t & ~p))
        self.confusion[3] += int(np.sum(~t & ~p))

    def scores(self) -> dict[str, float]:
        recall = self.matched / self.true_events if self.true_events else 0.0
        precision = self.matched / self.pred_events if self.pred_events else 0.0
        f1 = 2 * recall * precision / (recall + precision) if recall + precision > 0 else 0.0
        tp, fp, fn, tn = (float(v) for v in self.confusion)
        den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        mcc = float((tp * tn - fp * fn) / den) if den > 0 else 0.0
        onset = float(np.median(self.onset_errors_ms)) if self.onset_errors_ms else float("nan")
        return {"closure_recall": recall, "closure_precision": precision, "closure_f1": f1,
                "onset_error_ms": onset, "closure_mcc": mcc}  # fmt: skip


def _bridge_gaps(x: F64) -> F64:
    """Non-finite frames filled by linear interpolation between their finite neighbours."""
    known = np.isfinite(x)
    if known.all():
        return x
    idx = np.arange(x.size)
    filled: F64 = np.interp(idx, idx[known], x[known])
    return filled


def _resample(pred_t: F64, values: F64, times_s: F64) -> F64:
    if values.ndim == 1:
        return np.interp(times_s, pred_t, values)
    return np.stack([np.interp(times_s, pred_t, values[:, k]) for k in range(values.shape[1])], axis=1)


def _z(x: F64) -> F64:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column with no finite frame: all NaN, r 0 below
        sd = np.nanstd(x, axis=0)
        mean = np.nanmean(x, axis=0)
    return (x - mean) / np.where(sd > 0, sd, 1.0)  # type: ignore[no-any-return]


# ---- corpora ---------------------------------------------------------------------------------

# What libsndfile reads (soundfile); matched case-insensitively.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
MIN_AUDIO_S = 0.1  # shorter audio has no frame to score
MIN_REFERENCE_FRAMES = 10  # a correlation over fewer finite frames says nothing
# A reference that outlasts its audio by more than this (or is that much shorter) is reported: a wrong
# frame rate or a mismatched pair. Frames past the end of the audio are left out either way.
LENGTH_TOLERANCE_S = 0.25
LENGTH_TOLERANCE_FRACTION = 0.05
FACEGOOD_FPS = 30
FACEGOOD_JAW_KEY = "mouth_stretch_c"
FACEGOOD_CHANNELS = 116
MNGU0_RATE_HZ = 200


@dataclass(frozen=True, slots=True)
class Clip:
    """One scorable recording.

    Attributes:
        audio: the audio file.
        reference: (n, k) reference rows at the corpus' frame rate, non-finite values as NaN, rows past
            the end of the audio left out.
    """

    audio: Path
    reference: F64


def _read_audio(path: Path, warn: bool) -> tuple[F32, int, int]:
    """Mono float32 samples, the rate, and how many samples were not finite (now 0).

    The downmix is bake's and run's (bridge.audio.downmix): channels that cancel in the mean (one
    phase-inverted) are mixed with its polarity restored, said in a warning when ``warn``.
    """
    try:
        x, sr = sf.read(path, dtype="float32", always_2d=True)
    except (OSError, RuntimeError) as e:
        raise AudioError(f"cannot read {path}: {e}") from e
    bad = ~np.isfinite(x).all(axis=1)  # a frame with any non-finite channel mixes to a non-finite sample
    x[bad] = 0.0
    if warn:
        downmix = choose_downmix(x, int(sr), None, f"evaluate: {path}")
    else:
        downmix = Downmix.restoring(detect_cancellation(x, int(sr)))
    return downmix.apply(x), int(sr), int(bad.sum())


def read_wav(path: Path) -> tuple[F32, int]:
    """Any audio file libsndfile reads, downmixed to mono float32 (non-finite samples become 0); channels
    that cancel are handled as in bake, without a second warning (evaluate warns once per clip, on reading
    its duration)."""
    x, sr, _ = _read_audio(path, warn=False)
    return x, sr


def corpus_dir(data_dir: Path, name: str) -> Path | None:
    """The corpus folder ``name`` of a data folder, matched case-insensitively (``GRID/`` as ``grid/``).
    Where two match (``grid/`` and ``GRID/``), the one named exactly is used, and the other named."""
    if not data_dir.is_dir():
        return None
    matches = [c for c in sorted(data_dir.iterdir()) if c.is_dir() and c.name.lower() == name]
    if not matches:
        return None
    chosen = next((c for c in matches if c.name == name), matches[0])
    for other in matches:
        if other != chosen:
            log.warning("evaluate: %s and %s are both the %s folder: %s used", chosen, other.name, name, chosen.name)
    return chosen


def _audio_files(folder: Path) -> list[Path]:
    """Audio files under ``folder`` (nested and linked folders too, each real folder once), hidden files
    and folders (macOS ``._x`` copies) left out; one per stem and folder, a .wav before other formats."""
    found: dict[tuple[Path, str], Path] = {}
    # A .wav first, then by name: with x.wav and x.flac side by side, x.wav is the clip (as documented).
    for path in sorted(walk_files(folder, skip_hidden=True), key=lambda p: (p.suffix.lower() != ".wav", str(p))):
        if not path.is_file() or path.suffix.lower() not in AUDIO_SUFFIXES:
            continue
        key = (path.parent, path.stem)
        if key in found:
            log.warning("evaluate: %s and %s share a name: %s used", found[key].name, path.name, found[key].name)
            continue
        found[key] = path
    return sorted(found.values(), key=lambda p: (p.suffix.lower() != ".wav", str(p)))


def _load_reference(path: Path, fps: float, duration_s: float) -> F64:
    """A reference array as float64 (n, k), non-finite as NaN, rows past the audio's end left out.

    Raises:
        ConfigError: missing, unreadable, not 1-D/2-D numbers, or no row inside the audio.
    """
    if not path.is_file():
        raise ConfigError(f"{path.name} is missing")
    with warnings.catch_warnings():
        # FACEGOOD wrote its arrays with Python 2; numpy warns about the old header, then reads them.
        warnings.simplefilter("ignore", UserWarning)
        try:
            raw = np.load(path, allow_pickle=False)
        except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as e:
            raise ConfigError(f"cannot read {path.name}: {e or type(e).__name__}") from e
        if not isinstance(raw, np.ndarray):  # an .npz archive saved under the .npy name
            raise ConfigError(f"cannot read {path.name}: an archive of arrays, not one array")
        try:
            ref: F64 = raw.astype(np.float64)
        except (ValueError, TypeError) as e:
            raise ConfigError(f"cannot read {path.name}: {e}") from e
    if ref.ndim == 1:
        ref = ref[:, None]  # a single track (e.g. GRID aperture without the width column)
    if ref.ndim != 2 or ref.shape[0] == 0:
        raise ConfigError(f"{path.name} has shape {ref.shape}, expected (frames, channels)")
    ref[~np.isfinite(ref)] = np.nan
    ref_s = ref.shape[0] / fps
    if abs(ref_s - duration_s) > max(LENGTH_TOLERANCE_S, LENGTH_TOLERANCE_FRACTION * duration_s):
        log.warning("evaluate: %s lasts %.2f s at %g frames/s but its audio %.2f s: scored where both exist",
                    path, ref_s, fps, duration_s)  # fmt: skip
    inside = np.arange(ref.shape[0]) / fps < duration_s  # frames that start before the audio ends
    if not inside.any():
        raise ConfigError(f"{path.name} has no frame inside its {duration_s:.2f} s of audio")
    return ref[inside]


def _unusable(track: F64) -> bool:
    known = track[np.isfinite(track)]
    return known.size < MIN_REFERENCE_FRAMES or bool(np.ptp(known) == 0)


def _check_track(name: str, track: F64) -> None:
    """Raises ConfigError when a reference track cannot be correlated with anything."""
    if _unusable(track):
        n = int(np.isfinite(track).sum())
        raise ConfigError(f"{name} is constant" if n >= MIN_REFERENCE_FRAMES
                          else f"{name} has {n} usable frames (at least {MIN_REFERENCE_FRAMES} needed)")  # fmt: skip


def _audio_duration_s(path: Path) -> float:
    """Duration of an audio file, read whole (a header can claim more than the file holds).

    Raises:
        AudioError: unreadable, or shorter than MIN_AUDIO_S.
    """
    x, sr, n_bad = _read_audio(path, warn=True)
    if n_bad:
        log.warning("evaluate: %s: %d sample(s) not finite, read as silence", path, n_bad)
    duration_s = x.size / sr
    if duration_s < MIN_AUDIO_S:
        raise AudioError(f"{duration_s * 1000:.0f} ms of audio (at least {MIN_AUDIO_S * 1000:.0f} ms needed)")
    return duration_s


def _clips(
    audio_files: Sequence[Path], reference_of: Callable[[Path], Path], fps: float, check: Callable[[F64], None]
) -> list[Clip]:
    """The clips whose audio and reference are usable; each one that is not is skipped with a warning."""
    clips = []
    for audio in audio_files:
        try:
            duration_s = _audio_duration_s(audio)
            ref = _load_reference(reference_of(audio), fps, duration_s)
            check(ref)
        except (ConfigError, AudioError) as e:
            log.warning("evaluate: %s skipped: %s", audio, e)
            continue
        clips.append(Clip(audio, ref))
    return clips


def _orphans(folder: Path, suffix: str, audio_files: Sequence[Path]) -> None:
    stems = {(a.parent, a.stem) for a in audio_files}
    refs = [p for p in folder.rglob(f"*{suffix}") if not any(s.startswith(".") for s in p.relative_to(folder).parts)]
    lonely = [p for p in refs if (p.parent, p.name[: -len(suffix)]) not in stems]
    if lonely:
        log.warning("evaluate: %d reference file(s) in %s have no audio (e.g. %s): not scored", len(lonely), folder,
                    lonely[0].name)  # fmt: skip


def grid_clips(grid_dir: Path) -> list[Clip]:
    """GRID clips: ``<id>.<audio>`` with ``<id>_lips25fps.npy`` (column 0 the inner-lip aperture)."""
    audio = _audio_files(grid_dir)
    _orphans(grid_dir, "_lips25fps.npy", audio)

    def check(ref: F64) -> None:
        if ref.shape[1] > 3:
            raise ConfigError(f"reference has {ref.shape[1]} columns: expected (frames, 2), aperture first")
        _check_track("the aperture column", ref[:, 0])

    return _clips(audio, lambda a: a.with_name(a.stem + "_lips25fps.npy"), GRID_FPS, check)


def mngu0_clips(mngu0_dir: Path) -> list[Clip]:
    """MNGU0 utterances: ``<id>.<audio>`` with ``<id>.npy``, 12-channel EMA at 200 Hz in EMA_NAMES order."""
    audio = _audio_files(mngu0_dir)
    _orphans(mngu0_dir, ".npy", audio)

    def check(ref: F64) -> None:
        if ref.shape[1] != len(EMA_NAMES):
            raise ConfigError(f"reference has {ref.shape[1]} columns, expected {len(EMA_NAMES)} EMA channels")
        if ref.shape[0] < 2 * MIN_REFERENCE_FRAMES:
            raise ConfigError(f"reference has {ref.shape[0]} frames (at least {2 * MIN_REFERENCE_FRAMES} needed)")
        if all(_unusable(ref[:, k]) for k in range(ref.shape[1])):
            raise ConfigError("no EMA channel has enough varying frames")

    return _clips(audio, lambda a: a.with_suffix(".npy"), MNGU0_RATE_HZ, check)


def _facegood_column(facegood_dir: Path) -> int:
    """Column of FACEGOOD_JAW_KEY: from the data's ``*_bs_name.npy`` when it has one, else the shipped
    facegood profile's order (FACEGOOD's own).

    Raises:
        ConfigError: the names file lacks the key.
    """
    from bridge.face import load_profile

    for names_file in sorted(facegood_dir.glob("*name*.npy")):
        try:
            with warnings.catch_warnings():  # written with Python 2, as the keys are (_load_reference)
                warnings.simplefilter("ignore", UserWarning)
                names = [str(n) for n in np.load(names_file, allow_pickle=False).ravel()]
        except (OSError, ValueError, TypeError, EOFError, AttributeError, zipfile.BadZipFile) as e:
            log.warning("evaluate: cannot read %s (%s): FACEGOOD's own channel order assumed", names_file.name, e)
            break
        if FACEGOOD_JAW_KEY not in names:
            raise ConfigError(f"{names_file} does not name {FACEGOOD_JAW_KEY}")
        return names.index(FACEGOOD_JAW_KEY)
    return load_profile("facegood").names.index(FACEGOOD_JAW_KEY)


def facegood_clips(facegood_dir: Path) -> list[Clip]:
    """FACEGOOD clips: ``wav/<id>.<audio>`` with ``bs_value/bs_value_<id>.npy`` or ``bs_value/<id>.npy``
    (keys at 30 fps); the reference holds the jaw key alone."""
    wav_dir = corpus_dir(facegood_dir, "wav")
    if wav_dir is None:
        log.warning("evaluate: %s has no wav/ folder", facegood_dir)
        return []
    column = _facegood_column(facegood_dir)
    keys_dir = corpus_dir(facegood_dir, "bs_value") or facegood_dir / "bs_value"

    def check(ref: F64) -> None:
        if ref.shape[1] <= column:
            raise ConfigError(f"keys have {ref.shape[1]} columns, {FACEGOOD_JAW_KEY} is column {column}")
        _check_track(FACEGOOD_JAW_KEY, ref[:, column])

    def keys_of(audio: Path) -> Path:
        named, plain = keys_dir / f"bs_value_{audio.stem}.npy", keys_dir / f"{audio.stem}.npy"
        return plain if plain.is_file() and not named.is_file() else named  # FACEGOOD's own naming first

    clips = _clips(_audio_files(wav_dir), keys_of, FACEGOOD_FPS, check)
    return [Clip(c.audio, c.reference[:, column : column + 1]) for c in clips]


# ---- scores ----------------------------------------------------------------------------------


def _r(prediction: F64, reference: F64) -> float:
    """Pearson r, NaN when the reference cannot be correlated (too few finite frames, or constant)."""
    return float("nan") if _unusable(reference) else pearson(prediction, reference)


def _nanmean(values: Sequence[float]) -> float:
    known = [v for v in values if np.isfinite(v)]
    return float(np.mean(known)) if known else float("nan")


def score_grid(clips: Sequence[Clip], predict: Predictor) -> dict[str, float]:
    """GRID metrics of one method over its clips.

    Raises:
        ConfigError: no clip.
    """
    if not clips:
        raise ConfigError("evaluate: no GRID clip with a usable <id>_lips25fps.npy")
    rs = []
    counts = ClosureCounts()
    for clip in clips:
        lips = clip.reference[:, 0]
        pred = predict(*read_wav(clip.audio))
        opening = _resample(pred.times_s, pred.opening, (np.arange(lips.size) + 0.5) / GRID_FPS)
        rs.append(pearson(opening, lips))
        counts.add(lips, opening)
    return {"r": float(np.mean(rs)), **counts.scores(), "clips": float(len(rs))}


def score_mngu0(clips: Sequence[Clip], predict: Predictor) -> dict[str, float]:
    """MNGU0 metrics of one method over its utterances; a channel that cannot be correlated in an
    utterance (a dead sensor) is left out of that utterance's scores.

    Raises:
        ConfigError: no utterance.
    """
    if not clips:
        raise ConfigError("evaluate: no MNGU0 utterance with a usable <id>.npy")
    per_channel: list[list[float]] = []
    lip_r, jaw_r = [], []
    for clip in clips:
        n = clip.reference.shape[0] // 2
        ema = 0.5 * (clip.reference[0 : 2 * n : 2] + clip.reference[1 : 2 * n : 2])
        times = (np.arange(n) + 0.5) / 100.0
        pred = predict(*read_wav(clip.audio))
        opening = _resample(pred.times_s, pred.opening, times)
        ul_y, ll_y, li_y = (ema[:, EMA_NAMES.index(c)] for c in ("ul_y", "ll_y", "li_y"))
        lip_r.append(_r(opening, ul_y - ll_y))
        jaw_r.append(_r(opening, -li_y))
        if pred.ema is not None:
            pe = _z(_resample(pred.times_s, pred.ema, times))
            te = _z(ema)
            per_channel.append([_r(pe[:, k], te[:, k]) for k in range(12)])
    out = {"lip_aperture_r": _nanmean(lip_r), "jaw_r": _nanmean(jaw_r), "utterances": float(len(clips))}
    if per_channel:
        chan = [_nanmean(list(col)) for col in zip(*per_channel, strict=True)]
        out.update({f"r_{name}": v for name, v in zip(EMA_NAMES, chan, strict=True)})
        out["mean_r"] = _nanmean(chan)
    return out


def score_facegood(clips: Sequence[Clip], predict: Predictor) -> dict[str, float]:
    """FACEGOOD metric of one method over its clips.

    Raises:
        ConfigError: no clip.
    """
    if not clips:
        raise ConfigError("evaluate: no FACEGOOD clip with usable bs_value keys")
    ours, jaws, keys, rs = [], [], [], []
    for clip in clips:
        key = clip.reference[:, 0]
        pred = predict(*read_wav(clip.audio))
        times = (np.arange(key.size) + 0.5) / FACEGOOD_FPS
        opening = _resample(pred.times_s, pred.opening, times)
        ours.append(opening)
        # The key is a jaw: a method's own jaw is its fairest comparison. Its lip opening also narrows on
        # rounded vowels, where a jaw key does not, so lips that round better score lower on the key.
        jaws.append(opening if pred.jaw is None else _resample(pred.times_s, pred.jaw, times))
        keys.append(key)
        rs.append(pearson(opening, key))
    key_all = np.concatenate(keys)
    return {"jaw_r": pearson(np.concatenate(ours), key_all), "clip_jaw_r": float(np.mean(rs)),
            "jaw_output_r": pearson(np.concatenate(jaws), key_all), "clips": float(len(rs))}  # fmt: skip


def evaluate_grid(grid_dir: Path, predict: Predictor) -> dict[str, float]:
    """GRID metrics of one method over a folder of clips."""
    return score_grid(grid_clips(grid_dir), predict)


def evaluate_mngu0(mngu0_dir: Path, predict: Predictor) -> dict[str, float]:
    """MNGU0 metrics of one method over a folder of utterances."""
    return score_mngu0(mngu0_clips(mngu0_dir), predict)


def evaluate_facegood(facegood_dir: Path, predict: Predictor) -> dict[str, float]:
    """FACEGOOD metric of one method over a folder with wav/ and bs_value/."""
    return score_facegood(facegood_clips(facegood_dir), predict)


# ---- methods ---------------------------------------------------------------------------------


def _to_16k(x: F32, sr: int) -> F32:
    if sr == 16000:
        return x
    from bridge.audio.resample import StreamingResampler

    return StreamingResampler(sr, 16000).process(x)


def model_predictor(weights: Path | None, lookahead_ms: int) -> Predictor:
    """The acoustic model's own output: opening = lip_aperture control, plus its EMA."""
    from bridge.model import DEFAULT_WEIGHTS, load_weights

    model = load_weights(weights or DEFAULT_WEIGHTS, lookahead_ms)

    def predict(x: F32, sr: int) -> Prediction:
        model.reset()
        parts = [model.process(_to_16k(x, sr)), model.flush()]
        controls = np.concatenate([p.controls for p in parts]).astype(np.float64)
        ema = np.concatenate([p.ema for p in parts]).astype(np.float64)
        times = (np.arange(controls.shape[0]) + 0.5) / 100.0
        return Prediction(np.asarray(times, dtype=np.float64), controls[:, 1], ema, controls[:, 0])

    return predict


def face_predictor(weights: Path | None, lookahead_ms: int) -> Predictor:
    """The full offline path (model, face solver, frame clock); opening from ARKit blendshapes."""
    from bridge.config import Config, ModelConfig
    from bridge.pipeline import render_offline

    cfg = Config(model=ModelConfig(weights=str(weights) if weights else "default", lookahead_ms=lookahead_ms))

    def predict(x: F32, sr: int) -> Prediction:
        return _face_prediction(render_offline(x, sr, cfg))

    return predict


def _face_prediction(frames: Sequence[AnimationFrame]) -> Prediction:
    """Opening = jawOpen - mouthClose + mean(mouthLowerDown L/R)/2 + mean(mouthUpperUp L/R)/2, and the EMA."""
    idx = ARKIT_INDEX
    bs = np.array([f.pose.blendshapes for f in frames], dtype=np.float64)
    opening = (
        bs[:, idx["jawOpen"]] - bs[:, idx["mouthClose"]]
        + (bs[:, idx["mouthLowerDownLeft"]] + bs[:, idx["mouthLowerDownRight"]]) / 4
        + (bs[:, idx["mouthUpperUpLeft"]] + bs[:, idx["mouthUpperUpRight"]]) / 4
    )  # fmt: skip
    ema = np.array([f.pose.ema for f in frames], dtype=np.float64)
    return Prediction(np.array([f.t_s for f in frames]), opening, ema, bs[:, idx["jawOpen"]])


def recognized_predictor(weights: Path | None, lookahead_ms: int) -> Predictor:
    """What ``bake --recognize`` writes: the face path steered by pocketsphinx phone recognition."""
    from bridge.config import Config, ModelConfig
    from bridge.offline.bake import BakeSettings, make_take
    from bridge.offline.cli_args import DEFAULT_PHONE_WEIGHT
    from bridge.offline.exports import ExportOptions

    cfg = Config(model=ModelConfig(weights=str(weights) if weights else "default", lookahead_ms=lookahead_ms))
    settings = BakeSettings(cfg, (), ExportOptions(), DEFAULT_PHONE_WEIGHT, recognize=True)

    def predict(x: F32, sr: int) -> Prediction:
        take, _ = make_take(Path("dev"), x, sr, settings, None)
        return _face_prediction(take.frames)

    return predict


def energy_predictor() -> Predictor:
    """Cheap VTuber lip sync: mouth opening = RMS of 25 ms windows every 10 ms."""

    def predict(x: F32, sr: int) -> Prediction:
        y = _to_16k(x, sr).astype(np.float64)
        n = y.size // 160
        pad = np.concatenate([np.zeros(120), y])
        rms = np.sqrt(np.array([np.mean(pad[i * 160 : i * 160 + 400] ** 2) for i in range(n)]))
        return Prediction(np.asarray((np.arange(n) + 0.5) / 100.0, dtype=np.float64), rms)

    return predict


# Jaw opening uLipSync's sample rigs give each of its vowel classes.
_ULIPSYNC_OPEN = {"aa": 1.0, "oh": 0.8, "ee": 0.6, "ih": 0.5, "ou": 0.4, "silence": 0.0}


def ulipsync_predictor() -> Predictor:
    """uLipSync's MFCC vowel matching (pylipsync); opening = weights x per-vowel jaw opening."""
    try:
        from pylipsync import PhonemeAnalyzer
    except ImportError as e:
        raise ConfigError("the uLipSync baseline needs pylipsync (requirements-dev.txt)") from e
    analyzer = PhonemeAnalyzer()

    def predict(x: F32, sr: int) -> Prediction:
        segs = analyzer.extract_phoneme_segments(_to_16k(x, sr), 16000, fps=100, return_seconds=True)
        opening = np.array([sum(_ULIPSYNC_OPEN.get(p.name, 0.5) * p.target for p in s.phonemes) for s in segs])
        times = np.array([0.5 * (s.start + s.end) for s in segs])
        return Prediction(times, opening)

    return predict


_CORPORA: dict[str, tuple[Callable[[Path], list[Clip]], Callable[[Sequence[Clip], Predictor], dict[str, float]]]] = {
    "grid": (grid_clips, score_grid), "mngu0": (mngu0_clips, score_mngu0), "facegood": (facegood_clips, score_facegood),
}  # fmt: skip


def evaluate_all(data_dir: Path, methods: dict[str, Predictor]) -> dict[str, dict[str, dict[str, float]]]:
    """{method: {corpus: scores}} for each of grid/, mngu0/ and facegood/ that the data folder has.

    Every clip is checked once, before any method runs: one that cannot be scored is skipped with a
    warning, and so is a corpus folder left without clips.

    Raises:
        ConfigError: the folder is missing, or has no corpus with a usable clip.
    """
    if not data_dir.is_dir():
        raise ConfigError(f"evaluate: {data_dir} {'is not a folder' if data_dir.exists() else 'does not exist'}")
    folders = {name: corpus_dir(data_dir, name) for name in _CORPORA}
    if not any(folders.values()):
        raise ConfigError(f"evaluate: {data_dir} has none of the folders grid/, mngu0/, facegood/")
    clips: dict[str, list[Clip]] = {}
    for name, folder in folders.items():
        if folder is None:
            continue
        try:
            found = _CORPORA[name][0](folder)
        except ConfigError as e:
            log.warning("evaluate: %s left out: %s", folder, e)
            continue
        if found:
            log.info("evaluate: %s: %d clip(s)", folder, len(found))
            clips[name] = found
        else:
            log.warning("evaluate: %s has no clip that can be scored: left out", folder)
    if not clips:
        raise ConfigError(f"evaluate: {data_dir} has no clip that can be scored")
    out = {}
    for method, predict in methods.items():
        log.info("evaluating %s", method)
        out[method] = {name: _CORPORA[name][1](found, predict) for name, found in clips.items()}
    return out


# ---- command ---------------------------------------------------------------------------------

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "dev"
METHODS = ("model", "face", "recognized", "energy", "ulipsync")
_GRID_COLS = ("r", "closure_recall", "closure_precision", "closure_f1", "onset_error_ms", "closure_mcc")
_MNGU0_COLS = ("mean_r", "lip_aperture_r", "jaw_r")


def format_markdown(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """Markdown tables: GRID, MNGU0, FACEGOOD (when measured) and the per-channel MNGU0 r of every method with EMA."""
    lines: list[str] = []
    with_grid = [n for n, r in results.items() if "grid" in r]
    if with_grid:
        lines += ["| method | GRID r | closure recall | precision | F1 | onset error ms | MCC | clips |",
                  "|---" * 8 + "|"]  # fmt: skip
        for name in with_grid:
            g = results[name]["grid"]
            lines.append(f"| {name} | " + " | ".join(f"{g[c]:.2f}" for c in _GRID_COLS) + f" | {g['clips']:.0f} |")
    with_mngu0 = [n for n, r in results.items() if "mngu0" in r]
    if with_mngu0:
        lines += ["", "| method | MNGU0 mean 12-ch r | lip aperture r | jaw r | utterances |", "|---|---|---|---|---|"]
        for name in with_mngu0:
            m = results[name]["mngu0"]
            cells = [f"{m[c]:.2f}" if c in m else "n/a" for c in _MNGU0_COLS] + [f"{m['utterances']:.0f}"]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    with_facegood = [n for n, r in results.items() if "facegood" in r]
    if with_facegood:
        lines += ["", "| method | FACEGOOD jaw-key r (pooled) | per-clip mean r | jaw output r (pooled) | clips |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for name in with_facegood:
            fg = results[name]["facegood"]
            lines.append(f"| {name} | {fg['jaw_r']:.3f} | {fg['clip_jaw_r']:.3f} | {fg['jaw_output_r']:.3f} | "
                         f"{fg['clips']:.0f} |")  # fmt: skip
    with_ema = [n for n in with_mngu0 if "mean_r" in results[n]["mngu0"]]
    if with_ema:
        lines += ["", "| channel | " + " | ".join(with_ema) + " |", "|---" * (len(with_ema) + 1) + "|"]
        for ch in EMA_NAMES:
            lines.append(f"| {ch} | " + " | ".join(f"{results[n]['mngu0'][f'r_{ch}']:.2f}" for n in with_ema) + " |")
    return "\n".join(lines).lstrip("\n") + "\n"


def add_evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR,
                   help="folder with grid/, mngu0/, facegood/ (the recordings of docs/accuracy.md; default: "
                   "../shared/data/dev beside the source checkout)")
    p.add_argument("--weights", type=Path, default=None, help="weights file (default: the packaged model)")
    p.add_argument("--lookahead-ms", type=int, default=30, choices=(0, 10, 20, 30),
                   help="the model's look-ahead in ms (default 30, as run and bake use)")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--markdown", type=Path, default=None, help="also write the tables to this file")


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate the requested methods, log the tables, optionally write them; exit code."""
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(names) - set(METHODS))
    if unknown or not names:
        raise ConfigError(f"--methods: {f'unknown {unknown}' if unknown else 'none given'}; choose from {METHODS}")
    if args.markdown is not None:  # checked before the run, which can take minutes, not after it
        folder = args.markdown.parent
        problem = ("is a folder" if args.markdown.is_dir() else
                   f"its folder {folder} does not exist" if not folder.is_dir() else
                   f"its folder {folder} cannot be written" if not os.access(folder, os.W_OK | os.X_OK) else
                   None)  # fmt: skip
        if problem is not None:
            raise ConfigError(f"--markdown {args.markdown}: {problem}")
    factories: dict[str, Callable[[], Predictor]] = {
        "model": lambda: model_predictor(args.weights, args.lookahead_ms),
        "face": lambda: face_predictor(args.weights, args.lookahead_ms),
        "recognized": lambda: recognized_predictor(args.weights, args.lookahead_ms),
        "energy": energy_predictor,
        "ulipsync": ulipsync_predictor,
    }
    results = evaluate_all(args.data, {n: factories[n]() for n in names})
    # What was measured, kept with the numbers (a comment: invisible where the Markdown is rendered).
    setup = (f"<!-- avatar-bridge evaluate: data {args.data}, weights {args.weights or 'shipped'}, "
             f"look-ahead {args.lookahead_ms} ms, methods {','.join(names)} -->\n")  # fmt: skip
    table = setup + format_markdown(results)
    # The scores also as fields of the event (NaN, e.g. no matched closure's onset, as null: valid JSON).
    fields = {m: {c: {k: v if np.isfinite(v) else None for k, v in s.items()} for c, s in r.items()}
              for m, r in results.items()}  # fmt: skip
    log.info("accuracy on %s: the tables are on standard output", args.data,
             extra={"event": "evaluation", "results": fields})  # fmt: skip
    sys.stdout.write(table)  # the command's result, as `evaluate > results.md` expects; the log goes to stderr
    sys.stdout.flush()
    if args.markdown is not None:
        try:
            args.markdown.write_text(table, encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"--markdown {args.markdown}: cannot write ({e.strerror or e})") from e
    return 0
