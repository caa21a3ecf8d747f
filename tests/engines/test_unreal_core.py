"""The Unreal plugin's host-free C++ core: configure, build and run its ctest suite.

ctest covers OSC parsing, protocol decoding, frame assembly and bones, the Live Link Face decoder,
every golden file in schemas/golden/, a fuzz run (all under AddressSanitizer + UBSan), and a live
loopback from the bridge's OSC and Live Link Face publishers to a receiver built from the core.
The Unreal glue itself needs an Unreal Editor to build and is not compiled here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "engines" / "unreal" / "core"
BUILD = CORE / "build"
BUILD_TIMEOUT_S = 900  # a cold build compiles Catch2's main; later runs are incremental


def _run(*cmd: str, timeout_s: float = BUILD_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=CORE, capture_output=True, text=True, timeout=timeout_s)


@pytest.mark.slow
def test_unreal_core_builds_and_ctest_passes() -> None:
    missing = [tool for tool in ("cmake", "ctest", "g++") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/setup.sh --dev installs them)")
    configure = _run(
        "cmake", "-S", str(CORE), "-B", str(BUILD),
        "-DAVATAR_BRIDGE_SANITIZE=ON", f"-DAVATAR_BRIDGE_PYTHON={sys.executable}",
    )  # fmt: skip
    assert configure.returncode == 0, configure.stdout + configure.stderr
    build = _run("cmake", "--build", str(BUILD), "-j2")
    assert build.returncode == 0, build.stdout[-6000:] + build.stderr[-6000:]
    ctest = _run("ctest", "--test-dir", str(BUILD), "--output-on-failure", timeout_s=300)
    assert ctest.returncode == 0, ctest.stdout[-8000:] + ctest.stderr[-4000:]
    # A skipped test (exit 77) would hide the loopback; it must have run.
    assert "Not Run" not in ctest.stdout and "Skipped" not in ctest.stdout, ctest.stdout
    assert "100% tests passed" in ctest.stdout, ctest.stdout


PLUGIN = ROOT / "engines" / "unreal" / "AvatarBridge"
MODULE = PLUGIN / "Source" / "AvatarBridge"


def test_plugin_compiles_every_core_source_file() -> None:
    """The Unreal module builds the core through one unity file; a core file missing there would
    pass ctest here and fail to link in Unreal."""
    unity = (MODULE / "Private" / "AvatarBridgeCore.cpp").read_text()
    included = {line.split('"')[1] for line in unity.splitlines() if line.startswith('#include "src/')}
    assert included == {f"src/{p.name}" for p in (CORE / "src").glob("*.cpp")}


def test_plugin_descriptor_names_its_module_and_live_link() -> None:
    descriptor = json.loads((PLUGIN / "AvatarBridge.uplugin").read_text())
    assert [m["Name"] for m in descriptor["Modules"]] == ["AvatarBridge"]
    assert {"Name": "LiveLink", "Enabled": True} in descriptor["Plugins"]
    assert (MODULE / "AvatarBridge.Build.cs").is_file()


def test_install_script_lays_out_plugin_and_core(tmp_path: Path) -> None:
    (tmp_path / "Demo.uproject").write_text("{}")
    result = subprocess.run(
        ["bash", str(ROOT / "engines" / "unreal" / "install_plugin.sh"), str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    dest = tmp_path / "Plugins" / "AvatarBridge"
    assert (dest / "AvatarBridge.uplugin").is_file()
    # Build.cs looks for <Plugin>/Core/include/avatar_bridge/assembler.hpp first.
    assert (dest / "Core" / "include" / "avatar_bridge" / "assembler.hpp").is_file()
    assert {p.name for p in (dest / "Core" / "src").glob("*.cpp")} == {p.name for p in (CORE / "src").glob("*.cpp")}
    assert not (dest / "Core" / "build").exists()
    # Package Plugin copies only Source (and a few asset folders) plus what FilterPlugin.ini lists: the
    # packaged plugin lost Core/, and Build.cs then failed in every project that used it.
    rules = (dest / "Config" / "FilterPlugin.ini").read_text().splitlines()
    assert rules[0] == "[FilterPlugin]" and "/Core/..." in rules
