"""Logging: records reach the stderr of the moment, never block the thread that logs, and the rate
limiter counts repeats by call site, not by the text."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.logs import MAX_REASONS, NATIVE_LINE_BYTES, QUEUE_RECORDS, RateLimitedLog, flush_logging, setup_logging

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def root_saved() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield root
    for handler in root.handlers:
        if handler not in saved[0]:
            handler.close()
    root.handlers[:], level = saved
    root.setLevel(level)


def _ours(stream: io.StringIO) -> list[dict[str, object]]:
    """This test's JSON records: another test's thread may still be logging (in text, or other loggers)."""
    records = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    return [r for r in records if r["logger"] == "bridge.test"]


def test_records_follow_a_swapped_stderr_and_a_closed_one_is_never_written(
    monkeypatch: pytest.MonkeyPatch, root_saved: logging.Logger
) -> None:
    flush_logging()  # records an earlier test left queued go where they were meant to, not into `first`
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    setup_logging("info", "json")
    logging.getLogger("bridge.test").info("one", extra={"event": "first"})
    flush_logging()
    assert [e["event"] for e in _ours(first)] == ["first"], first.getvalue()
    first.close()  # what pytest's capture and embedding apps do with their stream
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    errors: list[logging.LogRecord] = []
    monkeypatch.setattr(logging.Handler, "handleError", lambda self, record: errors.append(record))
    logging.getLogger("bridge.test").info("two")
    flush_logging()
    assert not errors
    assert [e["message"] for e in _ours(second)] == ["two"], second.getvalue()


class BlockedStream(io.StringIO):
    """A stderr whose writes wait until released, like a pipe nobody reads."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.release.wait()
        return super().write(text)


def test_a_blocked_stderr_never_blocks_the_thread_that_logs(
    monkeypatch: pytest.MonkeyPatch, root_saved: logging.Logger
) -> None:
    stream = BlockedStream()
    monkeypatch.setattr(sys, "stderr", stream)
    setup_logging("info", "text")
    n = QUEUE_RECORDS + 500

    def flood() -> None:
        for i in range(n):
            logging.getLogger("bridge.test").warning("line %d", i)

    logger_thread = threading.Thread(target=flood, daemon=True)
    logger_thread.start()
    logger_thread.join(timeout=30)
    blocked = logger_thread.is_alive()
    stream.release.set()
    assert not blocked, "logging waited for stderr"
    flush_logging()
    lines = stream.getvalue().splitlines()
    assert "log lines were dropped: stderr was not being read" in stream.getvalue()
    assert "line 0" in lines[0] and len(lines) < n  # the first lines kept, the overflow dropped and counted


