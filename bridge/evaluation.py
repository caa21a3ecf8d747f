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
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from bridge.errors import AudioError, ConfigError
from bridge.frames import ARKIT_INDEX, EMA_NAMES, F32, AnimationFrame

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
    """

    times_s: F64
    opening: F64
    ema: F64 | None = None


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


def _reference(path: Path) -> F64 | None:
    """A clip's reference track, or None (logged) when the file is missing or has no finite frame.

    Raises:
        ConfigError: the file exists but is not a readable numpy array.
    """
    if not path.is_file():
        log.warning("evaluate: %s is missing: clip skipped", path)
        return None
    with warnings.catch_warnings():
        # FACEGOOD wrote its arrays with Python 2; numpy warns about the old header, then reads them.
        warnings.simplefilter("ignore", UserWarning)
        try:
            ref: F64 = np.load(path, allow_pickle=False).astype(np.float64)
        except (OSError, ValueError) as e:
            raise ConfigError(f"evaluate: cannot read {path}: {e}") from e
    if ref.ndim == 1:
        ref = ref[:, None]  # a single track (e.g. GRID aperture without the width column)
    if ref.ndim != 2 or not np.isfinite(ref).any():
        log.warning("evaluate: %s has no usable frames (shape %s): clip skipped", path, ref.shape)
        return None
    missing = int(np.sum(~np.isfinite(ref).all(axis=1)))
    if missing:
        log.info("evaluate: %s: %d of %d frames not finite, left out", path.name, missing, ref.shape[0])
    return ref


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


def read_wav(path: Path) -> tuple[F32, int]:
    try:
        x, sr = sf.read(path, dtype="float32", always_2d=True)
    except (OSError, RuntimeError) as e:
        raise AudioError(f"cannot read {path}: {e}") from e
    return np.ascontiguousarray(x.mean(axis=1)), int(sr)


def evaluate_grid(grid_dir: Path, predict: Predictor) -> dict[str, float]:
    """GRID metrics of one method over every ``<id>.wav`` with ``<id>_lips25fps.npy``."""
    rs = []
    counts = ClosureCounts()
    for wav in sorted(grid_dir.glob("*.wav")):
        ref = _reference(wav.with_name(wav.stem + "_lips25fps.npy"))
        if ref is None:
            continue
        lips = ref[:, 0]
        x, sr = read_wav(wav)
        pred = predict(x, sr)
        times = (np.arange(lips.size) + 0.5) / GRID_FPS
        opening = _resample(pred.times_s, pred.opening, times)
        rs.append(pearson(opening, lips))
        counts.add(lips, opening)
    if not rs:
        raise ConfigError(f"evaluate: {grid_dir} has no <id>.wav with a usable <id>_lips25fps.npy")
    return {"r": float(np.mean(rs)), **counts.scores(), "clips": float(len(rs))}


def evaluate_mngu0(mngu0_dir: Path, predict: Predictor) -> dict[str, float]:
    """MNGU0 metrics of one method over every ``<id>.wav`` with ``<id>.npy`` (200 Hz EMA)."""
    per_channel: list[list[float]] = []
    lip_r, jaw_r = [], []
    for wav in sorted(mngu0_dir.glob("*.wav")):
        ema200 = _reference(wav.with_suffix(".npy"))
        if ema200 is None:
            continue
        if ema200.shape[1] != len(EMA_NAMES):
            raise ConfigError(f"evaluate: {wav.with_suffix('.npy')} has {ema200.shape[1]} columns, expected 12 EMA")
        n = ema200.shape[0] // 2
        ema = 0.5 * (ema200[0 : 2 * n : 2] + ema200[1 : 2 * n : 2])
        times = (np.arange(n) + 0.5) / 100.0
        x, sr = read_wav(wav)
        pred = predict(x, sr)
        opening = _resample(pred.times_s, pred.opening, times)
        ul_y, ll_y, li_y = (ema[:, EMA_NAMES.index(c)] for c in ("ul_y", "ll_y", "li_y"))
        lip_r.append(pearson(opening, ul_y - ll_y))
        jaw_r.append(pearson(opening, -li_y))
        if pred.ema is not None:
            pe = _z(_resample(pred.times_s, pred.ema, times))
            te = _z(ema)
            per_channel.append([pearson(pe[:, k], te[:, k]) for k in range(12)])
    if not lip_r:
        raise ConfigError(f"evaluate: {mngu0_dir} has no <id>.wav with a usable <id>.npy")
    out = {"lip_aperture_r": float(np.mean(lip_r)), "jaw_r": float(np.mean(jaw_r)), "utterances": float(len(lip_r))}
    if per_channel:
        chan = np.mean(np.array(per_channel), axis=0)
        out.update({f"r_{name}": float(v) for name, v in zip(EMA_NAMES, chan, strict=True)})
        out["mean_r"] = float(chan.mean())
    return out


FACEGOOD_FPS = 30
FACEGOOD_JAW_KEY = "mouth_stretch_c"


def evaluate_facegood(facegood_dir: Path, predict: Predictor) -> dict[str, float]:
    """FACEGOOD metric of one method over every ``wav/<id>.wav`` with ``bs_value/bs_value_<id>.npy``."""
    from bridge.face import load_profile

    # The shipped facegood profile lists the rig's 116 channels in FACEGOOD's order.
    column = load_profile("facegood").names.index(FACEGOOD_JAW_KEY)
    ours, keys, rs = [], [], []
    for wav in sorted((facegood_dir / "wav").glob("*.wav")):
        keys_all = _reference(facegood_dir / "bs_value" / f"bs_value_{wav.stem}.npy")
        if keys_all is None:
            continue
        if keys_all.shape[1] <= column:
            raise ConfigError(f"evaluate: bs_value_{wav.stem}.npy has {keys_all.shape[1]} columns, not FACEGOOD's 116")
        key = keys_all[:, column]
        x, sr = read_wav(wav)
        pred = predict(x, sr)
        opening = _resample(pred.times_s, pred.opening, (np.arange(key.size) + 0.5) / FACEGOOD_FPS)
        ours.append(opening)
        keys.append(key)
        rs.append(pearson(opening, key))
    if not rs:
        raise ConfigError(f"evaluate: {facegood_dir} has no wav/*.wav clips")
    return {"jaw_r": pearson(np.concatenate(ours), np.concatenate(keys)), "clip_jaw_r": float(np.mean(rs)),
            "clips": float(len(rs))}  # fmt: skip


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
        return Prediction(np.asarray(times, dtype=np.float64), controls[:, 1], ema)

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
    return Prediction(np.array([f.t_s for f in frames]), opening, ema)


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


def evaluate_all(data_dir: Path, methods: dict[str, Predictor]) -> dict[str, dict[str, dict[str, float]]]:
    """{method: {corpus: scores}} for each of grid/, mngu0/ and facegood/ that the data folder has."""
    corpora: dict[str, Callable[[Path, Predictor], dict[str, float]]] = {
        "grid": evaluate_grid, "mngu0": evaluate_mngu0, "facegood": evaluate_facegood,
    }  # fmt: skip
    present = {name: score for name, score in corpora.items() if (data_dir / name).is_dir()}
    if not present:
        raise ConfigError(f"evaluate: {data_dir} has none of the folders grid/, mngu0/, facegood/")
    out = {}
    for name, predict in methods.items():
        log.info("evaluating %s", name)
        out[name] = {corpus: score(data_dir / corpus, predict) for corpus, score in present.items()}
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
        lines += ["| method | GRID r | closure recall | precision | F1 | onset error ms | MCC |", "|---" * 7 + "|"]
        for name in with_grid:
            lines.append(f"| {name} | " + " | ".join(f"{results[name]['grid'][c]:.2f}" for c in _GRID_COLS) + " |")
    with_mngu0 = [n for n, r in results.items() if "mngu0" in r]
    if with_mngu0:
        lines += ["", "| method | MNGU0 mean 12-ch r | lip aperture r | jaw r |", "|---|---|---|---|"]
        for name in with_mngu0:
            m = results[name]["mngu0"]
            lines.append(f"| {name} | " + " | ".join(f"{m[c]:.2f}" if c in m else "n/a" for c in _MNGU0_COLS) + " |")
    with_facegood = [n for n, r in results.items() if "facegood" in r]
    if with_facegood:
        lines += ["", "| method | FACEGOOD jaw-key r (pooled) | per-clip mean r |", "|---|---|---|"]
        for name in with_facegood:
            fg = results[name]["facegood"]
            lines.append(f"| {name} | {fg['jaw_r']:.3f} | {fg['clip_jaw_r']:.3f} |")
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
    p.add_argument("--lookahead-ms", type=int, default=30, choices=(0, 10, 20, 30))
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--markdown", type=Path, default=None, help="also write the tables to this file")


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate the requested methods, log the tables, optionally write them; exit code."""
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(names) - set(METHODS))
    if unknown:
        raise ConfigError(f"--methods: unknown {unknown}; choose from {METHODS}")
    factories: dict[str, Callable[[], Predictor]] = {
        "model": lambda: model_predictor(args.weights, args.lookahead_ms),
        "face": lambda: face_predictor(args.weights, args.lookahead_ms),
        "recognized": lambda: recognized_predictor(args.weights, args.lookahead_ms),
        "energy": energy_predictor,
        "ulipsync": ulipsync_predictor,
    }
    results = evaluate_all(args.data, {n: factories[n]() for n in names})
    table = format_markdown(results)
    log.info("accuracy on %s:\n%s", args.data, table)
    if args.markdown is not None:
        args.markdown.write_text(table, encoding="utf-8")
    return 0
