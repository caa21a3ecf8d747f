"""Fixtures for the Blender extension's tests.

``test_core.py`` needs only Python (run by the project's main test suite); the ``test_bpy_*``
files need the ``bpy`` module (run in ``.venv-bpy`` by ``tests/engines/test_blender.py``).
Blender writes its user folders under BLENDER_USER_RESOURCES, set here before bpy is imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent
BLENDER_DIR = HERE.parent
REPO = BLENDER_DIR.parent.parent
GOLDEN = REPO / "schemas" / "golden"
DEV_SPEECH = REPO.parent / "shared" / "data" / "dev" / "speech"
EXAMPLE_WAV = REPO / "examples" / "hello.wav"

_USER_RESOURCES = tempfile.mkdtemp(prefix="avatar-bridge-blender-user-")
os.environ["BLENDER_USER_RESOURCES"] = _USER_RESOURCES


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_USER_RESOURCES, ignore_errors=True)


def load_build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("avatar_bridge_blender_build", BLENDER_DIR / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def build_module() -> ModuleType:
    return load_build_module()


@pytest.fixture(scope="session")
def ext_zip(build_module: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The extension zip, built by the project's build command."""
    return build_module.build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def staged(build_module: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The unpacked extension as the plain package ``avatar_bridge_blender`` on sys.path."""
    root = tmp_path_factory.mktemp("staged")
    build_module.stage(root / "avatar_bridge_blender")
    sys.path.insert(0, str(root))
    return root / "avatar_bridge_blender"


@pytest.fixture(scope="session")
def core(staged: Path) -> ModuleType:
    """``avatar_bridge_blender.core`` with its submodules loaded (no bpy involved)."""
    pkg = importlib.import_module("avatar_bridge_blender.core")
    for name in ("mapping", "receiver", "smoothing", "stream", "subjects", "timing"):
        importlib.import_module(f"avatar_bridge_blender.core.{name}")
    return pkg


@pytest.fixture(scope="session")
def wire(staged: Path) -> ModuleType:
    """The vendored decoder inside the staged extension."""
    return importlib.import_module("avatar_bridge_blender._vendor.avatar_wire")


def speech_wav() -> Path | None:
    """A real speech clip when the dev data is present, else the bundled example (None if neither)."""
    real = DEV_SPEECH / "p225_001_mic1.wav"
    if real.is_file():
        return real
    return EXAMPLE_WAV if EXAMPLE_WAV.is_file() else None


def bridge_command() -> Path | None:
    """The ``avatar-bridge`` executable (AVATAR_BRIDGE_CMD or the project's .venv)."""
    explicit = os.environ.get("AVATAR_BRIDGE_CMD")
    path = Path(explicit) if explicit else REPO / ".venv" / "bin" / "avatar-bridge"
    return path if path.is_file() else None
