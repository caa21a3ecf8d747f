"""Which subject a connection follows when several senders share its port (no bpy)."""

from __future__ import annotations

import logging

from .._vendor.avatar_wire import Frame, remember

log = logging.getLogger(__name__)

# A followed subject silent this long gives way to another one (a bridge restarted with a new --subject).
TAKEOVER_S = 1.0


class SubjectFilter:
    """Keeps the frames of one subject: the one asked for, else the first one heard.

    Two bridges sending to one port (two performers, a test run left going) otherwise drove the rig
    with both faces by turns, and every time one's stream time was behind the other's a take took it
    for a restarted sender and jumped ahead. Without a subject asked for, one that has been silent for
    TAKEOVER_S gives way to the next one heard.

    Attributes:
        following: the subject whose frames are kept (None before the first frame).
        ignored: frames of other subjects by subject, most recent last (at most MAX_SUBJECTS).
    """

    def __init__(self) -> None:
        self.following: str | None = None
        self.ignored: dict[str, int] = {}
        self._heard_s = float("-inf")

    def keep(self, frames: list[Frame], now_s: float, wanted: str = "") -> list[Frame]:
        """The frames of ``wanted`` (when not empty), else of the subject followed; the rest are counted.

        ``now_s`` is when the frames arrived (host clock).
        """
        if wanted:
            self.following = wanted
        kept = []
        for frame in frames:
            if frame.subject != self.following and not wanted and now_s - self._heard_s > TAKEOVER_S:
                if self.following is not None:
                    log.info("following subject %r: %r has been silent", frame.subject, self.following)
                self.following = frame.subject
            if frame.subject == self.following:
                kept.append(frame)
                self._heard_s = now_s
            else:
                remember(self.ignored, frame.subject, self.ignored.get(frame.subject, 0) + 1)
        self.ignored.pop(self.following or "", None)  # a subject followed after being ignored
        return kept
