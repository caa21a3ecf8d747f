"""Avatar Bridge for Blender: live shape keys and bones from avatar-bridge, record, import bakes.

Importing this package has no side effects and does not import bpy: ``core`` runs in plain
Python (tests, other hosts); Blender calls ``register``/``unregister``.
"""

from __future__ import annotations


def register() -> None:
    from .blender import registration

    registration.register()


def unregister() -> None:
    from .blender import registration

    registration.unregister()
