"""The default store: channel log files in the data dir, tailed, and the users file.

A :class:`FileFeed` is one log file with its writing end
(:class:`~wsserver.channellog.ChannelLog`) and its reading end
(:class:`~wsserver.tailer.Tailer`).  The :class:`FileStore` holds the one
directory watcher of the process, which wakes the tailers of files that any
process (or an operator's ``echo >>``) changed, and reports changes of the
users file.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from ..config import CHANNEL_RE
from ..metrics import Metrics
from .actions import ACTIONS_FILE, FileActions
from .base import AppendError, Backlog, Deliver, Feed, Lines, StoreError
from .channellog import (
    ChannelLog,
    Cursor,
    at_line_start,
    file_lines,
    log_path,
    private_path,
    read_last_lines,
    read_lines_between,
    repair_torn_tail,
)
from .file_events import FileEvents
from .file_finder import FileFinder
from .tailer import DirWatcher, Tailer
from .users import USERS_FILE, Registry

log = logging.getLogger(__name__)

# Limits
RESUME_LIMIT = 8 * 1024 * 1024  # bytes replayed for a resume; further behind gets last-N history


class FileFeed:
    """One channel log file: appended to with ``O_APPEND``, read back by a tailer."""

    def __init__(
        self, path: Path, deliver: Deliver, gather: Callable[[], float] | None = None,
        appended: Callable[[bool], None] = lambda ok: None,
    ) -> None:
        self._appended = appended  # told whether each append went through (for /healthz)
        self._deliver = deliver
        self.log = ChannelLog(path)
        self.tailer = Tailer(path, self._read_back, self.log.reopen, gather)

    def _read_back(self, data: bytes, end: Cursor) -> None:
        self._deliver(file_lines(end.identity, end.offset - len(data), data[:-1]))

    def start(self) -> None:
        """Cut a torn last line left by a crash, open for appending, and tail from the end."""
        removed = repair_torn_tail(self.log.path)
        if removed:
            log.warning("cut a torn last line of %d bytes from %s", removed, self.log.path)
        self.log.open()
        self.tailer.start(at_end=True)

    async def stop(self) -> None:
        """Stop tailing and close the file."""
        await self.tailer.stop()
        self.log.close()

    def reopen(self) -> None:
        """Append to the file now at the path, and have the tailer follow it."""
        self.log.reopen()
        self.tailer.wake()

    async def append(self, line: str) -> None:
        """Write the line with one ``write(2)`` and wake the tailer; raises AppendError."""
        try:
            self.log.append(line)
        except AppendError:
            self._appended(False)
            raise
        self._appended(True)
        self.tailer.wake()

    @property
    def cursor(self) -> str:
        """Return ``<dev>-<ino>-<offset>`` after the last line delivered."""
        return str(self.tailer.cursor)

    async def wait_ready(self) -> None:
        """Return at once: the tailer knows its offset from :meth:`start`."""

    async def backlog(self, history: int, since: str | None) -> Backlog:
        """Read the backlog in a thread, up to the tailer's offset when called."""
        cursor = self.tailer.cursor
        # A duplicate, so a rotation that closes the tailer's descriptor
        # meanwhile cannot pull the file from under the read.
        try:
            fd = os.dup(self.tailer.fd)
            try:
                return await asyncio.to_thread(_backlog, fd, cursor, history, since)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreError(f"reading {self.log.path} failed: {exc}") from exc

    async def before(self, cursor: str | None, limit: int) -> Lines | None:
        """Read up to ``limit`` lines before ``cursor`` (None: the tailer's offset) of the current file."""
        current = self.tailer.cursor
        start = current if cursor is None else Cursor.parse(cursor)
        if start is None or start.identity != current.identity or start.offset > current.offset:
            return None
        try:
            fd = os.dup(self.tailer.fd)
            try:
                if not await asyncio.to_thread(at_line_start, fd, start.offset):
                    return None
                lines, first = await asyncio.to_thread(read_last_lines, fd, start.offset, limit)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreError(f"reading {self.log.path} failed: {exc}") from exc
        return file_lines(current.identity, first, b"\n".join(lines))


def _backlog(fd: int, cursor: Cursor, history: int, since: str | None) -> Backlog:
    if since is not None:
        start = Cursor.parse(since)
        exact = (
            start is not None
            and start.identity == cursor.identity
            and start.offset <= cursor.offset
            and cursor.offset - start.offset <= RESUME_LIMIT
            and at_line_start(fd, start.offset)
        )
        if exact:
            assert start is not None
            batches = []
            begin = start.offset
            for data, offset in read_lines_between(fd, start.offset, cursor.offset):
                batches.append(file_lines(cursor.identity, begin, data))
                begin = offset
            return Backlog(True, batches)
    lines, first = read_last_lines(fd, cursor.offset, history)
    batches = [file_lines(cursor.identity, first, b"\n".join(lines))] if lines else []
    return Backlog(None if since is None else False, batches)


class FileStore:
    """Channel logs as files in ``data_dir``, the users file, and the watcher over both."""

    def __init__(self, data_dir: Path, metrics: Metrics) -> None:
        self.data_dir = data_dir
        self.registry = Registry(data_dir)
        self.actions = FileActions(data_dir)
        self.events = FileEvents(data_dir)
        self._tailers: dict[str, Tailer] = {}
        self._users_changed: Callable[[set[str] | None], None] = lambda channels: None
        self._append_failed = False
        self._watcher = DirWatcher(data_dir, self._changed, lambda: list(self._tailers.values()))
        metrics.watch_tail_lag(lambda: [(t.path.name, t.fd, t.offset) for t in self._tailers.values()])

    def feed(self, channel: str, private: bool, deliver: Deliver, gather: Callable[[], float] | None = None) -> Feed:
        """Return the feed of ``channel_<name>.log`` or ``private_<name>.log``."""
        path = (private_path if private else log_path)(self.data_dir, channel)
        feed = FileFeed(path, deliver, gather, self._appended)
        self._tailers[path.name] = feed.tailer
        return feed

    async def start(self, users_changed: Callable[[set[str] | None], None]) -> None:
        """Drop handles of processes that are gone, and start watching the data dir."""
        self._users_changed = users_changed
        dropped = await self.registry.reclaim()
        if dropped:
            log.info("reclaimed %d handles left by processes that are gone", dropped)
        self._watcher.start()

    async def stop(self) -> None:
        """Stop watching."""
        await self._watcher.stop()

    def _changed(self, file_name: str) -> None:
        if file_name == USERS_FILE:
            self._users_changed(None)  # one read of the file serves every channel
            return
        if file_name == ACTIONS_FILE:
            self.actions.wake()
            return
        tailer = self._tailers.get(file_name)
        if tailer is not None:
            tailer.wake()

    def finder(self, channel: str) -> FileFinder:
        """Return what searches and jumps in ``channel_<name>.log``."""
        return FileFinder(log_path(self.data_dir, channel))

    def channel_names(self) -> list[str]:
        """Return the channels with a log file in the data dir."""
        names = []
        for path in self.data_dir.glob("channel_*.log"):
            name = path.name[len("channel_") : -len(".log")]
            if CHANNEL_RE.match(name):
                names.append(name)
        return names

    def _appended(self, ok: bool) -> None:
        self._append_failed = not ok

    async def measure(self) -> None:
        """Nothing to measure at scrape time: the tail lag is read by its own collector."""

    def problem(self) -> str | None:
        """Return why lines cannot be taken: the data dir is not writable, or the last append failed."""
        if not os.access(self.data_dir, os.W_OK):
            return "data dir is not writable"
        return "the last append to a channel log failed" if self._append_failed else None
