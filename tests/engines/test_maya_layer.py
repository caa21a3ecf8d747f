"""The Maya layer (session, maya_scene, menu) against a stand-in of the maya.cmds/utils/mel it calls.

The stand-in keeps a tiny scene in dictionaries, records every call with the thread it came from,
and queues executeDeferred callbacks until the test runs them on the main thread, as Maya's idle
loop would. What real Maya does with these calls is checked by engines/maya/smoke_test.py.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge.frames import ARKIT_NAMES

MAYA_DIR = Path(__file__).resolve().parents[2] / "engines" / "maya"


class FakeCmds:
    """The maya.cmds functions the receiver calls, over a dictionary scene."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any], str]] = []
        self.attrs: dict[str, float] = {}
        self.locked: set[str] = set()
        self.blendshapes: dict[str, list[str]] = {}
        self.keys: dict[str, list[tuple[float, float]]] = {}
        self.units = {"linear": "cm", "angle": "deg", "time": "film"}
        self.time = 1.0
        self.playback = {"minTime": 1.0, "maxTime": 48.0}
        self.option_vars: dict[str, object] = {}
        self.menus: set[str] = set()
        self.menu_items: list[dict[str, Any]] = []
        self.sounds: list[dict[str, Any]] = []
        self.batch = False
        self.prompt_text = ""
        self.warnings: list[str] = []
        self.dialog_paths: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        attr = object.__getattribute__(self, name)
        if name.startswith("_") or not callable(attr) or name in {"nodes", "main_thread_only"}:
            return attr

        def recorded(*args: Any, **kwargs: Any) -> Any:
            object.__getattribute__(self, "calls").append((name, args, kwargs, threading.current_thread().name))
            return attr(*args, **kwargs)

        return recorded

    def nodes(self) -> set[str]:
        return set(self.blendshapes) | {p.split(".")[0] for p in self.attrs}

    def main_thread_only(self) -> bool:
        return all(thread == threading.main_thread().name for *_, thread in self.calls)

    # scene queries
    def objExists(self, node: str) -> bool:  # noqa: N802 (maya.cmds names)
        return node in self.nodes()

    def ls(self, type: str) -> list[str]:  # noqa: A002
        return sorted(self.blendshapes) if type == "blendShape" else []

    def aliasAttr(self, node: str, query: bool = False) -> list[str]:  # noqa: N802
        out: list[str] = []
        for i, alias in enumerate(self.blendshapes[node]):
            out += [alias, f"weight[{i}]"]
        return out

    def getAttr(self, plug: str, settable: bool = False) -> Any:  # noqa: N802
        if settable:
            return plug not in self.locked
        return self.attrs.get(plug, 0.0)

    def setAttr(self, plug: str, value: float) -> None:  # noqa: N802
        if plug.split(".")[0] not in self.nodes():
            raise RuntimeError(f"No object matches name: {plug}")
        self.attrs[plug] = value

    def currentUnit(self, query: bool = False, **unit: bool) -> str:  # noqa: N802
        [which] = unit
        return self.units[which]

    def currentTime(self, query: bool = False) -> float:  # noqa: N802
        return self.time

    def setKeyframe(self, node: str, attribute: str, time: float, value: float) -> None:  # noqa: N802
        self.keys.setdefault(f"{node}.{attribute}", []).append((time, value))

    def playbackOptions(self, query: bool = False, **kw: float) -> Any:  # noqa: N802
        if query:
            [which] = kw
            return self.playback[which]
        self.playback.update(kw)
        return None

    def sound(self, file: str, offset: float, name: str) -> str:
        self.sounds.append({"file": file, "offset": offset, "name": name})
        return name + "1"

    def about(self, batch: bool = False) -> bool:
        return self.batch

    def timeControl(self, *args: Any, **kwargs: Any) -> None:  # noqa: N802
        pass

    def inViewMessage(self, **kwargs: Any) -> None:  # noqa: N802
        pass

    def confirmDialog(self, **kwargs: Any) -> str:  # noqa: N802
        return "OK"

    def warning(self, text: str) -> None:
        self.warnings.append(text)

    # UI
    def menu(self, name: str, exists: bool = False, **kwargs: Any) -> Any:
        if exists:
            return name in self.menus
        self.menus.add(name)
        return name

    def menuItem(self, **kwargs: Any) -> str:  # noqa: N802
        self.menu_items.append(kwargs)
        return f"item{len(self.menu_items)}"

    def deleteUI(self, name: str) -> None:  # noqa: N802
        self.menus.discard(name)

    def optionVar(self, **kw: Any) -> Any:  # noqa: N802
        if "exists" in kw:
            return kw["exists"] in self.option_vars
        if "query" in kw:
            return self.option_vars[kw["query"]]
        for key in ("intValue", "stringValue"):
            if key in kw:
                name, value = kw[key]
                self.option_vars[name] = value
        return None

    def promptDialog(self, query: bool = False, **kwargs: Any) -> str:  # noqa: N802
        return self.prompt_text if query else "OK"

    def fileDialog2(self, **kwargs: Any) -> list[str]:  # noqa: N802
        return self.dialog_paths

    def tabLayout(self, *args: Any, **kwargs: Any) -> str:  # noqa: N802
        return "Custom"

    def shelfButton(self, **kwargs: Any) -> str:  # noqa: N802
        self.shelf_button = kwargs
        return "shelfButton1"


