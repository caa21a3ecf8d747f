"""The live connection: a non-blocking socket drained by a ``bpy.app.timers`` function.

``pump`` is the timer's body as a plain function (timers never fire in ``blender -b`` or the
bpy module, so tests call it directly). It decodes everything waiting, keys every frame while
recording, and applies only the newest frame to the rig.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import bpy

from .._vendor.avatar_wire import Frame
from ..core.receiver import UdpReceiver
from ..core.stream import PacketStream
from ..core.subjects import SubjectFilter
from ..core.timing import FrameConfig, KeyPicker, StrayGate, nearest_frame
from . import prefs
from .bake_import import MAX_FRAME
from .props import AvatarBridgeSettings
from .rig import KeyBuffer, RigWriter, restore_actions, swap_in_actions

log = logging.getLogger(__name__)

REDRAW_INTERVAL_S = 0.25
WRITE_EVERY_FRAMES = 24  # recorded keys reach the action about once a second (at 24 fps) early in a take,
WRITE_TAKE_FRACTION = 8  # and later every eighth of the take so far (see write_due)
RESTART_S = 0.25  # stream time going back further than this is a new run of the sender, not UDP reordering


@dataclass
class Recording:
    """One take. ``picker`` is created at the first frame when aligning to the record start."""

    align: str
    start_frame: float
    picker: KeyPicker | None
    swapped: list[tuple[str, str]]  # (the take's action, the action it replaced) per target
    keys: int = 0
    first_frame: int | None = None
    last_frame: int | None = None
    last_t_s: float = -math.inf  # the newest stream time, to notice a sender that restarted
    rate_changed: bool = False  # warned that the scene's fps changed mid-take
    buffer: KeyBuffer = field(default_factory=KeyBuffer)
    strays: StrayGate = field(default_factory=StrayGate)
    past_end: int = 0  # frames whose key would land past Blender's last frame, left out

    @property
    def actions(self) -> list[str]:
        return [new for new, _ in self.swapped]


class LiveLink:
    """One open connection: socket, decoder with counters, rig writer, optional recording."""

    def __init__(self, protocol: str, host: str, port: int, interval_s: float, max_packets: int) -> None:
        self.receiver = UdpReceiver(host, port)
        self.stream = PacketStream(protocol)
        self.subjects = SubjectFilter()
        self.writer = RigWriter()
        self.interval_s = interval_s
        self.max_packets = max_packets
        self.recording: Recording | None = None
        self.newest: Frame | None = None
        self._last_redraw_s = 0.0

    def close(self) -> None:
        self.receiver.close()


_link: LiveLink | None = None


def current() -> LiveLink | None:
    """The open connection, if any."""
    return _link


def connect(context: bpy.types.Context) -> LiveLink:
    """Open the socket from the scene's settings and start the timer.

    Raises:
        OSError: the address cannot be bound.
    """
    global _link
    disconnect()
    settings: AvatarBridgeSettings = context.scene.avatar_bridge
    p = prefs.get(context)
    _link = LiveLink(settings.protocol, settings.host.strip(), settings.port, p.poll_interval_s, p.max_packets_per_poll)
    if not bpy.app.timers.is_registered(timer_tick):
        bpy.app.timers.register(timer_tick, first_interval=0.0, persistent=True)
    return _link


def disconnect() -> None:
    """Stop the timer, end a take in progress and close the socket (no-op when not connected)."""
    global _link
    if bpy.app.timers.is_registered(timer_tick):
        bpy.app.timers.unregister(timer_tick)
    if _link is not None:
        stop_recording(bpy.context.scene, _link)
        _link.close()
        _link = None


@bpy.app.handlers.persistent
def write_keys_before_save(*_args: object) -> None:
    """``save_pre`` handler: a file saved during a take holds every key recorded so far."""
    if _link is not None and _link.recording is not None:
        _link.recording.buffer.write(bpy.context.scene.avatar_bridge)


@bpy.app.handlers.persistent
def disconnect_before_load(*_args: object) -> None:
    """``load_pre`` handler: the take and the connection belong to the file being closed; without
    this, frames would go on being keyed into whatever file is opened, onto its objects of the same name."""
    if _link is not None:
        log.info("another file is being opened: ending the take and disconnecting")
        disconnect()


def timer_tick() -> float | None:
    """``bpy.app.timers`` callback: one poll, then the next interval (None stops the timer)."""
    link = _link
    if link is None:
        return None
    pump(bpy.context.scene, link)
    now_s = time.monotonic()
    if now_s - link._last_redraw_s > REDRAW_INTERVAL_S:
        link._last_redraw_s = now_s
        _redraw_sidebars()
    return link.interval_s


def pump(scene: bpy.types.Scene, link: LiveLink, now_s: float | None = None) -> list[Frame]:
    """Drain the socket, key every frame while recording, apply the newest; returns the frames."""
    now_s = time.monotonic() if now_s is None else now_s
    settings: AvatarBridgeSettings = scene.avatar_bridge
    decoded = link.stream.decode(link.receiver.drain(link.max_packets), now_s)
    frames = link.subjects.keep(decoded, now_s, settings.subject.strip())
    if not frames:
        return frames
    if link.recording is not None:
        for frame in frames:
            record_frame(scene, link, frame)
    elif settings.live:
        apply_frame(scene, link.writer, frames[-1])
    link.newest = frames[-1]
    return frames


def apply_frame(scene: bpy.types.Scene, writer: RigWriter, frame: Frame) -> bool:
    """Set the scene's target rig to ``frame``; False when no mapping could be built."""
    return writer.write(scene.avatar_bridge, frame) is not None


