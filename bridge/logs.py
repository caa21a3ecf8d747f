"""Logging setup: human-readable text or one JSON object per event (`--log-format json`).

Records are handed to a writer thread through a bounded queue, so a thread that logs never waits
for stderr: a pipe nobody reads or a stuck log shipper must not stop the frame stream. When the queue
is full, records are dropped and counted; the writer reports the count once it can write again.

In JSON mode, file descriptor 2 itself becomes a pipe whose lines are logged as events (StderrPump), so
what C libraries (PortAudio, ALSA) and Python's own ``sys.stderr`` print does not break the format.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import json
import logging
import os
import queue
import sys
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# LogRecord attributes that are not event fields.
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

log = logging.getLogger(__name__)

QUEUE_RECORDS = 10_000
FLUSH_TIMEOUT_S = 2.0
LOG_INTERVAL_S = 5.0
# A problem that goes on is summarised at doubling intervals up to this (a receiver that stays
# away for an hour: 18 lines, not 720).
MAX_LOG_INTERVAL_S = 300.0
# Distinct reasons a RateLimitedLog tracks at once; templates are fixed strings, so this is a backstop.
MAX_REASONS = 64


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event name, message and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", "log"),
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and key != "event":
                event[key] = value
        if record.exc_info:
            event["error"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str)


# Held while file descriptor 2 points elsewhere to catch a C library's output (CStderrCatcher), and
# while the StderrPump is started or stopped.
_fd2_lock = threading.Lock()
# A line written to fd 2 without a newline is logged in pieces of this size.
NATIVE_LINE_BYTES = 16 * 1024


def _dup_stderr(fd: int) -> int:
    """A duplicate of the process's stderr ``fd`` (the pump's saved one while fd 2 is its pipe), taken
    while no library call has it redirected: the write to it can then block on a full pipe without
    holding the lock."""
    with _fd2_lock:
        return os.dup(_pump.saved_fd if _pump is not None else fd)


class StderrPump:
    """Points file descriptor 2 at a pipe and logs each line written to it as a ``native_stderr`` event.

    With ``--log-format json`` every line on stderr must be a JSON object, but PortAudio and ALSA print
    their own lines on fd 2 from their threads at any moment (a vanished sound server), and so do
    Python's ``sys.stderr`` writers (warnings, an uncaught exception in a thread). The log writer writes
    to ``saved_fd``, the process's real stderr; a daemon thread reads the pipe and logs each line at
    warning level (field ``text``), one record per line. The thread only logs (it never waits on
    stderr), and a line it cannot log is dropped, never the pump: a full pipe would block every writer
    of fd 2. Subprocesses and forked workers inherit fd 2 and are relayed too.

    ``stop`` puts fd 2 back and ``join`` waits until the lines written before are logged (at exit, or
    before the CLI's ``os._exit``); what is still in the pipe when the process dies without them (a
    crash: a C library's last words before ``abort()``) is lost.
    """

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._end = b"\0avatar-bridge stderr end " + os.urandom(8).hex().encode()
        self._read_fd, self._write_fd = os.pipe()
        self.saved_fd = os.dup(2)  # the caller holds _fd2_lock
        os.dup2(self._write_fd, 2)
        self._thread = threading.Thread(target=self._run, name="stderr-pump", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pending = b""
        try:
            while chunk := os.read(self._read_fd, 65536):
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                if len(pending) >= NATIVE_LINE_BYTES:
                    lines.append(pending)
                    pending = b""
                for line in lines:
                    if line == self._end:
                        return
                    for start in range(0, max(1, len(line)), NATIVE_LINE_BYTES):
                        self._relay(line[start : start + NATIVE_LINE_BYTES])
        except OSError:
            pass
        finally:
            self._relay(pending)
            os.close(self._read_fd)  # a writer left holding fd 2 then gets EPIPE instead of blocking

    @staticmethod
    def _relay(line: bytes) -> None:
        try:
            text = line.decode(errors="replace").rstrip()
            if text.strip():
                log.warning("%s", text, extra={"event": "native_stderr", "text": text})
        except Exception:  # a line it cannot log is dropped: the pump must keep draining the pipe
            pass

    def stop(self) -> None:
        """Point fd 2 at the real stderr again and mark the end of the pipe (the caller holds
        ``_fd2_lock``). In a forked child only fd 2 is restored: the pipe and its reader are the parent's."""
        with contextlib.suppress(OSError, ValueError):
            if sys.__stderr__ is not None:
                sys.__stderr__.flush()  # Python's buffered text goes into the pipe, ahead of the end mark
        os.dup2(self.saved_fd, 2)
        os.close(self.saved_fd)
        if os.getpid() == self._pid:
            # An end mark, not EOF: a library call may hold a copy of fd 2 (sounddevice while it initialises).
            os.set_blocking(self._write_fd, False)
            with contextlib.suppress(OSError):  # the pipe is full: join() waits out its timeout instead
                os.write(self._write_fd, b"\n" + self._end + b"\n")
        os.close(self._write_fd)

    def join(self, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        """Wait until the lines written before ``stop`` are logged."""
        if os.getpid() == self._pid:
            self._thread.join(timeout_s)

    def forked(self) -> None:
        """In a forked child: the pipe's read end is the parent's reader's."""
        os.close(self._read_fd)


_pump: StderrPump | None = None


def _pump_stderr(on: bool) -> None:
    """Start or stop the StderrPump; it runs only while ``sys.stderr`` is the process's own, on fd 2
    (not under pytest's capture or an app that swapped it)."""
    global _pump
    stream = sys.__stderr__
    try:
        on = on and stream is not None and sys.stderr is stream and stream.fileno() == 2
    except (OSError, ValueError):
        on = False
    stopped = None
    with _fd2_lock:
        if on and _pump is None:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            _pump = StderrPump()
        elif not on and _pump is not None:
            stopped, _pump = _pump, None
            stopped.stop()
    if stopped is not None:
        stopped.join()


def restore_stderr() -> None:
    """Give fd 2 back to the process's stderr once what native code wrote to it is logged (JSON mode).

    Runs at exit; call it before ``os._exit``, which skips that."""
    _pump_stderr(False)


atexit.register(restore_stderr)  # after sounddevice's exit handler (registered later): PortAudio's last words


class CStderrCatcher:
    """Catches what C code prints on file descriptor 2 around one library call and logs it at debug level.

    libmpg123 (libsndfile's MP3 decoder) prints its own warnings and errors on stderr, which breaks
    ``--log-format json``. For the time of a ``catching()`` block, fd 2 points to a temporary file;
    its text is then logged through ``logger``, each line prefixed with ``label``. The log writer
    writes to its own duplicate of stderr, so its lines are never caught. fd 2 is the whole
    process's, though: anything else another thread writes straight to it during the block (a
    terminal status-line refresh, a Python warning) is caught and logged at debug level as well.
    Hence a block holds one library call, not a whole stream: the windows stay short.
    """

    def __init__(self, logger: logging.Logger, label: str) -> None:
        self._log = logger
        self._label = label
        self._file = tempfile.TemporaryFile(buffering=0)  # a pipe would block the library once full

    @contextlib.contextmanager
    def catching(self) -> Iterator[None]:
        fd = self._file.fileno()
        try:
            with _fd2_lock:  # also one redirection at a time: a second would save and restore the first's file
                saved = os.dup(2)
                os.dup2(fd, 2)
                try:
                    yield
                finally:
                    os.dup2(saved, 2)
                    os.close(saved)
        finally:
            self._relog()

    def _relog(self) -> None:
        fd = self._file.fileno()
        size = os.lseek(fd, 0, os.SEEK_END)
        if not size:
            return
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, size):
            chunks.append(chunk)
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        for line in b"".join(chunks).decode(errors="replace").splitlines():
            if line.strip():
                self._log.debug("%s: %s", self._label, line.strip(), extra={"event": "library_stderr"})

    def close(self) -> None:
        self._file.close()


@contextlib.contextmanager
def stderr_restored_after() -> Iterator[None]:
    """For a library call that points fd 2 elsewhere itself: log lines wait until the block ends, and
    fd 2 is then the process's stderr again, also when the call is still running in another thread.

    sounddevice's import sends fd 2 to /dev/null while PortAudio initialises, and puts it back only
    when that returns: a frozen sound server keeps it there.
    """
    with _fd2_lock:
        saved = os.dup(2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted.

    A handler bound to the stream of setup time writes into a closed file once that stream is
    swapped and closed (pytest's capture, an embedding app); libraries log even at interpreter exit.
    The process's own stderr is written with os.write, to a duplicate taken for the record (see
    CStderrCatcher): a write blocked on a full pipe then holds no lock of ``sys.stderr``, which the
    interpreter needs at exit, nor the one of fd 2.
    """

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.__stderr__
        if stream is None or sys.stderr is not stream:
            super().emit(record)
            return
        try:
            data = (self.format(record) + self.terminator).encode(stream.encoding, stream.errors or "strict")
            fd = _dup_stderr(stream.fileno())
            try:
                while data:
                    data = data[os.write(fd, data) :]
            finally:
                os.close(fd)
        except (OSError, ValueError):  # stderr closed or gone: nowhere left to report it
            pass
        except Exception:
            self.handleError(record)


class AsyncHandler(logging.Handler):
    """Queues records for a writer thread; never blocks the logging thread.

    Attributes:
        dropped: records dropped so far because the queue was full.
    """

    def __init__(self, target: logging.Handler, capacity: int = QUEUE_RECORDS) -> None:
        super().__init__()
        self._target = target
        self._capacity = capacity
        self._start()
        _HANDLERS.add(self)

    def _start(self) -> None:
        self._queue: queue.Queue[logging.LogRecord | threading.Event | None] = queue.Queue(self._capacity)
        self.dropped = 0
        self._reported = 0
        self._stuck: threading.Event | None = None
        self._thread = threading.Thread(target=self._drain, name="log-writer", daemon=True)
        self._thread.start()

    def restart_after_fork(self) -> None:
        """A forked child (``bake -j N`` workers) has no writer thread and may have inherited the
        queue's lock held: give it its own, or its records would be lost or block forever."""
        self._start()

    def emit(self, record: logging.LogRecord) -> None:
        # Format the message now: arguments may change before the writer gets to it.
        record = copy.copy(record)
        record.msg = record.getMessage()
        record.args = None
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1  # under the handler lock (Handler.handle)

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            # emit, not handle: the writer is the target's only caller, and a write blocked on stderr
            # must not hold the target's lock, which logging.shutdown takes at exit.
            lost = self.dropped - self._reported
            if lost:
                self._reported += lost
                self._target.emit(
                    logging.makeLogRecord({
                        "name": __name__, "levelno": logging.WARNING, "levelname": "WARNING",
                        "msg": "%d log lines were dropped: stderr was not being read",
                        "args": (lost,), "event": "log_dropped", "dropped": lost,
                    })
                )  # fmt: skip
            self._target.emit(item)

    def flush(self) -> None:
        self.drain()

    def drain(self, timeout_s: float = FLUSH_TIMEOUT_S) -> bool:
        """Wait until the records queued so far are written; False if stderr blocks for ``timeout_s``."""
        if not self._thread.is_alive() or (self._stuck is not None and not self._stuck.is_set()):
            return False  # once stderr blocked a drain, later ones (at exit) do not wait again
        done = threading.Event()
        deadline = time.monotonic() + timeout_s
        try:
            self._queue.put(done, timeout=timeout_s)
        except queue.Full:
            self._stuck = done
            return False
        if not done.wait(max(0.0, deadline - time.monotonic())):
            self._stuck = done
            return False
        return True

    def close(self) -> None:
        if self.drain():
            self._queue.put(None)
            self._thread.join()
        # else the writer is stuck on stderr; it is a daemon thread and ends with the process
        super().close()


_HANDLERS: weakref.WeakSet[AsyncHandler] = weakref.WeakSet()


def _restart_writers_in_child() -> None:
    global _fd2_lock
    _fd2_lock = threading.Lock()  # the parent's log writer may have held it at the fork
    if _pump is not None:
        _pump.forked()  # its fd 2 stays the parent's pipe, relayed by the parent
    for handler in list(_HANDLERS):
        handler.restart_after_fork()


os.register_at_fork(after_in_child=_restart_writers_in_child)


def setup_logging(level: str, fmt: str) -> None:
    """Configure the root logger, writing to stderr through a writer thread; replaces an earlier setup.

    With ``fmt="json"``, what is written straight to fd 2 becomes ``native_stderr`` events (StderrPump).
    """
    handler = _StderrHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        logging.Formatter.converter = time.localtime
    root = logging.getLogger()
    for old in root.handlers:
        if isinstance(old, AsyncHandler):
            old.close()
    root.handlers[:] = [AsyncHandler(handler)]
    root.setLevel(level.upper())
    _pump_stderr(fmt == "json")


def flush_logging() -> None:
    """Write out every queued record (bounded wait); the CLI calls this before it returns."""
    for handler in logging.getLogger().handlers:
        handler.flush()


@dataclass(slots=True)
class _Window:
    opened_s: float
    interval_s: float
    suppressed: int = 0
    args: tuple[object, ...] = ()


class RateLimitedLog:
    """Logs each reason at most once per interval; repeats in between are counted, not logged.

    While a reason keeps recurring, each window is twice as long as the one before, up to
    ``MAX_LOG_INTERVAL_S``; one that stops for a whole window starts again at ``interval_s``.

    A reason is a call site's message template (or an explicit ``key``), never the formatted text, so
    changing values (a sender's port, a bad number) do not make a repeat look new. When a window
    closes with repeats in it, one summary line with the count and the latest values is logged: on the
    next call of any reason, on ``poll()`` (called by owners that run periodically) or on ``flush()``.
    """

    def __init__(
        self, logger: logging.Logger, interval_s: float = LOG_INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._log = logger
        self._interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: OrderedDict[tuple[int, str, str], _Window] = OrderedDict()

    def warning(self, msg: str, *args: object, key: str = "") -> None:
        self.log(logging.WARNING, msg, *args, key=key)

    def info(self, msg: str, *args: object, key: str = "") -> None:
        self.log(logging.INFO, msg, *args, key=key)

    def log(self, level: int, msg: str, *args: object, key: str = "") -> None:
        """Log ``msg % args`` unless the same (level, msg, key) was logged less than an interval ago."""
        now = self._clock()
        with self._lock:
            self._close_windows(now)
            window = self._windows.get((level, msg, key))
            if window is not None:
                window.suppressed += 1
                window.args = args
                return
            if len(self._windows) >= MAX_REASONS:
                self._summarise(*self._windows.popitem(last=False), now)
            self._windows[(level, msg, key)] = _Window(now, self._interval_s)
        self._log.log(level, msg, *args)

    def poll(self) -> None:
        """Log the summaries of windows that have closed."""
        with self._lock:
            self._close_windows(self._clock())

    def flush(self) -> None:
        """Log every pending summary now (at shutdown)."""
        now = self._clock()
        with self._lock:
            while self._windows:
                self._summarise(*self._windows.popitem(last=False), now)

    def _close_windows(self, now: float) -> None:
        # Windows are lengthened, so the first to close is not always at the front.
        closed = [(r, w) for r, w in self._windows.items() if now - w.opened_s >= w.interval_s]
        for reason, window in closed:
            del self._windows[reason]
            self._summarise(reason, window, now)
            if window.suppressed:  # the problem goes on: keep limiting it, less often
                longer_s = max(self._interval_s, min(2.0 * window.interval_s, MAX_LOG_INTERVAL_S))
                self._windows[reason] = _Window(now, longer_s)

    def _summarise(self, reason: tuple[int, str, str], window: _Window, now: float) -> None:
        if window.suppressed:
            level, msg, _ = reason
            self._log.log(
                level, msg + " (and %d more in %.1f s)", *window.args, window.suppressed, now - window.opened_s,
            )  # fmt: skip
