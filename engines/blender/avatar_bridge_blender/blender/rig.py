"""Writing mapped values to shape keys and pose bones, and keying them (the only bpy writes)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

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

    def key(self, settings: AvatarBridgeSettings, compiled: CompiledMapping, frame_number: int, keys: KeyBuffer) -> int:
        """Queue a key of every driven target at ``frame_number`` (its current value); returns the targets keyed."""
        keyed = 0
        if compiled.shape_targets and settings.mesh is not None:
            blocks = settings.mesh.data.shape_keys.key_blocks
            for name in compiled.shape_targets:
                block = blocks[name]
                keys.add(Channel(block, "value", 0, ""), frame_number, block.value)
                keyed += 1
        if compiled.bone_targets and settings.armature is not None:
            pose_bones = settings.armature.pose.bones
            for bone in dict.fromkeys(b for b, _ in compiled.bone_targets):
                pb = pose_bones[bone]
                path = rotation_path(pb)
                for index, value in enumerate(getattr(pb, path)):
                    keys.add(Channel(pb, path, index, bone), frame_number, value)
                keyed += 1
        return keyed


@dataclass(frozen=True)
class Channel:
    """One keyed property: the struct that owns it, the property, its array index, the F-curve group."""

    owner: bpy.types.bpy_struct
    prop: str
    index: int
    group: str


class KeyBuffer:
    """Keys waiting to be written, a whole F-curve at a time.

    ``keyframe_insert`` recalculates and reallocates the whole curve for every key, so a take's cost
    per scene frame grew with its length (57 shape keys: 6 ms at the start, 31 ms after 5000 frames,
    more than a frame's time at 24-60 fps within minutes). Writing many keys per curve with
    ``keyframe_points.add`` and ``foreach_set`` costs one pass over the curve.
    """

    def __init__(self) -> None:
        self._keys: dict[Channel, dict[int, float]] = {}

    def add(self, channel: Channel, frame_number: int, value: float) -> None:
        self._keys.setdefault(channel, {})[frame_number] = value  # a later value for a frame replaces it

    @property
    def frames(self) -> int:
        """The most frames any channel has waiting."""
        return max((len(k) for k in self._keys.values()), default=0)

    def write(self, before: int | None = None) -> None:
        """Write the waiting keys; with ``before``, only those on earlier frames, and the curves' handles
        are left for the last write (recalculating them costs a pass over the whole curve)."""
        for channel, keys in self._keys.items():
            ready = {f: v for f, v in keys.items() if before is None or f < before}
            if ready:
                _write_curve(channel, ready)
                for f in ready:
                    del keys[f]
            if before is None:
                fc = _fcurve(channel)
                if fc is not None:
                    fc.update()  # sorted, and the handles of the new keys set as keyframe_insert sets them


def _fcurve(channel: Channel) -> bpy.types.FCurve | None:
    anim = channel.owner.id_data.animation_data
    if anim is None or anim.action is None:
        return None
    path = channel.owner.path_from_id(channel.prop)
    if hasattr(anim, "action_slot"):  # Blender 4.4+: slotted actions (5.0 removed Action.fcurves)
        from bpy_extras import anim_utils

        bag = anim_utils.action_get_channelbag_for_slot(anim.action, anim.action_slot)
        return None if bag is None else bag.fcurves.find(path, index=channel.index)
    return anim.action.fcurves.find(path, index=channel.index)


def _write_curve(channel: Channel, keys: dict[int, float]) -> None:
    fc = _fcurve(channel)
    if fc is None:  # the first key makes the curve (and the action's slot) the version-independent way
        channel.owner.keyframe_insert(channel.prop, frame=min(keys), group=channel.group)
        fc = _fcurve(channel)
        assert fc is not None, "keyframe_insert makes the curve"
    points = fc.keyframe_points
    n = len(points)
    new = sorted(keys.items())
    if n and new[0][0] > points[n - 1].co[0]:
        # The usual case while recording: keys after the curve's end. Touch only them, so a write costs
        # the same late in a long take as at its start.
        points.add(len(new))
        for k, (f, v) in enumerate(new, start=n):
            points[k].co = (f, v)
    else:
        co = [0.0] * (2 * n)
        points.foreach_get("co", co)
        merged = dict(zip(co[0::2], co[1::2], strict=True))
        merged.update((float(f), v) for f, v in new)
        frames = sorted(merged)
        points.add(len(frames) - n)
        points.foreach_set("co", [x for f in frames for x in (f, merged[f])])


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
