"""Smoke test of the receiver in real Maya 2022-2025; run with Maya's own interpreter:

    mayapy engines/maya/smoke_test.py          (exit status 0 = every check passed)

It builds a throwaway rig (a sphere with ARKit-named blendShape targets, a jaw joint, six
wav2avatar-style handles with non-zero rest positions), sends OSC frames to itself over UDP
loopback, and checks live apply, rest-pose offsets, recording to keys, bake import with audio and
restore on disconnect. Nothing is saved. No bridge needs to be running.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import struct
import sys
import tempfile
import time
import wave
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
log = logging.getLogger("avatar_bridge_smoke")


def _osc_string(text: str) -> bytes:
    raw = text.encode("utf-8") + b"\x00"
    return raw + b"\x00" * (-len(raw) % 4)


def _osc_frame(seq: int, t_s: float, values: list[float], subject: str = "avatar") -> bytes:
    """An /avatar/v1/frame message, encoded here so the test needs nothing mayapy lacks."""
    tags = ",sifsf" + "f" * len(values)
    body = _osc_string(subject) + struct.pack(">if", seq, t_s) + _osc_string("aa") + struct.pack(">f", 1.0)
    return _osc_string("/avatar/v1/frame") + _osc_string(tags) + body + struct.pack(f">{len(values)}f", *values)


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def check(self, ok: bool, what: str) -> None:
        log.info("%s  %s", "ok  " if ok else "FAIL", what)
        if not ok:
            self.failed.append(what)


def _build_rig(cmds: Any) -> None:
    face = cmds.polySphere(name="face")[0]
    targets = []
    for name in ("jawOpen", "mouthFunnel", "eyeBlinkLeft"):
        target = cmds.duplicate(face, name=name)[0]
        cmds.move(0, -0.2, 0, target + ".vtx[0:20]", relative=True)
        targets.append(target)
    cmds.blendShape(*(targets + [face]), name="face_bs")
    cmds.delete(targets)
    cmds.select(clear=True)
    cmds.joint(name="jaw", position=(0, 0, 0))
    cmds.setAttr("jaw.rotateX", 3.0)
    for i, part in enumerate(("li", "ul", "ll", "tt", "tb", "td")):
        loc = cmds.spaceLocator(name=part + "Handle")[0]
        cmds.setAttr(loc + ".translate", 0.0, float(i), 10.0 + i)


def _wait(predicate: Any, timeout_s: float = 5.0) -> bool:
    deadline = time.time() + timeout_s
    while not predicate() and time.time() < deadline:
        time.sleep(0.01)
    return bool(predicate())


def _write_bake(folder: str) -> str:
    from avatar_bridge_maya.avatar_wire import ARKIT_NAMES

    path = os.path.join(folder, "take.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for i in range(25):
            shapes = dict.fromkeys(ARKIT_NAMES, 0.0)
            shapes["jawOpen"] = i / 24.0
            ema = [0.0] * 12
            ema[1] = -10.0
            f.write(json.dumps({"t": i / 24.0, "blendshapes": shapes, "ema": ema, "viseme": "aa", "voice": 1.0}))
            f.write("\n")
    with wave.open(os.path.join(folder, "take.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * 16000)
    return path


def run(checks: Checks) -> None:
    from maya import cmds, utils

    sys.path.insert(0, HERE)
    from avatar_bridge_maya import session
    from avatar_bridge_maya.avatar_wire import DEFAULT_CHANNELS

    checks.check(True, "mayapy Python " + sys.version.split()[0] + ", Maya " + str(cmds.about(version=True)))
    cmds.file(new=True, force=True)
    cmds.currentUnit(time="film", linear="cm", angle="deg")
    _build_rig(cmds)

    # executeDeferred needs Maya's idle loop, which mayapy does not run: pump a queue here instead.
    queue: list[Any] = []
    s = session.Session(port=0, defer=queue.append)
    checks.check(
        len(s.plan.drives) == 3 + 1 + 12, f"plan drives 3 shapes + jaw + 12 handle axes ({len(s.plan.drives)})"
    )
    port = s._receiver.address[1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(seq: int, t_s: float, jaw: float, li_y_mm: float = 0.0) -> None:
        values = [0.0] * len(DEFAULT_CHANNELS)
        values[DEFAULT_CHANNELS.index("jawOpen")] = jaw
        values[DEFAULT_CHANNELS.index("jaw_open_rad")] = math.radians(10.0) * jaw
        values[DEFAULT_CHANNELS.index("ema_li_y")] = li_y_mm
        sock.sendto(_osc_frame(seq, t_s, values), ("127.0.0.1", port))

    for i in range(10):
        send(i, i / 60.0, jaw=0.1 * i, li_y_mm=-5.0)
    checks.check(_wait(lambda: s.hub.frames == 10), "10 frames received")
    checks.check(len(queue) == 1, f"coalesced to one pending apply ({len(queue)})")
    while queue:
        queue.pop(0)()
    checks.check(abs(cmds.getAttr("face_bs.jawOpen") - 0.9) < 1e-5, "blendShape weight by alias = newest frame")
    checks.check(abs(cmds.getAttr("jaw.rotateX") - (3.0 + 9.0)) < 1e-4, "jaw = rest 3 deg + 9 deg")
    checks.check(abs(cmds.getAttr("liHandle.translateY") - (0.0 - 0.5)) < 1e-5, "liHandle Y = rest 0 cm - 5 mm")
    checks.check(abs(cmds.getAttr("tdHandle.translateZ") - 15.0) < 1e-5, "tdHandle Z keeps its rest 15 cm")

    cmds.currentTime(10)
    s.start_recording()
    for i in range(61):
        send(100 + i, 5.0 + i / 60.0, jaw=i / 60.0)
    checks.check(_wait(lambda: s.hub.frames == 71), "61 more frames received while recording")
    keyed = s.stop_recording()
    checks.check(keyed == (10, 34), f"recorded 1 s onto frames 10-34 at 24 fps ({keyed})")
    times = cmds.keyframe("face_bs", attribute="jawOpen", query=True, timeChange=True) or []
    checks.check(len(times) == 25 and times[0] == 10.0, f"25 jawOpen keys from frame 10 ({len(times)})")
    s.close()

    folder = tempfile.mkdtemp(prefix="avatar_bridge_smoke_")
    cmds.playbackOptions(minTime=101)
    first_last = session.import_bake(_write_bake(folder))
    checks.check(first_last == (101, 125), f"bake keyed on frames 101-125 ({first_last})")
    checks.check(abs(cmds.getAttr("face_bs.jawOpen", time=125) - 1.0) < 1e-5, "bake jawOpen = 1 at frame 125")
    checks.check(abs(cmds.getAttr("liHandle.translateY", time=101) - (-1.0)) < 1e-5, "bake li_y -10 mm = -1 cm")
    sounds = cmds.ls(type="audio") or []
    checks.check(len(sounds) == 1, f"one audio node ({sounds})")
    if sounds:
        checks.check(cmds.getAttr(sounds[0] + ".offset") == 101, "audio placed at frame 101")

    # The real executeDeferred: in mayapy it may run at once or wait for processIdleEvents.
    live = session.connect(port=0)
    sock.sendto(_osc_frame(999, 0.0, [0.0] * len(DEFAULT_CHANNELS)), ("127.0.0.1", live._receiver.address[1]))
    _wait(lambda: live.hub.frames == 1)
    if hasattr(utils, "processIdleEvents"):
        utils.processIdleEvents()
    log.info("info  executeDeferred applied %d of 1 frame in mayapy", live.hub.applied)
    session.disconnect()
    sock.close()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    import maya.standalone

    maya.standalone.initialize(name="python")
    checks = Checks()
    try:
        run(checks)
    finally:
        maya.standalone.uninitialize()
    log.info("%s", "all checks passed" if not checks.failed else f"{len(checks.failed)} checks FAILED")
    return 0 if not checks.failed else 1


if __name__ == "__main__":
    sys.exit(main())
