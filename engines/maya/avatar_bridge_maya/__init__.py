"""avatar-bridge receiver for Maya 2022-2025 (mayapy Python 3.7-3.11), standard library only.

Host-free modules (importable without Maya): avatar_wire (decoding), mapping (channels to plugs,
rest pose), timing (audio time to scene frames), receiver (receive thread, newest-frame hand-off).
Maya modules: maya_scene, session (connect/record/import), menu (menu and shelf button).

In Maya::

    import avatar_bridge_maya.menu
    avatar_bridge_maya.menu.install_menu()
"""

__version__ = "0.1.0"
