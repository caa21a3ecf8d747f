"""Writing mapped values to shape keys and pose bones, and keying them (the only bpy writes)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import bpy
from mathutils import Euler

from .._vendor.avatar_wire import Frame
from ..core.mapping import BUILTIN_PROFILES, CompiledMapping, MappingError, Profile, compile_profile, parse_table
from ..core.smoothing import Smoother
from .props import AvatarBridgeSettings

log = logging.getLogger(__name__)

MAX_MISSING_LISTED = 12


def shape_key_names(mesh: bpy.types.Object | None) -> tuple[str, ...]:
    if mesh is None or mesh.data.shape_keys is None:
        return ()
    return tuple(kb.name for kb in mesh.data.shape_keys.key_blocks)


def bone_names(armature: bpy.types.Object | None) -> tuple[str, ...]:
    if armature is None or armature.pose is None:
        return ()
    return tuple(pb.name for pb in armature.pose.bones)


def rotation_path(pb: bpy.types.PoseBone) -> str:
    if pb.rotation_mode == "QUATERNION":
        return "rotation_quaternion"
    if pb.rotation_mode == "AXIS_ANGLE":
        return "rotation_axis_angle"
    return "rotation_euler"


def set_bone_rotation(pb: bpy.types.PoseBone, euler_xyz: Sequence[float]) -> None:
    """Set ``pb``'s rotation from XYZ Euler angles in whatever rotation mode the rig uses."""
    q = Euler(euler_xyz, "XYZ").to_quaternion()
    if pb.rotation_mode == "QUATERNION":
        pb.rotation_quaternion = q
    elif pb.rotation_mode == "AXIS_ANGLE":
        axis, angle = q.to_axis_angle()
        pb.rotation_axis_angle = (angle, *axis)
    else:
        pb.rotation_euler = q.to_euler(pb.rotation_mode)


class RigWriter:
    """Applies frames to the scene's targets through the selected mapping profile.

    The compiled mapping is cached on everything it depends on (profile, table text, rig
    contents, the frame's channel names), so editing the rig or the table takes effect on the
    next frame. Missing targets are logged once per distinct mapping and kept in ``missing``
    for the panel; nothing here raises for a rig that lacks something.
    """

    def __init__(self) -> None:
        self.missing: tuple[str, ...] = ()
        self.table_error = ""
        self._key: tuple[object, ...] | None = None
        self._compiled: CompiledMapping | None = None
        self._smoother = Smoother(0.0)

    def reset(self) -> None:
        self._smoother.reset()

    def profile(self, settings: AvatarBridgeSettings) -> Profile | None:
        if settings.profile != "CUSTOM":
            return BUILTIN_PROFILES[settings.profile]
        text = settings.custom_table
        if text is None:
            self.table_error = "choose a text block for the custom table"
            return None
        try:
            profile = parse_table(text.as_string(), name=text.name)
        except MappingError as e:
            self.table_error = f"{text.name}: {e}"
            return None
        self.table_error = ""
        return profile

    def compiled(self, settings: AvatarBridgeSettings, channel_names: tuple[str, ...]) -> CompiledMapping | None:
        table = settings.custom_table.as_string() if settings.profile == "CUSTOM" and settings.custom_table else ""
        keys = shape_key_names(settings.mesh)
        bones = bone_names(settings.armature)
        roles = settings.bone_names()
        cache_key = (settings.profile, table, keys, bones, tuple(roles.items()), channel_names)
        if cache_key == self._key:
            return self._compiled
        self._key = cache_key
        profile = self.profile(settings)
        if profile is None:
            self._compiled = None
            self.missing = ()
            log.warning("mapping unusable: %s", self.table_error)
            return None
        if settings.mesh is None:
            profile = Profile(profile.name, (), profile.bones)
        if settings.armature is None:
            profile = Profile(profile.name, profile.shapes, ())
        self._compiled = compile_profile(profile, channel_names, keys, bones, roles)
        self.missing = self._compiled.missing
        if self.missing:
            shown = ", ".join(self.missing[:MAX_MISSING_LISTED])
            more = len(self.missing) - MAX_MISSING_LISTED
            log.warning("not driven (missing): %s%s", shown, f" and {more} more" if more > 0 else "")
        return self._compiled

    def write(self, settings: AvatarBridgeSettings, frame: Frame) -> CompiledMapping | None:
        """Set the rig to ``frame`` (smoothed, times strength); returns the mapping used."""
        compiled = self.compiled(settings, frame.names)
        if compiled is None:
            return None
        self._smoother.time_constant_s = settings.smoothing_s
        values = self._smoother.step(frame.values, frame.t_s)
        strength = settings.strength
        if compiled.shape_targets and settings.mesh is not None:
            blocks = settings.mesh.data.shape_keys.key_blocks
            for name, v in zip(compiled.shape_targets, compiled.shape_values(values, strength), strict=True):
                blocks[name].value = v
        if compiled.bone_targets and settings.armature is not None:
            pose_bones = settings.armature.pose.bones
            for bone, euler in compiled.bone_eulers(values, strength).items():
                set_bone_rotation(pose_bones[bone], euler)
        return compiled

    def key(self, settings: AvatarBridgeSettings, compiled: CompiledMapping, frame_number: int) -> int:
        """Keyframe every driven target at ``frame_number``; returns the number of keys inserted.

        ``keyframe_insert`` works with Blender 4.4+ slotted actions (5.0 removed Action.fcurves).
        """
        inserted = 0
        if compiled.shape_targets and settings.mesh is not None:
            blocks = settings.mesh.data.shape_keys.key_blocks
            for name in compiled.shape_targets:
                inserted += bool(blocks[name].keyframe_insert("value", frame=frame_number))
        if compiled.bone_targets and settings.armature is not None:
            pose_bones = settings.armature.pose.bones
            for bone in dict.fromkeys(b for b, _ in compiled.bone_targets):
                pb = pose_bones[bone]
                inserted += bool(pb.keyframe_insert(rotation_path(pb), frame=frame_number, group=bone))
        return inserted


def fresh_actions(settings: AvatarBridgeSettings, label: str) -> list[str]:
    """Give the mesh's shape keys and the armature new, empty actions so a take never overwrites
    an earlier one; returns the action names."""
    names = []
    targets: list[bpy.types.ID] = []
    if settings.mesh is not None and settings.mesh.data.shape_keys is not None:
        targets.append(settings.mesh.data.shape_keys)
    if settings.armature is not None:
        targets.append(settings.armature)
    for id_data in targets:
        owner = settings.mesh.name if isinstance(id_data, bpy.types.Key) else id_data.name
        action = bpy.data.actions.new(f"{owner}_{label}")
        anim = id_data.animation_data or id_data.animation_data_create()
        anim.action = action
        names.append(action.name)
    return names
