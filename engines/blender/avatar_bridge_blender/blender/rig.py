"""Writing mapped values to shape keys and pose bones, and keying them (the only bpy writes)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple

import bpy
import numpy as np
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


def bone_rotation(pb: bpy.types.PoseBone, euler_xyz: Sequence[float]) -> tuple[float, ...]:
    """XYZ Euler angles as ``pb``'s rotation property (``rotation_path``) holds them in its mode."""
    q = Euler(euler_xyz, "XYZ").to_quaternion()
    if pb.rotation_mode == "QUATERNION":
        return tuple(q)
    if pb.rotation_mode == "AXIS_ANGLE":
        axis, angle = q.to_axis_angle()
        return (angle, *axis)
    return tuple(q.to_euler(pb.rotation_mode))


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
        self._shapes: list[tuple[str, float]] = []  # the last frame's values, for key()
        self._bones: dict[str, tuple[float, ...]] = {}

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
        if settings.profile != "CUSTOM":
            # The built-in profiles read channels some protocols leave out by design (Live Link Face: no
            # tongue, no EMA); only the rig's own gaps are the user's to fix.
            self.missing = tuple(m for m in self.missing if not m.startswith("channel "))
        if self.missing:
            shown = ", ".join(self.missing[:MAX_MISSING_LISTED])
            more = len(self.missing) - MAX_MISSING_LISTED
            log.warning("not driven (missing): %s%s", shown, f" and {more} more" if more > 0 else "")
        return self._compiled

    def write(self, settings: AvatarBridgeSettings, frame: Frame, apply: bool = True) -> CompiledMapping | None:
        """Work out the rig's pose for ``frame`` (smoothed, times strength) and, with ``apply``, set
        the rig to it; returns the mapping used."""
        compiled = self.compiled(settings, frame.names)
        if compiled is None:
            return None
        self._smoother.time_constant_s = settings.smoothing_s
        values = self._smoother.step(frame.values, frame.t_s)
        strength = settings.strength
        self._shapes, self._bones = [], {}
        if compiled.shape_targets and settings.mesh is not None:
            self._shapes = list(zip(compiled.shape_targets, compiled.shape_values(values, strength), strict=True))
            if apply:
                blocks = settings.mesh.data.shape_keys.key_blocks
                for name, v in self._shapes:
                    blocks[name].value = v
        if compiled.bone_targets and settings.armature is not None:
            pose_bones = settings.armature.pose.bones
            for bone, euler in compiled.bone_eulers(values, strength).items():
                pb = pose_bones[bone]
                self._bones[bone] = bone_rotation(pb, euler)
                if apply:
                    setattr(pb, rotation_path(pb), self._bones[bone])
        return compiled

    def key(self, settings: AvatarBridgeSettings, frame_number: int, keys: KeyBuffer) -> int:
        """Queue a key of every target the last ``write`` posed, at ``frame_number``; returns the targets keyed."""
        channels = [Channel(name, "value", 0, False) for name, _ in self._shapes]
        values = [v for _, v in self._shapes]
        for bone, rotation in self._bones.items():
            path = rotation_path(settings.armature.pose.bones[bone])
            channels += (Channel(bone, path, i, True) for i in range(len(rotation)))
            values.extend(rotation)
        keys.add(frame_number, tuple(channels), values)
        return len(self._shapes) + len(self._bones)


class Channel(NamedTuple):
    """One keyed property: a shape key's ``value`` or one element of a pose bone's rotation."""

    name: str  # the shape key or the bone
    prop: str
    index: int
    bone: bool


class KeyBuffer:
    """Keys waiting to be written, a batch of frames at a time.

    ``keyframe_insert`` recalculates and reallocates the whole curve for every key, so a take's cost
    per scene frame grew with its length (57 shape keys: 6 ms at the start, 31 ms after 5000 frames,
    more than a frame's time at 24-60 fps within minutes). A batch costs one pass over each curve
    here, and recording makes the batches grow with the take (``live.write_due``). Targets are held
    by name and looked up when written, so a mesh or bone deleted meanwhile is skipped, not touched.
    """

    def __init__(self) -> None:
        self._rows: dict[int, tuple[tuple[Channel, ...], list[float]]] = {}

    def add(self, frame_number: int, channels: tuple[Channel, ...], values: list[float]) -> None:
        self._rows[frame_number] = (channels, values)  # a later sample for a frame replaces it

    @property
    def frames(self) -> int:
        """Frames waiting."""
        return len(self._rows)

    def write(self, settings: AvatarBridgeSettings, before: int | None = None) -> None:
        """Write the waiting keys (with ``before``, only those on earlier frames); the rig keeps showing
        the pose it showed before."""
        ready = sorted(f for f in self._rows if before is None or f < before)
        if not ready:  # nothing to write, so no evaluation to pay for (a save or stop with an empty buffer)
            return
        batches: dict[tuple[Channel, ...], list[int]] = {}
        for f in ready:
            batches.setdefault(self._rows[f][0], []).append(f)
        owners = {c: _owner(settings, c) for channels in batches for c in channels}
        shown = [(owner, c, _get(owner, c)) for c, owner in owners.items() if owner is not None]
        for channels, frames in batches.items():
            times = np.array(frames, dtype=np.float32)
            values = np.array([self._rows[f][1] for f in frames], dtype=np.float32)
            for j, channel in enumerate(channels):
                owner = owners[channel]
                if owner is not None:
                    _write_curve(owner, channel, times, values[:, j]).update()  # sorted, handles set
        for f in ready:
            del self._rows[f]
        # Editing keyframe points tags the animation, and its next evaluation copies the curves' values at
        # the playhead into the rig. Evaluate now and put back the live pose, so it never flickers.
        bpy.context.evaluated_depsgraph_get()
        for owner, channel, value in shown:
            _set(owner, channel, value)


