"""Time the extension's per-frame work inside the bpy module.

Run with the bpy environment: ``.venv-bpy/bin/python engines/blender/bench.py``. Builds and
installs the zip in a temporary BLENDER_USER_RESOURCES, builds the ARKit test rig, then times
(1) decode + apply of one OSC frame (the live path, per timer tick), (2) decode + apply + key
(recording, per frame), (3) importing a 10 s, 60 fps bake into a 24 fps scene.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
log = logging.getLogger("bench")
LONG_TAKE_FRAMES = 12000  # keyed frames: 100 s at 60 keys/s, or more than 8 minutes of a 24 fps scene


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.path.insert(0, str(HERE / "tests"))
    import conftest  # sets BLENDER_USER_RESOURCES to a temporary folder before bpy loads

    with tempfile.TemporaryDirectory() as tmp:
        import bpy
        import test_bpy_addon as t

        zip_path = conftest.load_build_module().build(Path(tmp) / "dist")
        bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default", enable_on_install=True)
        scene = bpy.context.scene
        wire, live, stream_mod = t.sub("_vendor.avatar_wire"), t.sub("blender.live"), t.sub("core.stream")
        face, rig = t.build_rig(scene, wire.ARKIT_NAMES)
        settings = scene.avatar_bridge
        settings.mesh, settings.armature = face, rig
        packets = [t.osc_frame_message(i, i / 60, t.synthetic_values(i / 60, 76)).dgram for i in range(600)]

        writer = t.sub("blender.rig").RigWriter()
        stream = stream_mod.PacketStream("OSC")
        start = time.perf_counter()
        for p in packets:
            (frame,) = stream.decode([p], 0.0)
            live.apply_frame(scene, writer, frame)
        apply_ms = (time.perf_counter() - start) * 1000 / len(packets)

        rig = t.sub("blender.rig")
        rig.fresh_actions(settings, "bench")
        writer, keys = rig.RigWriter(), rig.KeyBuffer()
        long_packets = [
            t.osc_frame_message(i, i / 60, t.synthetic_values(i / 60, 76)).dgram for i in range(LONG_TAKE_FRAMES)
        ]
        record_ms = []  # per block of 600 frames, to see whether the cost grows with the take
        slowest_ms = 0.0  # one frame's cost, a batch write included
        for block in range(0, LONG_TAKE_FRAMES, 600):
            block_start = time.perf_counter()
            for i in range(block, block + 600):
                start = time.perf_counter()
                (frame,) = stream.decode([long_packets[i]], 0.0)
                writer.write(settings, frame)
                writer.key(settings, i + 1, keys)
                if live.write_due(keys.frames, i):
                    keys.write(settings, before=i + 1)
                slowest_ms = max(slowest_ms, (time.perf_counter() - start) * 1000)
            record_ms.append((time.perf_counter() - block_start) * 1000 / 600)
        keys.write(settings)

        bake = t.write_bake(Path(tmp) / "line.jsonl", seconds=10.0)
        start = time.perf_counter()
        result = t.sub("blender.bake_import").import_bake(scene, bake, None, 1)
        import_s = time.perf_counter() - start
    shutil.rmtree(os.environ["BLENDER_USER_RESOURCES"], ignore_errors=True)

    log.info("bpy %s, %d frames, 52 shape keys + 5 bones", bpy.app.version_string, len(packets))
    log.info("live: decode + apply       %.3f ms/frame", apply_ms)
    log.info("record: decode + apply + key %.3f ms/frame (first 600 frames)", record_ms[0])
    last = LONG_TAKE_FRAMES - 600
    log.info("record, frames %d-%d of a long take: %.3f ms/frame", last, LONG_TAKE_FRAMES, record_ms[-1])
    log.info(
        "record, whole take of %d frames: %.3f ms/frame, slowest frame %.1f ms",
        LONG_TAKE_FRAMES,
        sum(record_ms) / len(record_ms),
        slowest_ms,
    )
    log.info("import 10 s bake (600 lines) at 24 fps: %.2f s, %d keys", import_s, result.keys)
    return 0


if __name__ == "__main__":
    sys.exit(main())
