"""Logging setup: records reach the stderr of the moment, even after the old one was closed."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from bridge.logs import setup_logging


def test_records_follow_a_swapped_stderr_and_a_closed_one_is_never_written(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        first = io.StringIO()
        monkeypatch.setattr(sys, "stderr", first)
        setup_logging("info", "json")
        logging.getLogger("bridge.test").info("one", extra={"event": "first"})
        assert json.loads(first.getvalue())["event"] == "first"
        first.close()  # what pytest's capture and embedding apps do with their stream
        second = io.StringIO()
        monkeypatch.setattr(sys, "stderr", second)
        errors: list[logging.LogRecord] = []
        monkeypatch.setattr(logging.Handler, "handleError", lambda self, record: errors.append(record))
        logging.getLogger("bridge.test").info("two")
        assert not errors
        assert json.loads(second.getvalue())["message"] == "two"
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
