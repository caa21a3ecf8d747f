"""Which subject a connection follows when several senders share its port (no bpy)."""

from __future__ import annotations

import logging

from .._vendor.avatar_wire import Frame, SubjectFollower

log = logging.getLogger(__name__)


class SubjectFilter(SubjectFollower):
    """``SubjectFollower`` over the frames of one poll, saying when it hands over to another subject."""

    def keep(self, frames: list[Frame], now_s: float, wanted: str = "") -> list[Frame]:
        """The frames of ``wanted`` (when not empty), else of the subject followed; the rest are counted.

        ``now_s`` is when the frames arrived (host clock).
        """
        kept = []
        for frame in frames:
            before = self.following
            if self.keeps(frame.subject, now_s, wanted):
                kept.append(frame)
            if before is not None and self.following != before and not wanted:
                log.info("following subject %r: %r has been silent", self.following, before)
        return kept
