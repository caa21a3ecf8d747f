"""Where ``train`` and ``train-head`` write: checked before any work, never the shipped model by
mistake, and written whole (a failed write leaves the file that was there)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bridge.cli import main
from bridge.errors import ModelError
from bridge.model import DEFAULT_WEIGHTS
from bridge.training.output import write_npz
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--quick", "--out", str(DEFAULT_WEIGHTS)], "the shipped model's weights"),
        (["train-head", "--upstream", "x", "--layer", "1", "--quick", "--out", str(DEFAULT_WEIGHTS)],
         "the shipped model's weights"),
        (["train", "--quick", "--out", "{d}"], "is a folder; name the .npz file to write"),
        (["train", "--quick", "--out", "{d}/x.npz", "--threads", "0"], "--threads: must be at least 1"),
        (["train-head", "--upstream", "x", "--layer", "1", "--quick", "--ridge", "nan", "--out", "{d}/h.npz"],
         "--ridge: must be a positive number"),
        (["train-head", "--upstream", "x", "--layer", "1", "--quick", "--out", "{d}/sub"], "a head is an .npz file"),
    ],
    ids=["quick-over-shipped", "head-over-shipped", "folder", "threads", "ridge-nan", "head-suffix"],
)  # fmt: skip
def test_bad_outputs_are_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """``train --quick --out <shipped model>`` replaced the shipped weights with a toy network."""
    before = DEFAULT_WEIGHTS.read_bytes()
    assert main([a.format(d=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert DEFAULT_WEIGHTS.read_bytes() == before


def test_a_head_over_the_shipped_weights_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "model.npz"
    link.symlink_to(DEFAULT_WEIGHTS)  # the same file by another name
    argv = ["train-head", "--upstream", "x", "--layer", "1", "--quick", "--out", str(link)]
    assert main(argv) == 2
    assert "the shipped model's weights" in capsys.readouterr().err


def test_a_failed_write_leaves_the_previous_file(tmp_path: Path) -> None:
    """A full disk at the end of a training truncated the file it replaced (the shipped model by default)."""
    target = tmp_path / "w.npz"
    write_npz(target, {"a": np.arange(10)})
    before = target.read_bytes()
    code = (
        "import sys, numpy as np; from pathlib import Path; from bridge.training.output import write_npz\n"
        "from bridge.errors import ModelError\n"
        f"try:\n    write_npz(Path({str(target)!r}), {{'a': np.random.default_rng(0).standard_normal(200000)}})\n"
        "except ModelError as e:\n    print(e); sys.exit(3)\n"
    )

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, resource.RLIM_INFINITY))

    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       preexec_fn=small_files)  # fmt: skip
    assert p.returncode == 3 and "cannot write" in p.stdout and "unchanged" in p.stdout, p.stdout + p.stderr
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["w.npz"]  # no temporary file left


def test_npz_files_are_the_same_bytes_for_the_same_arrays(tmp_path: Path) -> None:
    arrays = {"coef": np.ones((3, 2), np.float32), "layer": np.array(4)}
    write_npz(tmp_path / "a.npz", arrays)
    write_npz(tmp_path / "b.npz", arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz", allow_pickle=False) as z:
        assert int(z["layer"]) == 4
    with pytest.raises(ModelError, match="cannot write"):
        write_npz(tmp_path / "missing" / "c.npz", arrays)
