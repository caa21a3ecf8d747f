"""Live loopback: the bridge's own OSC and Live Link Face publishers -> avatar_bridge_receive (the C++ core).

Run by ctest: ``python loopback.py --receiver build/avatar_bridge_receive``. Exit 0 on success, 1 on a
mismatch, 77 (ctest skip) when the bridge package cannot be imported by this Python.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))
try:
    from bridge.frames import ARKIT_NAMES, JOINT_NAMES, AnimationFrame, FacePose
    from bridge.transports.livelinkface import LiveLinkFacePublisher
    from bridge.transports.osc import OscPublisher
except ImportError as e:  # the bridge or its dependencies are not installed for this interpreter
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("loopback").warning("skipped: cannot import the bridge (%s)", e)
    sys.exit(77)

log = logging.getLogger("loopback")

SUBJECT = "loopback"
FPS = 60
PACE_S = 0.002  # keeps a sanitizer-built receiver ahead of the sender on a loaded machine


def make_frame(seq: int) -> AnimationFrame:
    rng = np.random.default_rng(seq)
    pose = FacePose(
        blendshapes=rng.random(52, dtype=np.float32),
        joints=(rng.random(12, dtype=np.float32) - 0.5).astype(np.float32),
        ema=(rng.random(12, dtype=np.float32) * 4 - 2).astype(np.float32),
        visemes=np.full(15, 1 / 15, dtype=np.float32),
        vrm=np.zeros(10, dtype=np.float32),
        viseme=("sil", "aa", "PP", "oh")[seq % 4],
        voice=float(seq % 2),
    )
    t_s = seq / FPS
    return AnimationFrame(seq=seq, t_s=t_s, t_capture_s=t_s, t_publish_s=t_s, fps=FPS, subject=SUBJECT, pose=pose)


def start(receiver: str, frames: int, fmt: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [receiver, "--port", "0", "--frames", str(frames), "--timeout-ms", "20000", "--format", fmt],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    if ready.get("event") != "ready":
        raise RuntimeError(f"receiver did not start: {ready}")
    return proc, int(ready["port"])


def finish(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    out, _ = proc.communicate(timeout=30)
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    if proc.returncode != 0:
        raise RuntimeError(f"receiver exited {proc.returncode}; last events: {events[-2:]}")
    return events


def f32(x: float) -> float:
    return float(np.float32(x))


class Checker:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def equal(self, what: str, got: object, want: object) -> None:
        if got != want:
            self.failures.append(f"{what}: got {got!r}, want {want!r}")

    def close(self, what: str, got: float, want: float, tol: float) -> None:
        if not math.isclose(got, want, abs_tol=tol):
            self.failures.append(f"{what}: got {got!r}, want {want!r}")


def check_osc(receiver: str, check: Checker) -> None:
    n_bundled, n_plain = 30, 30
    garbage = [
        b"",
        b"\x00" * 3,
        b"#bundle\x00" + b"\xff" * 12,
        b"/avatar/v1/frame\x00\x00\x00\x00,sif",
        bytes(range(256)),
    ]
    proc, port = start(receiver, n_bundled + n_plain, "osc")
    junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent: dict[int, AnimationFrame] = {}
    for bundle, seqs in ((True, range(n_bundled)), (False, range(n_bundled, n_bundled + n_plain))):
        publisher = OscPublisher([f"127.0.0.1:{port}"], bundle=bundle)
        for seq in seqs:
            frame = make_frame(seq)
            publisher.send(frame)
            sent[seq] = frame
            if seq % 10 == 5:
                junk.sendto(garbage[(seq // 10) % len(garbage)], ("127.0.0.1", port))
            time.sleep(PACE_S)
        publisher.close()
    junk.close()
    events = finish(proc)

    layouts = [e for e in events if e["event"] == "layout"]
    frames = [e for e in events if e["event"] == "frame"]
    stats = events[-1]
    check.equal("layout announcements", len(layouts), 1)
    want_curves = [n[0].upper() + n[1:] for n in ARKIT_NAMES] + list(JOINT_NAMES)
    check.equal("curve names", layouts[0]["curve_names"][:64], want_curves)
    check.equal("frames received", [f["seq"] for f in frames], list(range(n_bundled + n_plain)))
    # An empty datagram never reaches recv() as data on every kernel, so count only the others.
    check.equal("rejected garbage", stats["rejected_packets"] >= len(garbage) - 1, True)
    for f in frames:
        frame = sent[f["seq"]]
        pose = frame.pose
        check.equal(f"seq {f['seq']} viseme", f["viseme"], pose.viseme)
        check.equal(f"seq {f['seq']} t", f["t"], f32(frame.t_s))
        for i, name in enumerate(ARKIT_NAMES):
            check.equal(f"seq {f['seq']} {name}", f["curves"][name[0].upper() + name[1:]], f32(pose.blendshapes[i]))
        for i, name in enumerate(JOINT_NAMES):
            check.equal(f"seq {f['seq']} {name}", f["curves"][name], f32(pose.joints[i]))
        jaw, yaw = f32(pose.joints[0]), f32(pose.joints[1])
        check.close(f"seq {f['seq']} jaw pitch", f["bones"]["jaw"]["pitch"], -math.degrees(jaw), 1e-6)
        check.close(f"seq {f['seq']} head yaw", f["bones"]["head"]["yaw"], -math.degrees(yaw), 1e-6)
    log.info("osc: %d frames, %d packets, %d rejected", len(frames), stats["packets"], stats["rejected_packets"])


def check_livelinkface(receiver: str, check: Checker) -> None:
    n = 20
    proc, port = start(receiver, n, "livelinkface")
    publisher = LiveLinkFacePublisher([f"127.0.0.1:{port}"])
    frames = [make_frame(seq) for seq in range(n)]
    for frame in frames:
        publisher.send(frame)
        time.sleep(PACE_S)
    publisher.close()
    events = [e for e in finish(proc) if e["event"] == "livelinkface"]
    check.equal("livelinkface packets", len(events), n)
    for frame, e in zip(frames, events, strict=False):
        check.equal("llf subject", e["subject"], SUBJECT)
        check.equal("llf rate", e["rate"], [FPS, 1])
        check.equal(f"llf frame {frame.seq}", e["frame"], frame.seq)
        for i, name in enumerate(ARKIT_NAMES):
            check.equal(
                f"llf {frame.seq} {name}", e["values"][name[0].upper() + name[1:]], f32(frame.pose.blendshapes[i])
            )
        # Head yaw travels as -1..1 with 1 = 90 degrees (schemas/livelinkface.md).
        want_yaw = max(-1.0, min(1.0, f32(frame.pose.joints[1]) / (math.pi / 2)))
        check.close(f"llf {frame.seq} HeadYaw", e["values"]["HeadYaw"], want_yaw, 1e-6)
    log.info("livelinkface: %d packets", len(events))


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receiver", required=True)
    args = parser.parse_args()
    check = Checker()
    check_osc(args.receiver, check)
    check_livelinkface(args.receiver, check)
    for failure in check.failures[:20]:
        log.error("%s", failure)
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
