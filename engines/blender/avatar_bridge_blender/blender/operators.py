"""Operators. Each says why it is disabled: ``disabled_reason`` feeds both poll and execute."""

from __future__ import annotations

import logging
from pathlib import Path

import bpy
from bpy_extras.io_utils import ImportHelper

from .._vendor.avatar_wire import WireError
from ..core.mapping import ARKIT_PROFILE, AXES
from ..core.receiver import is_loopback
from . import live
from .bake_import import audio_beside, import_bake
from .props import AvatarBridgeSettings

log = logging.getLogger(__name__)


class _Validated:
    """Mixin: ``poll`` shows ``disabled_reason`` in the tooltip; execute re-checks it."""

    @classmethod
    def disabled_reason(cls, context: bpy.types.Context) -> str | None:
        return None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        reason = cls.disabled_reason(context)
        if reason is not None:
            cls.poll_message_set(reason)  # type: ignore[attr-defined]
            return False
        return True

    def refuse(self, context: bpy.types.Context) -> bool:
        """Report the disabled reason (if any) and return True when execute must stop."""
        reason = self.disabled_reason(context)
        if reason is not None:
            self.report({"ERROR"}, reason)  # type: ignore[attr-defined]
            return True
        return False


def _settings(context: bpy.types.Context) -> AvatarBridgeSettings | None:
    scene = context.scene
    return None if scene is None else scene.avatar_bridge


def _no_targets(settings: AvatarBridgeSettings) -> str | None:
    if settings.mesh is None and settings.armature is None:
        return "Choose a face mesh or an armature first"
    return None


class AVATARBRIDGE_OT_connect(_Validated, bpy.types.Operator):
    """Listen for frames from avatar-bridge and drive the rig"""

    bl_idname = "avatar_bridge.connect"
    bl_label = "Connect"
    bl_options = {"REGISTER"}

    @classmethod
    def disabled_reason(cls, context: bpy.types.Context) -> str | None:
        settings = _settings(context)
        if settings is None:
            return "No scene"
        if live.current() is not None:
            return "Already connected"
        host = settings.host.strip()
        if not host:
            return "Enter a listen address (127.0.0.1 for a bridge on this computer)"
        if not is_loopback(host) and not bpy.app.online_access:
            return f"Receiving on {host} needs online access (Preferences > System > Network)"
        return None

    def execute(self, context: bpy.types.Context) -> set[str]:
        if self.refuse(context):
            return {"CANCELLED"}
        try:
            link = live.connect(context)
        except OSError as e:
            self.report({"ERROR"}, f"Cannot listen on {context.scene.avatar_bridge.host}: {e}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Listening on {link.receiver.host}:{link.receiver.port}")
        return {"FINISHED"}


class AVATARBRIDGE_OT_disconnect(_Validated, bpy.types.Operator):
    """Stop listening (a running recording stops too)"""

    bl_idname = "avatar_bridge.disconnect"
    bl_label = "Disconnect"
    bl_options = {"REGISTER"}

    @classmethod
    def disabled_reason(cls, context: bpy.types.Context) -> str | None:
        return "Not connected" if live.current() is None else None

    def execute(self, context: bpy.types.Context) -> set[str]:
        if self.refuse(context):
            return {"CANCELLED"}
        live.disconnect()
        return {"FINISHED"}


class AVATARBRIDGE_OT_record_start(_Validated, bpy.types.Operator):
    """Key incoming frames into new actions at the scene frame rate, aligned to audio time"""

    bl_idname = "avatar_bridge.record_start"
    bl_label = "Record"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def disabled_reason(cls, context: bpy.types.Context) -> str | None:
        link = live.current()
        settings = _settings(context)
        if link is None or settings is None:
            return "Connect first"
        if link.recording is not None:
            return "Already recording"
        return _no_targets(settings)

    def execute(self, context: bpy.types.Context) -> set[str]:
        if self.refuse(context):
            return {"CANCELLED"}
        link = live.current()
        if link is not None:
            rec = live.start_recording(context.scene, link)
            self.report({"INFO"}, f"Recording into {', '.join(rec.actions)}")
        return {"FINISHED"}