def test_repeats_with_varying_values_are_one_reason(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limiter = RateLimitedLog(logging.getLogger("bridge.test"), interval_s=5.0, clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="bridge.test")
    for i in range(100):
        limiter.warning("control OSC: rejected from 127.0.0.1:%d: intensity: got %d", 40000 + i, i)
        now[0] += 0.01
    assert [r.getMessage() for r in caplog.records] == ["control OSC: rejected from 127.0.0.1:40000: intensity: got 0"]
    now[0] = 5.5
    limiter.poll()  # the window closed with repeats in it: its count is not lost when the problem stops
    assert caplog.records[-1].getMessage() == (
        "control OSC: rejected from 127.0.0.1:40099: intensity: got 99 (and 99 more in 5.5 s)"
    )
    limiter.poll()
    assert len(caplog.records) == 2


def test_pending_counts_are_logged_on_flush_and_memory_stays_bounded(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limiter = RateLimitedLog(logging.getLogger("bridge.test"), interval_s=5.0, clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="bridge.test")
    limiter.warning("target %s refused", "a")
    limiter.warning("target %s refused", "b")
    limiter.flush()  # at shutdown, before the window closed
    assert caplog.records[-1].getMessage() == "target b refused (and 1 more in 0.0 s)"
    for i in range(10 * MAX_REASONS):
        limiter.info("reason %d", i, key=str(i))
    assert len(limiter._windows) <= MAX_REASONS
    assert len(caplog.records) == 2 + 10 * MAX_REASONS  # distinct keys are all logged


_FORKED_WORKER_LOGS = """
import logging, sys
from concurrent.futures import ProcessPoolExecutor
import multiprocessing
from bridge.logs import flush_logging, setup_logging

def work(i):
    logging.getLogger("worker").warning("from worker %d", i)
    flush_logging()
    return i

if __name__ == "__main__":
    setup_logging("info", "text")
    logging.getLogger("parent").info("before the fork")
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        assert list(pool.map(work, range(4))) == [0, 1, 2, 3]
    flush_logging()
"""


def test_forked_workers_get_their_own_log_writer(tmp_path: Path) -> None:
    # bake -j N forks its workers from a process whose log writer thread is running; without a
    # writer of their own, their records sat in a queue nobody drained.
    script = tmp_path / "fork_logs.py"
    script.write_text(_FORKED_WORKER_LOGS)
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    for i in range(4):
        assert f"from worker {i}" in p.stderr, p.stderr


_CAUGHT_WHILE_LOGGING = """
import logging, os, threading
from bridge.logs import CStderrCatcher, flush_logging, setup_logging

setup_logging("debug", "json")
log = logging.getLogger("writer")

def flood():
    for i in range(2000):
        log.info("line %d", i, extra={"event": "ours"})

thread = threading.Thread(target=flood)
thread.start()
catcher = CStderrCatcher(logging.getLogger("lib"), "lib")
for i in range(300):
    with catcher.catching():
        os.write(2, b"library noise %d\\n" % i)
thread.join()
catcher.close()
flush_logging()
"""


def test_c_stderr_is_caught_into_debug_events_while_other_threads_log(tmp_path: Path) -> None:
    """What a C library prints on fd 2 becomes a debug event; the log writer, writing at the same time
    from its thread, never has its own lines caught."""
    script = tmp_path / "caught.py"
    script.write_text(_CAUGHT_WHILE_LOGGING)
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    events = [json.loads(line) for line in p.stderr.splitlines()]
    ours = [e["message"] for e in events if e["event"] == "ours"]
    assert ours == [f"line {i}" for i in range(2000)]
    caught = [e for e in events if e["event"] == "library_stderr"]
    assert [e["message"] for e in caught] == [f"lib: library noise {i}" for i in range(300)]
    assert all(e["level"] == "debug" and e["logger"] == "lib" for e in caught)


_NATIVE_WRITERS = """
import ctypes, ctypes.util, logging, os, subprocess, sys, warnings
from bridge import logs
from bridge.logs import flush_logging, setup_logging

setup_logging("info", sys.argv[1])
libc = ctypes.CDLL(ctypes.util.find_library("c"))
c_stderr = ctypes.c_void_p.in_dll(libc, "stderr")  # C's FILE *stderr, as PortAudio and ALSA print
libc.fprintf(c_stderr, b"from C %d\\n", ctypes.c_int(7))
logging.getLogger("ours").info("logged", extra={"event": "ours"})
os.write(2, b"from fd 2\\n")
os.write(2, b"L" * 100000 + b"\\n")  # one long line, longer than a pipe read
warnings.warn("from Python")
subprocess.run(["sh", "-c", "echo from a subprocess >&2"], check=True)
if os.fork() == 0:  # a forked worker: its records and its fd 2 both reach the parent's stderr
    logging.getLogger("worker").info("worker logged", extra={"event": "ours"})
    os.write(2, b"from a forked worker\\n")
    flush_logging()
    os._exit(0)
os.wait()
os.write(2, b"no newline at exit")
if sys.argv[2] == "os._exit":  # what the CLI does when PortAudio is left hanging
    logs.restore_stderr()
    flush_logging()
    os._exit(0)
"""


@pytest.mark.parametrize("ending", ["exit", "os._exit"], ids=["normal exit", "CLI's os._exit"])
def test_json_mode_turns_what_c_and_python_write_to_fd_2_into_events(tmp_path: Path, ending: str) -> None:
    """PortAudio's and ALSA's prints broke `--log-format json`: every stderr line must be an event."""
    script = tmp_path / "native.py"
    script.write_text(_NATIVE_WRITERS)
    p = subprocess.run([sys.executable, str(script), "json", ending], capture_output=True, text=True, timeout=60,
                       cwd=ROOT)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert all(line.startswith("{") for line in p.stderr.splitlines()), p.stderr
    events = [json.loads(line) for line in p.stderr.splitlines()]
    native = [e for e in events if e["event"] == "native_stderr"]
    texts = [e["text"] for e in native]
    assert {"from C 7", "from fd 2", "from a subprocess", "from a forked worker", "no newline at exit"} <= set(texts)
    assert any(t.endswith("UserWarning: from Python") for t in texts), texts
    assert all(e["level"] == "warning" and e["message"] == e["text"] for e in native)
    # A long line arrives whole, in pieces of at most NATIVE_LINE_BYTES (a log shipper's line limit).
    pieces = [t for t in texts if set(t) == {"L"}]
    assert "".join(pieces) == "L" * 100000 and max(map(len, pieces)) <= NATIVE_LINE_BYTES, [len(t) for t in pieces]
    assert sorted(e["message"] for e in events if e["event"] == "ours") == ["logged", "worker logged"]


def test_text_mode_leaves_fd_2_alone(tmp_path: Path) -> None:
    script = tmp_path / "native.py"
    script.write_text(_NATIVE_WRITERS)
    p = subprocess.run([sys.executable, str(script), "text", "exit"], capture_output=True, text=True, timeout=60,
                       cwd=ROOT)  # fmt: skip
    assert p.returncode == 0, p.stderr
    lines = p.stderr.splitlines()
    for raw in ("from C 7", "from fd 2", "from a subprocess", "from a forked worker", "no newline at exit"):
        assert raw in lines, p.stderr
    assert not any(line.startswith("{") for line in lines)


def test_a_problem_that_goes_on_is_summarised_less_and_less_often(caplog: pytest.LogCaptureFixture) -> None:
    """A receiver that stays away for an hour: a few lines with every repeat counted, not 720."""
    now = [0.0]
    limiter = RateLimitedLog(logging.getLogger("bridge.test"), interval_s=5.0, clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="bridge.test")
    sent = 0
    while now[0] < 3600.0:
        limiter.warning("target %s refused", "a")
        sent += 1
        now[0] += 0.5
    limiter.flush()
    messages = [r.getMessage() for r in caplog.records]
    assert 10 <= len(messages) <= 20, messages
    counted = sum(int(m.split("(and ")[1].split()[0]) for m in messages[1:])
    assert counted + 1 == sent  # every repeat is in some summary
    spans = [float(m.split(" in ")[1].rstrip(" s)")) for m in messages[1:-1]]
    assert spans[:4] == [5.0, 10.0, 20.0, 40.0] and max(spans) == 300.0, spans
    # once it has stopped for a whole window, its next occurrence is logged at once
    now[0] += 600.0
    limiter.poll()
    n = len(caplog.records)
    limiter.warning("target %s refused", "a")
    assert len(caplog.records) == n + 1 and "more in" not in caplog.records[-1].getMessage()