def _owner(settings: AvatarBridgeSettings, channel: Channel) -> bpy.types.bpy_struct | None:
    if channel.bone:
        return None if settings.armature is None else settings.armature.pose.bones.get(channel.name)
    keys = None if settings.mesh is None else settings.mesh.data.shape_keys
    return None if keys is None else keys.key_blocks.get(channel.name)


def _get(owner: bpy.types.bpy_struct, channel: Channel) -> float:
    value = getattr(owner, channel.prop)
    return float(value[channel.index] if channel.bone else value)


def _set(owner: bpy.types.bpy_struct, channel: Channel, value: float) -> None:
    if channel.bone:
        getattr(owner, channel.prop)[channel.index] = value
    else:
        setattr(owner, channel.prop, value)


def _fcurve(owner: bpy.types.bpy_struct, channel: Channel) -> bpy.types.FCurve | None:
    anim = owner.id_data.animation_data
    if anim is None or anim.action is None:
        return None
    path = owner.path_from_id(channel.prop)
    if hasattr(anim, "action_slot"):  # Blender 4.4+: slotted actions (5.0 removed Action.fcurves)
        from bpy_extras import anim_utils

        bag = anim_utils.action_get_channelbag_for_slot(anim.action, anim.action_slot)
        return None if bag is None else bag.fcurves.find(path, index=channel.index)
    return anim.action.fcurves.find(path, index=channel.index)


def _write_curve(
    owner: bpy.types.bpy_struct, channel: Channel, times: np.ndarray, values: np.ndarray
) -> bpy.types.FCurve:
    fc = _fcurve(owner, channel)
    if fc is None:  # the first key makes the curve (and the action's slot) the version-independent way
        index, group = (channel.index, channel.name) if channel.bone else (-1, "")
        owner.keyframe_insert(channel.prop, index=index, frame=float(times[0]), group=group)
        fc = _fcurve(owner, channel)
        assert fc is not None, "keyframe_insert makes the curve"
    points = fc.keyframe_points
    n = len(points)
    co = np.empty(2 * n, dtype=np.float32)
    points.foreach_get("co", co)
    old = co.reshape(n, 2)
    new = np.stack([times, values], axis=1)
    # Whole arrays through foreach_get/set: one RNA call per curve instead of one per key (about 3 us
    # each, 0.35 s for a 1500-frame batch).
    if n == 0 or old[-1, 0] < times[0]:
        merged = np.concatenate([old, new])  # a take appends: no search or sort over the whole curve
    else:  # a new key on a frame the curve already has replaces it
        merged = np.concatenate([old[~np.isin(old[:, 0], times)], new])
        merged = merged[np.argsort(merged[:, 0], kind="stable")]
    points.add(len(merged) - n)
    points.foreach_set("co", merged.ravel())
    return fc


def fresh_actions(settings: AvatarBridgeSettings, label: str) -> list[str]:
    """Give the mesh's shape keys and the armature new, empty actions so a take never overwrites
    an earlier one, and keep the actions they had in the file; returns the action names."""
    return [new for new, _ in swap_in_actions(settings, label)]


def swap_in_actions(settings: AvatarBridgeSettings, label: str) -> list[tuple[str, str]]:
    """``fresh_actions``, returning (new action, the action it replaced or "") per target."""
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
        before = ""
        if anim.action is not None:
            # Unassigned, it would have no users and Blender would drop it on save: an earlier take,
            # an imported line or the user's own keys.
            anim.action.use_fake_user = True
            before = anim.action.name
        anim.action = action
        names.append((action.name, before))
    return names


def restore_actions(swapped: list[tuple[str, str]]) -> None:
    """Undo ``swap_in_actions`` for a take that recorded nothing: its empty actions go, and each
    target gets back the action it had."""
    for new, before in swapped:
        action = bpy.data.actions.get(new)
        if action is None:
            continue
        for id_data in (*bpy.data.shape_keys, *bpy.data.objects):
            anim = id_data.animation_data
            if anim is not None and anim.action == action:
                anim.action = bpy.data.actions.get(before) if before else None
        bpy.data.actions.remove(action)
