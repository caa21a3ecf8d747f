"""The few maya.cmds calls the receiver needs: scene queries, setting plugs, writing keys, audio.

Main thread only ("Maya commands throw an exception if they are called outside the main thread").
"""

from __future__ import annotations

import logging

from maya import cmds

from .mapping import SceneQuery

log = logging.getLogger(__name__)


class MayaScene(SceneQuery):
    """SceneQuery and writers backed by maya.cmds."""

    def exists(self, node: str) -> bool:
        return bool(cmds.objExists(node))

    def blendshape_nodes(self) -> list[str]:
        return list(cmds.ls(type="blendShape") or [])

    def weight_aliases(self, node: str) -> list[str]:
        # aliasAttr(q=True) returns [alias, "weight[i]", alias, "weight[j]", ...].
        pairs = cmds.aliasAttr(node, query=True) or []
        return [alias for alias, plug in zip(pairs[0::2], pairs[1::2]) if plug.startswith("weight[")]

    def settable(self, plug: str) -> bool:
        # False when locked or driven by anything other than keys.
        return bool(cmds.getAttr(plug, settable=True))

    def get(self, plug: str) -> float:
        return float(cmds.getAttr(plug))

    def linear_unit(self) -> str:
        return str(cmds.currentUnit(query=True, linear=True))

    def angle_unit(self) -> str:
        return str(cmds.currentUnit(query=True, angle=True))

    def time_unit(self) -> str:
        return str(cmds.currentUnit(query=True, time=True))

    def current_frame(self) -> float:
        return float(cmds.currentTime(query=True))

    def set_values(self, assignments: list[tuple[str, float]]) -> None:
        for plug, value in assignments:
            cmds.setAttr(plug, value)

    def set_keys(self, plug: str, keys: list[tuple[int, float]]) -> None:
        node, attr = plug.split(".", 1)
        for frame, value in keys:
            cmds.setKeyframe(node, attribute=attr, time=frame, value=value)

    def set_playback_range(self, first: float, last: float) -> None:
        cmds.playbackOptions(minTime=first, maxTime=last)

    def place_audio(self, path: str, start_frame: float, name: str) -> str:
        """Import ``path`` as a sound node at ``start_frame`` and show it on the time slider."""
        node = cmds.sound(file=path, offset=start_frame, name=name)
        if not cmds.about(batch=True):
            from maya import mel  # the playback slider's name lives in a MEL global

            slider = mel.eval("$avatarBridgeTmp = $gPlayBackSlider")
            cmds.timeControl(slider, edit=True, sound=node, displaySound=True)
        return str(node)

    def show_message(self, text: str) -> None:
        log.info("avatar bridge: %s", text)
        if not cmds.about(batch=True):
            cmds.inViewMessage(assistMessage=text, position="topCenter", fade=True)