def start_recording(scene: bpy.types.Scene, link: LiveLink) -> Recording:
    settings: AvatarBridgeSettings = scene.avatar_bridge
    swapped = swap_in_actions(settings, "AvatarBridgeTake")
    align = settings.record_align
    start = float(scene.frame_start)
    picker = KeyPicker(scene_frame_config(scene, start)) if align == "AUDIO" else None
    link.recording = Recording(align=align, start_frame=start, picker=picker, swapped=swapped)
    link.writer.reset()
    log.info("recording into %s", ", ".join(link.recording.actions) or "nothing (no targets)")
    return link.recording


def stop_recording(scene: bpy.types.Scene, link: LiveLink) -> Recording | None:
    rec, link.recording = link.recording, None
    if rec is not None and rec.keys == 0:
        restore_actions(rec.swapped)  # an empty take leaves the rig with the actions it had
        log.info("nothing recorded: no frame was keyed during the take")
    elif rec is not None:
        rec.buffer.write(scene.avatar_bridge)
        log.info("recorded %d keys on frames %s..%s", rec.keys, rec.first_frame, rec.last_frame)
    return rec


def record_frame(scene: bpy.types.Scene, link: LiveLink, frame: Frame) -> None:
    """Key ``frame`` on the scene frame its stream time falls on (and show it when Live is on)."""
    rec = link.recording
    if rec is None:
        return
    if not rec.strays.accept(frame.t_s):
        log.warning("a frame at stream time %.2f s, far ahead of the take's %.2f s, was left out (a corrupt "
                    "packet?)", frame.t_s, rec.last_t_s)  # fmt: skip
        return
    restarted = rec.last_t_s - frame.t_s > RESTART_S
    if rec.picker is None:
        # Align to the record start: this first frame's time lands on the current frame.
        cfg = scene_frame_config(scene, float(scene.frame_current))
        rec.start_frame = cfg.start_frame - frame.t_s * cfg.rate_hz
        rec.picker = KeyPicker(FrameConfig(cfg.fps, cfg.fps_base, rec.start_frame))
    elif restarted and rec.last_frame is not None:
        # The sender restarted, and its clock with it: the take goes on after the frames it has,
        # instead of the new run landing on (and losing to) the old one.
        cfg = rec.picker.cfg
        rec.picker = KeyPicker(FrameConfig(cfg.fps, cfg.fps_base, rec.last_frame + 1 - frame.t_s * cfg.rate_hz))
        log.warning(
            "stream time went back from %.2f to %.2f s (the sender restarted): the take goes on at frame %d",
            rec.last_t_s, frame.t_s, rec.last_frame + 1,
        )  # fmt: skip
    rec.last_t_s = frame.t_s if restarted else max(rec.last_t_s, frame.t_s)
    take_rate = (rec.picker.cfg.fps, rec.picker.cfg.fps_base)
    if not rec.rate_changed and (scene.render.fps, scene.render.fps_base) != take_rate:
        rec.rate_changed = True
        log.warning("the scene's frame rate changed during the take: its keys stay on %d/%g fps frames", *take_rate)
    compiled = link.writer.write(scene.avatar_bridge, frame, apply=scene.avatar_bridge.live)
    if abs(nearest_frame(frame.t_s, rec.picker.cfg)) > MAX_FRAME:
        if not rec.past_end:
            log.warning("stream time %.2f s lands past Blender's last frame (%d): such frames are left out",
                        frame.t_s, MAX_FRAME)  # fmt: skip
        rec.past_end += 1
        return
    frame_number = rec.picker.offer(frame.t_s)
    if compiled is None or frame_number is None:
        return
    rec.keys += link.writer.key(scene.avatar_bridge, frame_number, rec.buffer)
    first = frame_number if rec.first_frame is None else min(rec.first_frame, frame_number)
    last = frame_number if rec.last_frame is None else max(rec.last_frame, frame_number)
    rec.first_frame, rec.last_frame = first, last
    if write_due(rec.buffer.frames, last - first):
        rec.buffer.write(scene.avatar_bridge, before=last)  # the newest frame may still get a closer sample


def write_due(waiting_frames: int, take_frames: int) -> bool:
    """Whether a take's waiting keys should go into its actions now.

    Each write costs a pass over the whole curves (their handles, and Blender copying the action to
    evaluate it), so writing at a fixed rate would cost more per frame the longer the take; batches
    that grow with the take keep the cost per frame flat.
    """
    return waiting_frames >= max(WRITE_EVERY_FRAMES, take_frames // WRITE_TAKE_FRACTION)


def scene_frame_config(scene: bpy.types.Scene, start_frame: float) -> FrameConfig:
    return FrameConfig(fps=scene.render.fps, fps_base=scene.render.fps_base, start_frame=start_frame)


def _redraw_sidebars() -> None:
    wm = bpy.context.window_manager
    if wm is None:
        return
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()
