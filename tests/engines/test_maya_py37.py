"""Every file in engines/maya and engines/common stays valid for mayapy 2022 (Python 3.7)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted([*(ROOT / "engines" / "maya").rglob("*.py"), *(ROOT / "engines" / "common").rglob("*.py")])
# Builtins whose subscription (list[int]) or | union fails at runtime before 3.9/3.10.
_GENERIC_BUILTINS = {"list", "dict", "tuple", "set", "frozenset", "type"}


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def test_there_are_files_to_check() -> None:
    assert len(FILES) >= 8


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_parses_as_python_37(path: Path) -> None:
    ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 7))


def _runtime_typing_violations(tree: ast.Module) -> list[str]:
    """PEP 585/604 syntax outside annotations (annotations are never evaluated: PEP 563)."""
    annotations: set[int] = set()
    for node in ast.walk(tree):
        for ann in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if ann is not None:
                annotations.update(id(n) for n in ast.walk(ann))
    out = []
    for node in ast.walk(tree):
        if id(node) in annotations:
            continue
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            if node.value.id in _GENERIC_BUILTINS:
                out.append(f"line {node.lineno}: {node.value.id}[...] outside an annotation")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            sides = (node.left, node.right)
            if any(isinstance(s, ast.Constant) and s.value is None for s in sides):
                out.append(f"line {node.lineno}: X | None outside an annotation")
    return out


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_no_runtime_pep585_or_pep604(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    uses_new_annotations = any(
        isinstance(n, (ast.AnnAssign, ast.arg)) and n.annotation is not None for n in ast.walk(tree)
    ) or any(isinstance(n, ast.FunctionDef) and n.returns is not None for n in ast.walk(tree))
    if uses_new_annotations:
        future = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
        assert any(a.name == "annotations" for f in future for a in f.names), "annotations need the PEP 563 import"
    assert _runtime_typing_violations(tree) == []


def test_runtime_typing_check_catches_what_it_should() -> None:
    bad = ast.parse("X = dict[str, int]\nY = int | None\ndef f(a: list[int]) -> int | None: ...\n")
    assert len(_runtime_typing_violations(bad)) == 2


def test_vermin_says_python_37_is_enough() -> None:
    vermin = shutil.which("vermin", path=str(Path(sys.executable).parent))
    if vermin is None:
        pytest.skip("vermin not installed (requirements-dev.txt pins it)")
    result = subprocess.run(
        [vermin, "-t=3.7-", "--no-tips", "--violations", "--no-parse-comments", *map(str, FILES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_maya_package_ships_the_shared_decoder_unchanged() -> None:
    shared = (ROOT / "engines" / "common" / "avatar_wire.py").read_bytes()
    vendored = (ROOT / "engines" / "maya" / "avatar_bridge_maya" / "avatar_wire.py").read_bytes()
    assert vendored == shared, "run: cp engines/common/avatar_wire.py engines/maya/avatar_bridge_maya/"
