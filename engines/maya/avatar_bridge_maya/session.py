"""One live connection: receive thread, main-thread apply, recording to keys, bake import.

The public functions at the bottom (connect, disconnect, toggle_record, status, import_bake) act
on one module-level session; the menu calls them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from maya import cmds, utils

from .avatar_wire import Frame, SubjectFollower, load_bake_jsonl
from .mapping import Plan, build_plan, load_config
from .maya_scene import MayaScene
from .receiver import CoalescingScheduler, FrameHub, ReceiverError, UdpReceiver, ZmqReceiver
from .timing import SceneClock, drop_strays, fps_from_time_unit, join_restarts, resample, thin_keys

log = logging.getLogger(__name__)

# Default port per format: the OSC target users give the bridge (--osc 127.0.0.1:9000), the
# bridge's default ZeroMQ PUB endpoint, and Unreal's Live Link Face port.
DEFAULT_PORTS = {"osc": 9000, "zmq": 5555, "livelinkface": 11111}
DEFAULT_PORT = DEFAULT_PORTS["osc"]


def write_keys(scene: MayaScene, plan: Plan, frames: list[Frame], clock: SceneClock) -> tuple[int, int]:
    """Key every drive of ``plan`` on each whole scene frame the take covers.

    Returns:
        (first, last) scene frame keyed.

    Raises:
        ValueError: ``frames`` is empty.
    """
    if not frames:
        raise ValueError("no frames to key")
    rows = resample([f.t_s for f in frames], [plan.values(f) for f in frames], clock)
    for i, drive in enumerate(plan.drives):
        scene.set_keys(drive.plug, thin_keys([(frame, values[i]) for frame, values in rows]))
    return rows[0][0], rows[-1][0]


class Session:
    """A receiver bound to a rig.

    Args:
        port, host, fmt: where and what to listen for: "osc" or "livelinkface" on a UDP port, or
            "zmq" (connects to the bridge's PUB socket at tcp://host:port; needs pyzmq).
        subject: apply only this subject's frames (None: the first one heard, and another once it has been
            silent for avatar_wire.TAKEOVER_S; two bridges on one port no longer take turns on the rig and in
            a take).
        mapping_path: JSON mapping file (None: the defaults in mapping.DEFAULT_CONFIG).
        defer: schedules a callable on the main thread (maya.utils.executeDeferred by default).
    """

    def __init__(
        self,
        port: int = DEFAULT_PORT,
        host: str = "127.0.0.1",
        fmt: str = "osc",
        subject: str | None = None,
        mapping_path: str | None = None,
        defer: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        self.subject = subject
        self._follower = SubjectFollower()
        self.ignored = 0  # frames of other subjects
        self.apply_error = ""
        self._closed = False
        self.scene = MayaScene()
        self.plan = build_plan(load_config(mapping_path), self.scene)
        self.hub = FrameHub()
        self._scheduler = CoalescingScheduler(defer or utils.executeDeferred, self.apply_latest)
        self._record_start_frame = 0.0
        if fmt == "zmq":
            self._receiver = ZmqReceiver(self._on_frame, f"tcp://{host}:{port}", subject)
        elif fmt in ("osc", "livelinkface"):
            self._receiver = UdpReceiver(self._on_frame, port, host, fmt)
        else:
            raise ReceiverError(f"unknown format {fmt!r}; expected osc, zmq or livelinkface")
        self._receiver.start()

    def _on_frame(self, frame: Frame) -> None:  # receive thread
        if not self._follower.keeps(frame.subject, time.monotonic(), self.subject or ""):
            self.ignored += 1
            return
        self.hub.push(frame)
        self._scheduler.request()

    def apply_latest(self) -> None:  # main thread
        frame = self.hub.take_newest()
        if frame is None or self._closed:  # an apply queued before close may still run
            return
        try:
            self.scene.set_values(self.plan.evaluate(frame))
        except (RuntimeError, ValueError) as e:  # a driven node deleted or locked since connect (maya.cmds
            # raises RuntimeError for most such failures and ValueError for "No object matches name")
            self.apply_error = str(e)
            log.error("avatar bridge: applying a frame failed, disconnecting: %s", e)
            self.close(restore=False)

    def start_recording(self) -> None:
        self._record_start_frame = self.scene.current_frame()
        self.hub.start_recording()

    def stop_recording(self) -> tuple[int, int] | None:
        """Key the take from the frame where recording started; None if nothing arrived.

        Raises:
            ValueError: a scene time unit this receiver does not know (still recording then, so
                the take is kept for another try).
        """
        fps = fps_from_time_unit(self.scene.time_unit())  # before the frames leave the hub
        frames = self.hub.stop_recording()
        kept = drop_strays([f.t_s for f in frames])
        if len(kept) < len(frames):
            log.warning("avatar bridge: %d frame(s) far ahead of the take's time left out (corrupt packets?)",
                        len(frames) - len(kept))  # fmt: skip
            frames = [frames[i] for i in kept]
        if not frames:
            return None
        times_s, restarts = join_restarts([f.t_s for f in frames])
        if restarts:
            log.warning("avatar bridge: the sender restarted %d time(s) in the take; it goes on after each", restarts)
            frames = [Frame(f.subject, f.seq, t, f.viseme, f.voice, f.names, f.values) for f, t in zip(frames, times_s)]  # noqa: B905
        clock = SceneClock(fps, self._record_start_frame, min(times_s))
        return write_keys(self.scene, self.plan, frames, clock)

    @property
    def following(self) -> str | None:
        return self._follower.following

    @property
    def recording(self) -> bool:
        return self.hub.recording

    @property
    def connected(self) -> bool:
        return self._receiver.alive

    def close(self, restore: bool = True) -> tuple[int, int] | None:
        """Stop receiving; key any take in progress; put driven plugs back to their rest values.

        Closing twice does nothing; plugs whose node was deleted meanwhile are left alone.
        """
        if self._closed:
            return None
        self._closed = True
        self._receiver.stop()
        keyed = self.stop_recording() if self.recording else None
        if restore:
            self.scene.set_values([(p, v) for p, v in self.plan.rest() if self.scene.exists(p.split(".")[0])])
        return keyed

    def status(self) -> str:
        last = self.hub.last
        lines = [
            ("listening: " + self._receiver.description) if self.connected else "not listening",
            f"packets {self._receiver.packets}, frames {self.hub.frames}, applied {self.hub.applied}, "
            f"malformed {self._receiver.errors}",
            f"driving {len(self.plan.drives)} plugs" + ("; recording" if self.recording else ""),
        ]
        if last is not None:
            lines.append(f"last frame: subject {last.subject!r} seq {last.seq} t {last.t_s:.3f} s {last.viseme}")
        if self.ignored:
            lines.append(f"ignored {self.ignored} frames of other subjects (following {self.following!r})")
        if self.plan.missing:
            lines.append("not driven: " + "; ".join(self.plan.missing))
        if self._receiver.last_error:
            lines.append("last malformed packet: " + self._receiver.last_error)
        if self.apply_error:
            lines.append("apply failed: " + self.apply_error)
        return "\n".join(lines)


def import_bake(
    path: str,
    audio_path: str | None = None,
    start_frame: float | None = None,
    mapping_path: str | None = None,
) -> tuple[int, int]:
    """Key a file made by ``avatar-bridge bake`` and place its audio on the timeline.

    Args:
        path: the .jsonl file.
        audio_path: the audio it was made from; None looks for a .wav with the same stem.
        start_frame: scene frame of audio time 0 (None: the playback range's start).
        mapping_path: JSON mapping file (None: defaults).

    Returns:
        (first, last) scene frame keyed; the playback range is set to it.
    """
    scene = MayaScene()
    frames = load_bake_jsonl(path)
    if not frames:
        raise ValueError(f"{os.path.basename(path)} has no frames")
    plan = build_plan(load_config(mapping_path), scene)
    if start_frame is None:
        start_frame = float(cmds.playbackOptions(query=True, minTime=True))
    clock = SceneClock(fps_from_time_unit(scene.time_unit()), start_frame, 0.0)
    first, last = write_keys(scene, plan, frames, clock)
    scene.set_playback_range(min(first, start_frame), last)
    if audio_path is None:
        candidate = os.path.splitext(path)[0] + ".wav"
        audio_path = candidate if os.path.isfile(candidate) else None
    if audio_path is not None:
        scene.place_audio(audio_path, start_frame, "avatarBridgeAudio")
    log.info("avatar bridge: keyed %s on frames %d-%d (%d plugs)", path, first, last, len(plan.drives))
    return first, last


_session: Session | None = None


def connect(
    port: int | None = None,
    host: str = "127.0.0.1",
    fmt: str = "osc",
    subject: str | None = None,
    mapping_path: str | None = None,
) -> Session:
    """Start (or restart) the module's live session (port None: the format's default port)."""
    global _session
    if _session is not None:
        _session.close()
        _session = None
    _session = Session(DEFAULT_PORTS.get(fmt, DEFAULT_PORT) if port is None else port, host, fmt, subject, mapping_path)
    return _session


def disconnect() -> None:
    global _session
    if _session is not None:
        _session.close()
        _session = None


def toggle_record() -> bool:
    """Start recording if not recording, else stop and key the take; returns True while recording.

    Raises:
        RuntimeError: not connected.
    """
    if _session is None:
        raise RuntimeError("avatar bridge: connect first")
    if _session.recording:
        keyed = _session.stop_recording()
        log.info("avatar bridge: recorded %s", f"frames {keyed[0]}-{keyed[1]}" if keyed else "nothing")
        return False
    _session.start_recording()
    return True


def status() -> str:
    return _session.status() if _session is not None else "not connected"


def current() -> Session | None:
    return _session
