"""One channel log file as a feed: its writing end and its reading end.

A :class:`FileFeed` appends through a
:class:`~wsserver.store.files.channellog.ChannelLog` (one ``write(2)``,
``O_APPEND``) and reads back through a
:class:`~wsserver.store.files.tailer.Tailer`: what subscribers get is what
the tailer read from the file, never the line handed to :meth:`append`.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import os
from collections import deque
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
from .durable import Flusher
from .tailer import Tailer

log = logging.getLogger(__name__)

# Limits
RESUME_LIMIT = 8 * 1024 * 1024  # bytes replayed for a resume; further behind gets last-N history
RECENT_LINES = 1000  # the last lines read back, kept in memory: joins and recent resumes need no disk read


class FileFeed:
    """One channel log file: appended to with ``O_APPEND``, read back by a tailer."""

    def __init__(
        self, path: Path, deliver: Deliver, gather: Callable[[], float] | None = None,
        appended: Callable[[bool], None] = lambda ok: None, flusher: Flusher | None = None,
    ) -> None:
        self._appended = appended  # told whether each append went through (for /healthz)
        self._deliver = deliver
        self.log = ChannelLog(path, flusher)
        self.tailer = Tailer(path, self._read_back, self.log.reopen, gather)
        self.recent = Recent()

    def _read_back(self, data: bytes, end: Cursor) -> None:
        lines = file_lines(end.identity, end.offset - len(data), data[:-1])
        self.recent.add(end.identity, end.offset - len(data), lines)
        self._deliver(lines)

    def start(self) -> None:
        """Cut a torn last line left by a crash, open for appending, and tail from the end."""
        removed = repair_torn_tail(self.log.path)
        if removed:
            log.warning("cut a torn last line of %d bytes from %s", removed, self.log.path)
        self.log.open()
        self.tailer.start(at_end=True)
        self.recent.reset(self.tailer.cursor)
        # The last lines, read once now: after a restart every client resumes from a cursor near the
        # end, and each resume is then served from memory (a restart storm reads nothing per client).
        cursor = self.tailer.cursor
        try:
            lines, first = read_last_lines(self.tailer.fd, cursor.offset, RECENT_LINES)
        except OSError:
            log.warning("could not read the last lines of %s; resumes read the file", self.log.path, exc_info=True)
            return
        if lines:  # (add() starts the memory again from ``first``: not contiguous with the end)
            self.recent.add(cursor.identity, first, file_lines(cursor.identity, first, b"\n".join(lines)))

    async def stop(self) -> None:
        """Stop tailing and close the file."""
        await self.tailer.stop()
        self.log.close()

    def reopen(self) -> None:
        """Append to the file now at the path, and have the tailer follow it."""
        self.log.reopen()
        self.tailer.wake()

    async def append(self, line: str) -> str:
        """Write the line with one ``write(2)`` and wake the tailer; return its cursor; raises AppendError.

        ``--fsync`` (wsserver.store.files.durable): ``always`` flushes it before returning, ``batch``
        marks it for the next round (what waits for an explicit ok waits with ``Store.durable``).
        """
        try:
            end = self.log.append(line)
        except AppendError:
            self._appended(False)
            raise
        self._appended(True)
        fd = self.log.fd
        self.tailer.wake()
        if fd is not None:
            await self.log.flusher.appended(fd)
        return str(Cursor(self.log.identity, end))

    @property
    def cursor(self) -> str:
        """Return ``<dev>-<ino>-<offset>`` after the last line delivered."""
        return str(self.tailer.cursor)

    async def wait_ready(self) -> None:
        """Return at once: the tailer knows its offset from :meth:`start`."""

    async def backlog(self, history: int, since: str | None) -> Backlog:
        """Return the backlog up to the tailer's offset when called: from memory if it has it, else read in a thread."""
        cursor = self.tailer.cursor
        kept = self.recent.backlog(cursor, history, since)
        if kept is not None:
            return kept
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


class Recent:
    """The last :data:`RECENT_LINES` lines the tailer read back, with where each starts, in memory.

    They are exactly the lines before the tailer's offset when ``end`` equals
    it (the same file, nothing missed): a joiner's last-N history, or a resume
    from a cursor among them, is then built from memory in the event loop,
    with the same lines and cursors a read of the file would give.  In a join
    storm that is every joiner after the first few.
    """

    __slots__ = ("end", "ends", "file", "from_start", "lines", "starts")

    def __init__(self) -> None:
        self.file: tuple[int, int] | None = None
        self.end = -1  # offset after the last line kept
        self.from_start = False  # the lines kept begin at the start of the file
        self.lines: deque[bytes] = deque()
        self.starts: deque[int] = deque()
        self.ends: deque[str] = deque()  # the cursor after each line, as the batch that brought it had it

    def reset(self, cursor: Cursor) -> None:
        """Keep nothing, from the position ``cursor`` on."""
        self.file, self.end, self.from_start = cursor.identity, cursor.offset, cursor.offset == 0
        self.lines.clear()
        self.starts.clear()
        self.ends.clear()

    def add(self, file: tuple[int, int], start: int, lines: Lines) -> None:
        """Keep the lines of a batch read back from ``start``; anything not contiguous starts the memory again."""
        if file != self.file or start != self.end:
            self.reset(Cursor(file, start))
        batch = lines.data.split(b"\n")
        if not lines.ends or not all(batch):
            # An empty line (never the server's; an operator's echo can write one): the file read
            # answers for the lines around it, so memory starts again after this batch.
            self.reset(Cursor(file, start + len(lines.data) + 1))
            self.from_start = False
            return
        offset = start
        for raw, end in zip(batch, lines.ends, strict=True):
            self.lines.append(raw)
            self.starts.append(offset)
            self.ends.append(end)
            offset += len(raw) + 1
        self.end = offset
        while len(self.lines) > RECENT_LINES:
            self.lines.popleft()
            self.starts.popleft()
            self.ends.popleft()
            self.from_start = False

    def backlog(self, cursor: Cursor, history: int, since: str | None) -> Backlog | None:
        """Return the backlog from memory, or None when the lines kept cannot give it exactly."""
        if cursor.identity != self.file or cursor.offset != self.end:
            return None
        if since is not None:
            start = Cursor.parse(since)
            if start is None or start.identity != self.file or start.offset > self.end:
                return None
            if start.offset == self.end:
                return Backlog(True, [])
            if not self.starts or start.offset < self.starts[0]:
                return None
            at = bisect.bisect_left(self.starts, start.offset)
            if at == len(self.starts) or self.starts[at] != start.offset:
                return None  # not the start of a line: the file read says so, with its own answer
            return Backlog(True, [self._lines(at)])
        count = min(history, len(self.lines))
        if count < history and not self.from_start:
            return None
        return Backlog(None, [self._lines(len(self.lines) - count)] if count else [])

    def _lines(self, at: int) -> Lines:
        file = self.file
        assert file is not None
        ends = tuple(itertools.islice(self.ends, at, None))
        start = self.ends[at - 1] if at else str(Cursor(file, self.starts[at]))
        return Lines(b"\n".join(itertools.islice(self.lines, at, None)), start, ends[-1], ends)
