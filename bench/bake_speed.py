"""Bake speed (issue 9): a folder of clips baked with 1 and 2 worker processes, and the cost of transcripts.

Builds a temporary folder of N clips (copies of the GRID dev clips with their transcripts as
<stem>.txt, or slices of the bundled example when the dev data is absent), then times
``avatar-bridge bake`` on it:

* acoustic model only, 1 worker and 2 workers (x real time, and per core);
* with transcripts (pocketsphinx alignment + phone articulation + blend), 1 worker;
* a per-stage breakdown of one clip (model, face solver + frame clock, JSON Lines writing).

Usage: ``nice -n 10 .venv/bin/python bench/bake_speed.py [--clips 100] [--out results.json]``.
Numbers are measured, not asserted; docs/benchmarks.md ("Bake") reports them with the machine named.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.audio.files import read_audio  # noqa: E402
from bridge.config import Config  # noqa: E402
from bridge.face import build_face_solver  # noqa: E402
from bridge.model import load_model  # noqa: E402
from bridge.offline.bake import BakeSettings, acoustic_articulation, make_take  # noqa: E402
from bridge.offline.batch import BakeRequest, BatchResult, bake  # noqa: E402
from bridge.offline.cli_args import DEFAULT_PHONE_WEIGHT  # noqa: E402
from bridge.offline.exports import FORMATS, ExportOptions  # noqa: E402
from bridge.pipeline import render_offline  # noqa: E402

log = logging.getLogger("bench.bake_speed")
GRID = ROOT.parent / "shared" / "data" / "dev" / "grid"
EXAMPLE = ROOT / "examples" / "hello.wav"
GRID_TEXT = {
    "bbaf2n": "bin blue at f two now",
    "brbk7n": "bin red by k seven now",
    "lbax4n": "lay blue at x four now",
    "lbbc2a": "lay blue by c two again",
    "lrwp9a": "lay red with p nine again",
}


def make_folder(folder: Path, n_clips: int) -> str:
    """Fill ``folder`` with ``n_clips`` clips; returns where they came from."""
    if GRID.is_dir():
        ids = sorted(GRID_TEXT)
        for i in range(n_clips):
            cid = ids[i % len(ids)]
            shutil.copyfile(GRID / f"{cid}.wav", folder / f"{i:03d}_{cid}.wav")
            (folder / f"{i:03d}_{cid}.txt").write_text(GRID_TEXT[cid] + "\n")
        return f"{n_clips} copies of the {len(ids)} GRID dev clips (3 s each) with transcripts"
    x, rate = sf.read(str(EXAMPLE), dtype="float32")
    seg = 3 * rate
    for i in range(n_clips):
        start = (i * rate // 2) % max(1, x.shape[0] - seg)
        sf.write(str(folder / f"{i:03d}.wav"), x[start : start + seg], rate)
    return f"{n_clips} 3 s slices of examples/hello.wav (no transcripts: GRID dev data absent)"


def run(folder: Path, out: Path, workers: int, text_files: bool) -> BatchResult:
    settings = BakeSettings(Config(), ("jsonl",), ExportOptions(), DEFAULT_PHONE_WEIGHT)
    request = BakeRequest(
        inputs=(str(folder),), output=out, settings=settings, text_files=text_files, workers=workers, force=True,
        progress=False,
    )  # fmt: skip
    return bake(request)


def summary(result: BatchResult, workers: int) -> dict[str, float]:
    speed = result.audio_s / result.wall_s
    return {
        "workers": workers,
        "files": len(result.baked),
        "failed": len(result.failed),
        "audio_s": round(result.audio_s, 2),
        "wall_s": round(result.wall_s, 3),
        "x_realtime": round(speed, 1),
        "x_realtime_per_core": round(speed / workers, 1),
        "align_s_total": round(sum(r.align_s for r in result.baked), 3),
    }


def stage_breakdown(clip: Path, text: str | None, repeats: int = 5) -> dict[str, float]:
    """Seconds per clip of each stage, best of ``repeats`` (one process, warm)."""
    cfg = Config()
    samples, rate = read_audio(clip)
    model = load_model(cfg.model)
    settings = BakeSettings(cfg, ("jsonl",), ExportOptions(), DEFAULT_PHONE_WEIGHT)

    def best(fn: object) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()  # type: ignore[operator]
            times.append(time.perf_counter() - t0)
        return min(times)

    art = acoustic_articulation(samples, rate, model)

    def model_only() -> None:
        model.reset()
        acoustic_articulation(samples, rate, model)

    def face_only() -> None:
        render_offline(samples, rate, cfg, solver=build_face_solver(cfg.face), articulation=art)

    take, _ = make_take(clip, samples, rate, settings, None)

    def write_jsonl() -> None:
        FORMATS["jsonl"].write(take, settings.export, io.StringIO())

    out = {
        "clip_s": round(samples.shape[0] / rate, 3),
        "model_s": round(best(model_only), 4),
        "face_and_clock_s": round(best(face_only), 4),
        "write_jsonl_s": round(best(write_jsonl), 4),
        "whole_take_s": round(best(lambda: make_take(clip, samples, rate, settings, None)), 4),
    }
    if text is not None:
        from bridge.offline.align import align

        align(samples, rate, text)  # load the decoder once
        out["align_s"] = round(best(lambda: align(samples, rate, text)), 4)
        out["whole_take_with_transcript_s"] = round(best(lambda: make_take(clip, samples, rate, settings, text)), 4)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, object] = {
        "machine": f"{platform.system()} {platform.release()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="bake-bench-") as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        results["clips"] = make_folder(folder, args.clips)
        first = sorted(folder.glob("*.wav"))[0]
        txt = first.with_suffix(".txt")
        results["stages_one_clip"] = stage_breakdown(first, txt.read_text() if txt.exists() else None)
        runs = []
        for workers in (1, 2):
            runs.append(
                {"transcripts": False, **summary(run(folder, Path(tmp) / f"out{workers}", workers, False), workers)}
            )
        if GRID.is_dir():
            runs.append({"transcripts": True, **summary(run(folder, Path(tmp) / "out_text", 1, True), 1)})
        results["runs"] = runs
        results["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    text = json.dumps(results, indent=2)
    sys.stdout.write(text + "\n")
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
