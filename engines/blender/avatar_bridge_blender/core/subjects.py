"""Which subject a connection follows when several senders share its port (no bpy)."""

from __future__ import annotations

from .._vendor.avatar_wire import Frame, remember


class SubjectFilter:
    """Keeps the frames of one subject: the one asked for, else the first one heard.

    Two bridges sending to one port (two performers, a test run left going) otherwise drove the rig
    with both faces by turns, and every time one's stream time was behind the other's a take took it
    for a restarted sender and jumped ahead.

    Attributes:
        following: the subject whose frames are kept (None before the first frame).
        ignored: frames of other subjects by subject, most recent last (at most MAX_SUBJECTS).
    """

    def __init__(self) -> None:
        self.following: str | None = None
        self.ignored: dict[str, int] = {}

    def keep(self, frames: list[Frame], wanted: str = "") -> list[Frame]:
        """The frames of ``wanted`` (when not empty), else of the first subject heard; the rest are counted."""
        if wanted:
            self.following = wanted
        kept = []
        for frame in frames:
            if self.following is None:
                self.following = frame.subject
            if frame.subject == self.following:
                kept.append(frame)
            else:
                remember(self.ignored, frame.subject, self.ignored.get(frame.subject, 0) + 1)
        self.ignored.pop(self.following or "", None)  # a subject chosen after being ignored
        return kept