class AVATARBRIDGE_OT_record_stop(_Validated, bpy.types.Operator):
    """Stop recording"""

    bl_idname = "avatar_bridge.record_stop"
    bl_label = "Stop Recording"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def disabled_reason(cls, context: bpy.types.Context) -> str | None:
        link = live.current()
        return "Not recording" if link is None or link.recording is None else None

    def execute(self, context: bpy.types.Context) -> set[str]:
        if self.refuse(context):
            return {"CANCELLED"}
        link = live.current()
        rec = live.stop_recording(context.scene, link) if link is not None else None
        if rec is not None and rec.keys == 0:
            left_out = rec.strays.dropped + rec.past_end
            why = f"{left_out} frames had impossible times" if left_out else "no frame arrived during the take"
            self.report({"WARNING"}, f"Nothing recorded: {why} (the rig keeps its actions)")
        elif rec is not None:
            self.report({"INFO"}, f"Recorded {rec.keys} keys, frames {rec.first_frame}..{rec.last_frame}")
        return {"FINISHED"}


class AVATARBRIDGE_OT_import_bake(_Validated, bpy.types.Operator, ImportHelper):
    """Import a file made by 'avatar-bridge bake' as actions, with its audio as a sound strip"""

    bl_idname = "avatar_bridge.import_bake"
    bl_label = "Import Bake"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".jsonl"
    filter_glob: bpy.props.StringProperty(default="*.jsonl", options={"HIDDEN"})  # type: ignore[valid-type]
    audio_filepath: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Audio",
        subtype="FILE_PATH",
        description="Audio of the line (empty: the file with the same name beside the bake, if any)",
    )
    start_frame: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Start Frame", default=-1, description="Frame where the audio starts (-1: the scene's start)"
    )

    @classmethod
    def disabled_reason(cls, context: bpy.types.Context) -> str | None:
        settings = _settings(context)
        if settings is None:
            return "No scene"
        if live.current() is not None and live.current().recording is not None:  # type: ignore[union-attr]
            return "Stop recording first"
        return _no_targets(settings)

    def execute(self, context: bpy.types.Context) -> set[str]:
        if self.refuse(context):
            return {"CANCELLED"}
        bake = Path(bpy.path.abspath(self.filepath))
        audio = Path(bpy.path.abspath(self.audio_filepath)) if self.audio_filepath else audio_beside(bake)
        if audio is not None and not audio.is_file():
            self.report({"ERROR"}, f"Audio file not found: {audio}")
            return {"CANCELLED"}
        start = context.scene.frame_start if self.start_frame == -1 else self.start_frame
        try:
            result = import_bake(context.scene, bake, audio, start)
        except (OSError, WireError) as e:
            self.report({"ERROR"}, f"Cannot import {bake.name}: {e}")
            return {"CANCELLED"}
        note = f" + sound {result.sound_strip}" if result.sound_strip else f" (no sound strip: {result.sound_note})"
        self.report(
            {"INFO"},
            f"{result.keys} keys on frames {result.first_frame}..{result.last_frame}{note}",
        )
        if result.missing:
            self.report({"WARNING"}, f"Not driven: {', '.join(result.missing[:8])}")
        return {"FINISHED"}


class AVATARBRIDGE_OT_new_table(bpy.types.Operator):
    """Create a custom mapping table (a text block) prefilled with the ARKit mapping, and use it"""

    bl_idname = "avatar_bridge.new_table"
    bl_label = "New Table"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings: AvatarBridgeSettings = context.scene.avatar_bridge
        text = bpy.data.texts.new("AvatarBridgeMapping")
        lines = ["# shape key = channel*weight + ...   |   @bone_or_role.x|y|z = channel*weight"]
        lines += [f"{r.target} = {r.terms[0].channel}" for r in ARKIT_PROFILE.shapes]
        lines += [
            f"@{r.bone}.{AXES[r.axis]} = " + " + ".join(f"{t.channel}*{t.weight:g}" for t in r.terms)
            for r in ARKIT_PROFILE.bones
        ]
        text.from_string("\n".join(lines) + "\n")
        settings.custom_table = text
        settings.profile = "CUSTOM"
        return {"FINISHED"}
