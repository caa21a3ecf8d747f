"""Registers the classes in order and unregisters them in reverse."""

from __future__ import annotations

import bpy

from . import live
from .operators import (
    AVATARBRIDGE_OT_connect,
    AVATARBRIDGE_OT_disconnect,
    AVATARBRIDGE_OT_import_bake,
    AVATARBRIDGE_OT_new_table,
    AVATARBRIDGE_OT_record_start,
    AVATARBRIDGE_OT_record_stop,
)
from .panel import AVATARBRIDGE_PT_main
from .prefs import AvatarBridgePreferences
from .props import AvatarBridgeSettings

classes: tuple[type, ...] = (
    AvatarBridgePreferences,
    AvatarBridgeSettings,
    AVATARBRIDGE_OT_connect,
    AVATARBRIDGE_OT_disconnect,
    AVATARBRIDGE_OT_record_start,
    AVATARBRIDGE_OT_record_stop,
    AVATARBRIDGE_OT_import_bake,
    AVATARBRIDGE_OT_new_table,
    AVATARBRIDGE_PT_main,
)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.avatar_bridge = bpy.props.PointerProperty(type=AvatarBridgeSettings)
    bpy.app.handlers.save_pre.append(live.write_keys_before_save)
    bpy.app.handlers.load_pre.append(live.disconnect_before_load)


def unregister() -> None:
    live.disconnect()
    if live.write_keys_before_save in bpy.app.handlers.save_pre:
        bpy.app.handlers.save_pre.remove(live.write_keys_before_save)
    if live.disconnect_before_load in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(live.disconnect_before_load)
    del bpy.types.Scene.avatar_bridge
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
