"""Drag this file into a Maya viewport to add the Avatar Bridge menu and a shelf button.

Maya calls onMayaDroppedPythonFile() for a dropped .py file. The shelf button (saved with the
shelf) puts this folder on sys.path and rebuilds the menu in later sessions.
"""

from __future__ import annotations

import os
import sys


def onMayaDroppedPythonFile(*_args: object) -> None:  # Maya looks this name up
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    import avatar_bridge_maya.menu as menu

    menu.install_menu()
    menu.install_shelf_button(here)
