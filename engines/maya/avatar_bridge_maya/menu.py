"""The "Avatar Bridge" main-menu entry and shelf button: connect, disconnect, record, status, import.

Settings (port, subject, mapping file) persist in Maya optionVars.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from maya import cmds

from . import session

log = logging.getLogger(__name__)

MENU = "avatarBridgeMenu"
_FORMAT_VAR = "avatarBridgeFormat"
_PORT_VAR = "avatarBridgePort"
_SUBJECT_VAR = "avatarBridgeSubject"
_MAPPING_VAR = "avatarBridgeMapping"


def _option(name: str, default: object) -> object:
    return cmds.optionVar(query=name) if cmds.optionVar(exists=name) else default


def _message(text: str) -> None:
    log.info("avatar bridge: %s", text)
    if not cmds.about(batch=True):
        cmds.inViewMessage(assistMessage=text, position="topCenter", fade=True)


def _reported(command: Callable[..., None]) -> Callable[..., None]:
    """A menu command whose failure (a port in use, a broken bake, Record before Connect) shows as
    one warning line, not a traceback in the Script Editor."""

    @functools.wraps(command)
    def run(*args: object) -> None:
        try:
            command(*args)
        except Exception as e:  # noqa: BLE001 (the menu is this adapter's outermost layer, like a CLI)
            log.debug("avatar bridge: %s failed", command.__name__, exc_info=True)
            text = str(e) if str(e).startswith("avatar bridge") else f"avatar bridge: {e}"
            cmds.warning(text)
            if not cmds.about(batch=True):
                cmds.inViewMessage(assistMessage=text, position="topCenter", fade=True)

    return run


@_reported
def connect(*_: object) -> None:
    """Connect with the stored settings (menu callbacks receive a checkbox state; ignored)."""
    fmt = str(_option(_FORMAT_VAR, "osc"))
    port = int(str(_option(_PORT_VAR, session.DEFAULT_PORTS.get(fmt, session.DEFAULT_PORT))))
    subject = str(_option(_SUBJECT_VAR, "")) or None
    mapping = str(_option(_MAPPING_VAR, "")) or None
    s = session.connect(port=port, fmt=fmt, subject=subject, mapping_path=mapping)
    _message(s.status().splitlines()[0] + f", driving {len(s.plan.drives)} plugs")


@_reported
def disconnect(*_: object) -> None:
    session.disconnect()
    _message("disconnected")


@_reported
def toggle_record(*_: object) -> None:
    recording = session.toggle_record()
    _message("recording" if recording else "recording stopped, keys written")


@_reported
def show_status(*_: object) -> None:
    text = session.status()
    log.info("avatar bridge status:\n%s", text)
    if not cmds.about(batch=True):
        cmds.confirmDialog(title="Avatar Bridge", message=text, button=["OK"])


@_reported
def settings(*_: object) -> None:
    """Ask for the format, port, subject filter and mapping file."""
    fmt = str(_option(_FORMAT_VAR, "osc"))
    port = _option(_PORT_VAR, session.DEFAULT_PORTS.get(fmt, session.DEFAULT_PORT))
    subject = _option(_SUBJECT_VAR, "")
    mapping = _option(_MAPPING_VAR, "")
    answer = cmds.promptDialog(
        title="Avatar Bridge settings",
        message="FORMAT (osc, zmq, livelinkface) PORT SUBJECT (- = any) MAPPING.json (- = defaults):",
        text=f"{fmt} {port} {subject or '-'} {mapping or '-'}",
        button=["OK", "Cancel"],
        defaultButton="OK",
        cancelButton="Cancel",
    )
    if answer != "OK":
        return
    fields = str(cmds.promptDialog(query=True, text=True)).split(None, 3)
    ok = len(fields) == 4 and fields[0] in session.DEFAULT_PORTS and fields[1].isdigit()
    if not ok or not 0 < int(fields[1]) < 65536:
        cmds.warning("avatar bridge: expected 'FORMAT PORT SUBJECT MAPPING', e.g. 'osc 9000 - -'")
        return
    cmds.optionVar(stringValue=(_FORMAT_VAR, fields[0]))
    cmds.optionVar(intValue=(_PORT_VAR, int(fields[1])))
    cmds.optionVar(stringValue=(_SUBJECT_VAR, "" if fields[2] == "-" else fields[2]))
    cmds.optionVar(stringValue=(_MAPPING_VAR, "" if fields[3] == "-" else fields[3]))


@_reported
def import_bake_dialog(*_: object) -> None:
    paths = cmds.fileDialog2(fileFilter="avatar-bridge bake (*.jsonl)", fileMode=1, caption="Import bake")
    if not paths:
        return
    mapping = str(_option(_MAPPING_VAR, "")) or None
    first, last = session.import_bake(paths[0], mapping_path=mapping)
    _message(f"keyed frames {first}-{last}")


def install_menu() -> str:
    """Create (or rebuild) the Avatar Bridge menu in Maya's main window; returns its name."""
    if cmds.menu(MENU, exists=True):
        cmds.deleteUI(MENU)
    menu = cmds.menu(MENU, label="Avatar Bridge", parent="MayaWindow", tearOff=True)
    cmds.menuItem(label="Connect", command=connect, parent=menu)
    cmds.menuItem(label="Disconnect", command=disconnect, parent=menu)
    cmds.menuItem(label="Record / Stop", command=toggle_record, parent=menu)
    cmds.menuItem(label="Status", command=show_status, parent=menu)
    cmds.menuItem(divider=True, parent=menu)
    cmds.menuItem(label="Import bake...", command=import_bake_dialog, parent=menu)
    cmds.menuItem(label="Settings...", command=settings, parent=menu)
    return str(menu)


def install_shelf_button(package_dir: str) -> str:
    """Add a button to the current shelf that puts ``package_dir`` on sys.path and builds the menu."""
    from maya import mel  # the current shelf's parent lives in a MEL global

    shelf_parent = mel.eval("$avatarBridgeTmp = $gShelfTopLevel")
    shelf = cmds.tabLayout(shelf_parent, query=True, selectTab=True)
    command = (
        "import sys\n"
        f"sys.path.insert(0, {package_dir!r}) if {package_dir!r} not in sys.path else None\n"
        "import avatar_bridge_maya.menu as m\n"
        "m.install_menu()\n"
        "m.connect()\n"
    )
    return str(
        cmds.shelfButton(
            parent=shelf,
            label="AvatarBridge",
            imageOverlayLabel="AB",
            image="commandButton.png",
            annotation="Avatar Bridge: build the menu and connect",
            sourceType="python",
            command=command,
        )
    )
