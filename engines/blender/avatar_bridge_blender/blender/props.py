"""Per-scene settings shown in the sidebar panel (``scene.avatar_bridge``)."""

from __future__ import annotations

import bpy

from ..core.stream import DEFAULT_PORTS


def _is_mesh(_self: bpy.types.PropertyGroup, obj: bpy.types.Object) -> bool:
    return obj.type == "MESH"


def _is_armature(_self: bpy.types.PropertyGroup, obj: bpy.types.Object) -> bool:
    return obj.type == "ARMATURE"


def _protocol_changed(self: AvatarBridgeSettings, _context: bpy.types.Context) -> None:
    self.port = DEFAULT_PORTS[self.protocol]


class AvatarBridgeSettings(bpy.types.PropertyGroup):
    protocol: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Protocol",
        items=(
            ("OSC", "avatar-bridge OSC", "The bridge's own OSC messages (/avatar/v1/*): shapes, joints, EMA"),
            ("LLF", "Live Link Face", "Live Link Face v6 packets: 52 shapes, head and eyes"),
        ),
        default="OSC",
        update=_protocol_changed,
    )
    host: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Listen Address",
        description="Address to receive on; 127.0.0.1 for a bridge on this computer, 0.0.0.0 for any",
        default="127.0.0.1",
    )
    port: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Port", min=1, max=65535, default=DEFAULT_PORTS["OSC"]
    )
    subject: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Subject",
        description="Follow this sender's subject (the bridge's --subject) when several send to the port; "
        "empty: the first one heard",
        default="",
    )
    mesh: bpy.props.PointerProperty(  # type: ignore[valid-type]
        name="Face Mesh", type=bpy.types.Object, poll=_is_mesh, description="Mesh with the shape keys"
    )
    armature: bpy.props.PointerProperty(  # type: ignore[valid-type]
        name="Armature", type=bpy.types.Object, poll=_is_armature, description="Rig with jaw, head, eye, tongue"
    )
    bone_jaw: bpy.props.StringProperty(name="Jaw", default="jaw")  # type: ignore[valid-type]
    bone_head: bpy.props.StringProperty(name="Head", default="head")  # type: ignore[valid-type]
    bone_eye_l: bpy.props.StringProperty(name="Eye L", default="eye.L")  # type: ignore[valid-type]
    bone_eye_r: bpy.props.StringProperty(name="Eye R", default="eye.R")  # type: ignore[valid-type]
    bone_tongue: bpy.props.StringProperty(name="Tongue", default="tongue")  # type: ignore[valid-type]
    profile: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Mapping",
        items=(
            ("ARKIT", "ARKit", "Shape keys named like the 52 ARKit blendshapes"),
            ("VRM", "VRM", "VRM expressions (A I U E O, Blink, Joy... or aa ih ou ee oh, blink, happy...)"),
            ("CUSTOM", "Custom Table", "A text block: 'shapeKey = channel*weight + ...', '@bone.x = ...'"),
        ),
        default="ARKIT",
    )
    custom_table: bpy.props.PointerProperty(  # type: ignore[valid-type]
        name="Table", type=bpy.types.Text, description="Text block with the custom mapping table"
    )
    strength: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Strength", min=0.0, soft_max=2.0, default=1.0, description="Multiplies every value"
    )
    smoothing_s: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Smoothing",
        min=0.0,
        soft_max=0.3,
        default=0.0,
        subtype="TIME_ABSOLUTE",
        unit="TIME_ABSOLUTE",
        description="Time constant of the smoothing filter in seconds (0: off)",
    )
    live: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Live", default=True, description="Apply incoming frames to the rig"
    )
    record_align: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Align",
        items=(
            ("AUDIO", "Audio Time", "Stream time 0 lands on the scene's start frame (sync with the audio file)"),
            ("RECORD", "Record Start", "The first recorded frame lands on the current frame"),
        ),
        default="AUDIO",
    )

    def bone_names(self) -> dict[str, str]:
        """Bone role -> the user's bone name ("" leaves the role undriven)."""
        return {
            "jaw": self.bone_jaw,
            "head": self.bone_head,
            "eye_l": self.bone_eye_l,
            "eye_r": self.bone_eye_r,
            "tongue": self.bone_tongue,
        }
