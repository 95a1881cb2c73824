"""One channel log file as a feed: its writing end and its reading end.

A :class:`FileFeed` appends through a
:class:`~wsserver.store.files.channellog.ChannelLog` (one ``write(2)``,
``O_APPEND``) and reads back through a
:class:`~wsserver.store.files.tailer.Tailer`: what subscribers get is what
the tailer read from the file, never the line handed to :meth:`append`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from ..base import AppendError, Backlog, Deliver, Lines, StoreError
from .channellog import (
    ChannelLog,
    Cursor,
    at_line_start,
    file_lines,
    read_last_lines,
    read_lines_between,
    repair_torn_tail,
)
from .tailer import Tailer

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
