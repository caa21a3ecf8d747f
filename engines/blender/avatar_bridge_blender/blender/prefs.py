"""Add-on preferences (Edit > Preferences > Add-ons > Avatar Bridge)."""

from __future__ import annotations

from dataclasses import dataclass

import bpy

# The add-on's module name: "avatar_bridge_blender", or "bl_ext.<repo>.avatar_bridge_blender".
ADDON_ID = __package__.rpartition(".")[0]


@dataclass(frozen=True, slots=True)
class Prefs:
    poll_interval_s: float = 1.0 / 60.0
    max_packets_per_poll: int = 4096


class AvatarBridgePreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    poll_interval_ms: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Poll Interval (ms)",
        min=1,
        max=200,
        default=16,
        description="How often the socket is drained; the newest frame is applied each time",
    )
    max_packets_per_poll: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Max Packets per Poll",
        min=16,
        max=100000,
        default=4096,
        description="Bound on the work one poll does after a stall",
    )

    def draw(self, _context: bpy.types.Context) -> None:
        col = self.layout.column()
        col.prop(self, "poll_interval_ms")
        col.prop(self, "max_packets_per_poll")


def get(context: bpy.types.Context) -> Prefs:
    """The preferences, or defaults when the add-on is registered outside the add-on manager."""
    addon = context.preferences.addons.get(ADDON_ID)
    if addon is None or addon.preferences is None:
        return Prefs()
    p = addon.preferences
    return Prefs(poll_interval_s=p.poll_interval_ms / 1000.0, max_packets_per_poll=p.max_packets_per_poll)