class FakeUtils:
    """maya.utils.executeDeferred that queues until the test plays Maya's idle loop."""

    def __init__(self) -> None:
        self.queue: list[Callable[[], None]] = []

    def executeDeferred(self, fn: Callable[[], None]) -> None:  # noqa: N802
        self.queue.append(fn)

    def run_idle(self) -> int:
        n = 0
        while self.queue:
            self.queue.pop(0)()
            n += 1
        return n


@pytest.fixture()
def maya(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeCmds, FakeUtils, types.ModuleType]]:
    cmds, utils = FakeCmds(), FakeUtils()
    mel = types.SimpleNamespace(eval=lambda expr: "timeControl1")
    package = types.ModuleType("maya")
    package.cmds, package.utils, package.mel = cmds, utils, mel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "maya", package)
    monkeypatch.setitem(sys.modules, "maya.cmds", cmds)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "maya.utils", utils)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "maya.mel", mel)  # type: ignore[arg-type]
    monkeypatch.syspath_prepend(str(MAYA_DIR))
    for name in [m for m in sys.modules if m.startswith("avatar_bridge_maya")]:
        monkeypatch.delitem(sys.modules, name)  # re-import against this test's stand-in
    import avatar_bridge_maya.session as session

    yield cmds, utils, session
    session.disconnect()


def _rig(cmds: FakeCmds) -> None:
    cmds.blendshapes["face_bs"] = ["jawOpen", "mouthFunnel", "eyeBlinkLeft"]
    cmds.attrs.update({"jaw.rotateX": 2.0, "liHandle.translateZ": 1.0, "liHandle.translateY": -3.0})


