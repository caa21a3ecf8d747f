"""The sidebar panel (3D Viewport > N > Avatar)."""

from __future__ import annotations

import time

import bpy

from . import live
from .props import AvatarBridgeSettings
from .rig import MAX_MISSING_LISTED


class AVATARBRIDGE_PT_main(bpy.types.Panel):
    bl_label = "Avatar Bridge"
    bl_idname = "AVATARBRIDGE_PT_main"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Avatar"

    def draw(self, context: bpy.types.Context) -> None:
        settings: AvatarBridgeSettings = context.scene.avatar_bridge
        link = live.current()
        layout = self.layout

        box = layout.box()
        col = box.column(align=True)
        col.enabled = link is None
        col.prop(settings, "protocol", text="")
        row = col.row(align=True)
        row.prop(settings, "host", text="")
        row.prop(settings, "port", text="")
        box.prop(settings, "subject")
        if link is None:
            box.operator("avatar_bridge.connect", icon="LINKED")
        else:
            box.operator("avatar_bridge.disconnect", icon="UNLINKED")
            _draw_status(box, link)

        col = layout.column()
        col.prop(settings, "mesh")
        col.prop(settings, "armature")
        if settings.armature is not None:
            sub = col.column(align=True)
            for role in ("bone_jaw", "bone_head", "bone_eye_l", "bone_eye_r", "bone_tongue"):
                sub.prop_search(settings, role, settings.armature.pose, "bones")

        col = layout.column()
        row = col.row(align=True)
        row.prop(settings, "profile")
        if settings.profile == "CUSTOM":
            row = col.row(align=True)
            row.prop(settings, "custom_table")
            row.operator("avatar_bridge.new_table", text="", icon="ADD")
        col.prop(settings, "strength", slider=True)
        col.prop(settings, "smoothing_s")
        col.prop(settings, "live")

        if link is not None:
            _draw_problems(layout, link)

        box = layout.box()
        box.prop(settings, "record_align")
        if link is not None and link.recording is not None:
            box.operator("avatar_bridge.record_stop", icon="SNAP_FACE")
            box.label(text=f"Recording: {link.recording.keys} keys")
        else:
            box.operator("avatar_bridge.record_start", icon="REC")
        layout.operator("avatar_bridge.import_bake", icon="IMPORT")


def _draw_status(layout: bpy.types.UILayout, link: live.LiveLink) -> None:
    now_s = time.monotonic()
    stream = link.stream
    age_s = stream.last_frame_age_s(now_s)
    col = layout.column(align=True)
    col.label(text=f"{link.receiver.host}:{link.receiver.port}  {stream.frames_per_s(now_s):.0f} frames/s")
    col.label(text="No frame yet" if age_s is None else f"Last frame {age_s * 1000.0:.0f} ms ago")
    if link.newest is not None:
        col.label(text=f"{link.newest.subject or 'subject'}  t {link.newest.t_s:.2f} s  {link.newest.viseme}")
    ignored = link.subjects.ignored
    if ignored:
        names = ", ".join(list(ignored)[-3:]) + (" ..." if len(ignored) > 3 else "")
        col.label(text=f"Ignoring other subjects: {names} (set Subject to follow one)", icon="INFO")
    if link.recording is not None and (link.recording.strays.dropped or link.recording.past_end):
        left = link.recording.strays.dropped + link.recording.past_end
        col.label(text=f"{left} frames with impossible times left out of the take", icon="ERROR")
    if stream.malformed:
        col.label(text=f"{stream.malformed} malformed packets ignored", icon="ERROR")
        if stream.frames == 0 and stream.last_error:
            other = "Live Link Face" if stream.protocol == "OSC" else "avatar-bridge OSC"
            col.label(text=f"Wrong protocol? ({stream.last_error}); try {other}", icon="ERROR")
    if stream.lost:
        col.label(text=f"{stream.lost} frames lost on the way", icon="ERROR")
    if stream.frames == 0 and stream.foreign:
        col.label(text="Packets of another protocol (VMC?): use the bridge's --osc", icon="ERROR")


def _draw_problems(layout: bpy.types.UILayout, link: live.LiveLink) -> None:
    writer = link.writer
    if writer.table_error:
        layout.label(text=writer.table_error, icon="ERROR")
    if writer.missing:
        col = layout.box().column(align=True)
        col.label(text=f"Not driven ({len(writer.missing)} missing):", icon="INFO")
        for name in writer.missing[:MAX_MISSING_LISTED]:
            col.label(text=name)
        if len(writer.missing) > MAX_MISSING_LISTED:
            col.label(text=f"... and {len(writer.missing) - MAX_MISSING_LISTED} more")
