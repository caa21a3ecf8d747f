"""Build the installable Blender extension zip: ``python3 engines/blender/build.py``.

Copies ``avatar_bridge_blender/`` and the shared decoder ``engines/common/avatar_wire.py`` (as
``_vendor/avatar_wire.py``) into a staging folder, then zips it with the manifest at the root,
the layout ``blender --command extension build`` produces. The zip is reproducible (fixed
timestamps, sorted entries). Output: ``dist/avatar_bridge_blender-<version>.zip``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SOURCE = HERE / "avatar_bridge_blender"
WIRE = REPO / "engines" / "common" / "avatar_wire.py"
ZIP_DATE = (2024, 1, 1, 0, 0, 0)
VENDOR_INIT = '"""Third-party-free modules copied in by engines/blender/build.py; do not edit here."""\n'


def manifest(source: Path = SOURCE) -> dict[str, object]:
    with (source / "blender_manifest.toml").open("rb") as f:
        return tomllib.load(f)


def stage(dest: Path, source: Path = SOURCE, wire: Path = WIRE) -> Path:
    """Write the unpacked extension to ``dest`` (created; must not exist) and return it."""
    if not wire.is_file():
        raise FileNotFoundError(f"shared decoder {wire} is missing; it is vendored into the extension")
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_vendor"))
    vendor = dest / "_vendor"
    vendor.mkdir()
    (vendor / "__init__.py").write_text(VENDOR_INIT, encoding="utf-8")
    shutil.copy2(wire, vendor / "avatar_wire.py")
    return dest


def zip_dir(folder: Path, out: Path) -> Path:
    """Zip ``folder``'s contents (not the folder itself) reproducibly into ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return out


def build(output_dir: Path) -> Path:
    """Build the extension zip into ``output_dir``; returns its path."""
    meta = manifest()
    out = output_dir / f"{meta['id']}-{meta['version']}.zip"
    with tempfile.TemporaryDirectory() as tmp:
        staged = stage(Path(tmp) / str(meta["id"]))
        zip_dir(staged, out)
    log.info("built %s", out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=REPO / "dist", help="where the zip goes")
    parser.add_argument("--stage-dir", type=Path, help="also write the unpacked extension here (for development)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.stage_dir is not None:
            if args.stage_dir.exists():
                shutil.rmtree(args.stage_dir)
            stage(args.stage_dir)
            log.info("staged %s", args.stage_dir)
        build(args.output_dir)
    except (OSError, tomllib.TOMLDecodeError) as e:
        log.error("build failed: %s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