def _frame_dgram(seq: int, t_s: float, jaw: float, li_y_mm: float = 0.0, subject: str = "avatar") -> bytes:
    b = OscMessageBuilder("/avatar/v1/frame")
    for tag, value in [("s", subject), ("i", seq), ("f", t_s), ("s", "aa"), ("f", 1.0)]:
        b.add_arg(value, tag)
    values = [0.0] * 76
    values[ARKIT_NAMES.index("jawOpen")] = jaw
    values[52 + 12 + 1] = li_y_mm  # ema_li_y in the default order
    for v in values:
        b.add_arg(v, "f")
    return bytes(b.build().dgram)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _send(port: int, dgrams: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for d in dgrams:
            s.sendto(d, ("127.0.0.1", port))


def _wait(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert predicate()


def test_live_frames_apply_on_the_main_thread_newest_only(maya: Any) -> None:
    cmds, utils, session = maya
    _rig(cmds)
    s = session.connect(port=0)
    port = s._receiver.address[1]
    _send(port, [_frame_dgram(i, i / 60, jaw=i / 100) for i in range(30)])
    _wait(lambda: s.hub.frames == 30)
    assert len(utils.queue) == 1  # coalesced: one apply pending for 30 frames
    utils.run_idle()
    assert cmds.attrs["face_bs.jawOpen"] == pytest.approx(0.29)  # the newest frame
    assert s.hub.applied == 1
    assert cmds.main_thread_only()
    assert not any(c[0] == "setKeyframe" for c in cmds.calls)  # live preview keys nothing


def test_ema_drives_handles_around_the_rest_read_at_connect(maya: Any) -> None:
    cmds, utils, session = maya
    _rig(cmds)
    s = session.connect(port=0)
    _send(s._receiver.address[1], [_frame_dgram(0, 0.0, jaw=0.0, li_y_mm=-20.0)])
    _wait(lambda: s.hub.frames == 1)
    utils.run_idle()
    assert cmds.attrs["liHandle.translateY"] == pytest.approx(-3.0 - 2.0)  # rest -3 cm, -20 mm
    assert cmds.attrs["liHandle.translateZ"] == pytest.approx(1.0)
    session.disconnect()
    assert cmds.attrs["liHandle.translateY"] == pytest.approx(-3.0)  # rest restored
    assert cmds.attrs["face_bs.jawOpen"] == 0.0


def test_record_keys_every_frame_at_scene_rate_from_the_current_frame(maya: Any) -> None:
    cmds, utils, session = maya
    _rig(cmds)
    cmds.time = 10.0
    s = session.connect(port=0)
    session.toggle_record()
    # 1 s at 60 Hz starting at stream time 5 s; the scene runs at 24 fps (film).
    _send(s._receiver.address[1], [_frame_dgram(i, 5.0 + i / 60, jaw=i / 60) for i in range(61)])
    _wait(lambda: s.hub.frames == 61)
    assert session.toggle_record() is False
    keys = cmds.keys["face_bs.jawOpen"]
    assert keys[0] == (10, pytest.approx(0.0))
    assert keys[-1] == (34, pytest.approx(1.0, abs=1e-6))
    assert len(keys) == 25  # a ramp keeps every frame
    assert [t for t, _ in cmds.keys["face_bs.mouthFunnel"]] == [10, 34]  # a hold keeps its ends
    assert cmds.keys["jaw.rotateX"][0] == (10, pytest.approx(2.0))  # rest + 0 rad
    assert cmds.main_thread_only()


def test_subject_filter_and_malformed_packets(maya: Any) -> None:
    cmds, utils, session = maya
    _rig(cmds)
    s = session.connect(port=0, subject="avatar")
    _send(s._receiver.address[1], [b"\x00" * 8, _frame_dgram(0, 0.0, 0.9, subject="other"), _frame_dgram(1, 0.0, 0.4)])
    _wait(lambda: s._receiver.packets == 3)
    _wait(lambda: s.hub.frames == 1)
    utils.run_idle()
    assert cmds.attrs["face_bs.jawOpen"] == pytest.approx(0.4)
    text = session.status()
    assert "malformed 1" in text
    assert "subject 'avatar' seq 1" in text


def test_without_a_subject_the_first_one_heard_is_followed(maya: Any) -> None:
    """Two bridges on one port took turns on the rig, and a take treated each turn as a restart."""
    cmds, utils, session = maya
    _rig(cmds)
    s = session.connect(port=0)
    session.toggle_record()
    alice = [_frame_dgram(i, 2.0 + i / 60, jaw=0.5, subject="alice") for i in range(60)]
    bob = [_frame_dgram(i, i / 60, jaw=0.9, subject="bob") for i in range(60)]
    _send(s._receiver.address[1], [d for pair in zip(alice, bob) for d in pair])  # noqa: B905
    _wait(lambda: s._receiver.packets == 120)
    assert session.toggle_record() is False
    assert s.hub.frames == 60 and s.ignored == 60 and s.following == "alice"
    assert [v for _, v in cmds.keys["face_bs.jawOpen"]] == pytest.approx([0.5, 0.5])  # a hold: its ends
    assert "ignored 60 frames of other subjects (following 'alice')" in session.status()
    s._follower._heard_s -= 2.0  # alice has been silent for 2 s: a bridge restarted with another --subject
    _send(s._receiver.address[1], bob[:3])
    _wait(lambda: s.hub.frames == 63)
    assert s.following == "bob"


def test_a_lone_frame_far_ahead_is_left_out_of_a_take(maya: Any) -> None:
    cmds, utils, session = maya
    _rig(cmds)
    s = session.connect(port=0)
    session.toggle_record()
    times = [i / 60 for i in range(60)] + [100_000.0] + [1.0 + i / 60 for i in range(60)]
    _send(s._receiver.address[1], [_frame_dgram(i, t, jaw=0.5) for i, t in enumerate(times)])
    _wait(lambda: s.hub.frames == 121)
    assert session.toggle_record() is False
    frames = [f for f, _ in cmds.keys["face_bs.jawOpen"]]
    assert max(frames) - min(frames) <= 2 * 24 + 1  # 2 s at 24 fps, not a take 28 hours long


@pytest.mark.parametrize("error", [RuntimeError, ValueError])
def test_a_deleted_node_disconnects_instead_of_raising_every_frame(
    maya: Any, monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    cmds, utils, session = maya
    _rig(cmds)
    s = session.connect(port=0)
    del cmds.blendshapes["face_bs"]

    def missing(plug: str, value: float) -> None:
        raise error(f"No object matches name: {plug}")

    monkeypatch.setattr(cmds, "setAttr", missing)
    _send(s._receiver.address[1], [_frame_dgram(0, 0.0, 0.5)])
    _wait(lambda: s.hub.frames == 1)
    utils.run_idle()
    assert "apply failed" in s.status()
    assert not s.connected


def test_import_bake_keys_and_places_audio(maya: Any, tmp_path: Path) -> None:
    cmds, utils, session = maya
    _rig(cmds)
    cmds.playback["minTime"] = 101.0
    path = tmp_path / "take.jsonl"
    lines = []
    for i in range(25):  # 1 s at 24 Hz
        shapes = dict.fromkeys(ARKIT_NAMES, 0.0)
        shapes["jawOpen"] = i / 24
        ema = [0.0] * 12
        ema[1] = -10.0  # li_y
        lines.append(json.dumps({"t": i / 24, "blendshapes": shapes, "ema": ema, "viseme": "aa", "voice": 1.0}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "take.wav").write_bytes(b"RIFF")
    first, last = session.import_bake(str(path))
    assert (first, last) == (101, 125)
    assert cmds.keys["face_bs.jawOpen"][-1] == (125, pytest.approx(1.0))
    assert cmds.keys["liHandle.translateY"][0] == (101, pytest.approx(-3.0 - 1.0))
    assert cmds.sounds == [{"file": str(tmp_path / "take.wav"), "offset": 101.0, "name": "avatarBridgeAudio"}]
    assert cmds.playback["maxTime"] == 125
    assert any(c[0] == "timeControl" and c[2].get("sound") == "avatarBridgeAudio1" for c in cmds.calls)


def test_menu_and_settings(maya: Any) -> None:
    cmds, utils, session = maya
    import avatar_bridge_maya.menu as menu

    _rig(cmds)
    name = menu.install_menu()
    assert name in cmds.menus
    labels = [i.get("label") for i in cmds.menu_items]
    for label in ("Connect", "Disconnect", "Record / Stop", "Status", "Import bake...", "Settings..."):
        assert label in labels
    menu.install_menu()  # rebuilding replaces, not duplicates
    assert len(cmds.menus) == 1
    port = _free_udp_port()
    cmds.prompt_text = f"osc {port} avatar -"
    menu.settings()
    assert cmds.option_vars["avatarBridgeSubject"] == "avatar"
    menu.connect()
    assert session.current() is not None and session.current().subject == "avatar"
    menu.toggle_record()
    assert session.current().recording
    menu.toggle_record()
    menu.show_status()
    menu.disconnect()
    assert session.current() is None
    cmds.prompt_text = "osc notaport - -"
    menu.settings()
    assert cmds.option_vars["avatarBridgePort"] == port  # unchanged by the bad entry


def test_menu_commands_report_failures_as_one_warning(maya: Any, tmp_path: Path) -> None:
    cmds, utils, session = maya
    import avatar_bridge_maya.menu as menu

    _rig(cmds)
    menu.toggle_record()  # before Connect
    assert cmds.warnings == ["avatar bridge: connect first"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    cmds.dialog_paths = [str(empty)]
    menu.import_bake_dialog()
    assert cmds.warnings[-1] == "avatar bridge: empty.jsonl has no frames"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        cmds.option_vars.update(avatarBridgeFormat="osc", avatarBridgePort=busy.getsockname()[1])
        menu.connect()
    assert "cannot listen on UDP" in cmds.warnings[-1] and len(cmds.warnings) == 3


def test_a_take_survives_a_stop_that_cannot_key_it(maya: Any) -> None:
    cmds, utils, session = maya
    _rig(cmds)
    cmds.units["time"] = "weird"
    s = session.connect(port=0)
    session.toggle_record()
    _send(s._receiver.address[1], [_frame_dgram(i, i / 60, jaw=0.5) for i in range(10)])
    _wait(lambda: s.hub.frames == 10)
    with pytest.raises(ValueError, match="weird"):
        session.toggle_record()
    assert s.recording  # the frames are still in the take
    cmds.units["time"] = "hour"  # a unit Maya has, which the receiver did not know before
    assert session.toggle_record() is False
    assert cmds.keys["face_bs.jawOpen"][0][1] == pytest.approx(0.5)
