"""Search and jump in a channel log file, by any process, whether or not it serves the channel.

Each call opens the file at the path and works on what it holds up to its
last whole line; cursors are those of :mod:`~wsserver.store.files.channellog`, so a
cursor of a file rotated away names no position (like paging, a search covers
the file since the last rotation).  The reading runs in a thread.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ...lines.annotation import EDIT, parse_annotation
from ...lines.logline import LINE_RE
from ...lines.query import Query
from ..base import Found, Place, Scanned, StoreError, Window
from .channellog import Cursor, at_line_start, file_lines, identity, read_last_lines
from .scan import PROBE, find_time, read_forward, scan_marked, search_backwards

T = TypeVar("T")


def _whole_end(fd: int) -> int:
    """Return the offset just after the file's last whole line."""
    size = os.fstat(fd).st_size
    position = size
    while position > 0:
        start = max(0, position - PROBE)
        newline = os.pread(fd, position - start, start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        position = start
    return 0


def _text_of(raw: bytes) -> str | None:
    """Return the text of a chat line or of an edit line (as stored), or None for another line."""
    line = raw.decode("utf-8", errors="replace")
    match = LINE_RE.match(line)
    if match is not None:
        return match.group(4)
    edit = parse_annotation(line)
    return edit.text if edit is not None and edit.kind == EDIT else None


class FileFinder:
    """Searches and jumps in one channel log file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def _read(self, work: Callable[[int, tuple[int, int], int], T]) -> T:
        def run() -> T:
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return work(-1, (0, 0), 0)
            try:
                return work(fd, identity(os.fstat(fd)), _whole_end(fd))
            finally:
                os.close(fd)

        try:
            return await asyncio.to_thread(run)
        except OSError as exc:
            raise StoreError(f"reading {self.path} failed: {exc}") from exc

    @staticmethod
    def _offset(fd: int, file: tuple[int, int], end: int, cursor: str | None) -> int | None:
        """Return the offset ``cursor`` names in this file (None: the end), or -1 if it names none."""
        if cursor is None:
            return end
        position = Cursor.parse(cursor)
        if position is None or position.identity != file or position.offset > end or fd < 0:
            return -1
        return position.offset if at_line_start(fd, position.offset) else -1

    async def search(self, query: Query, before: str | None, limit: int, seconds: float) -> Found | None:
        """Scan backwards from ``before`` (None: the end) for lines ``query`` matches."""
        deadline = time.monotonic() + seconds

        def work(fd: int, file: tuple[int, int], end: int) -> Found | None:
            offset = self._offset(fd, file, end, before)
            if offset is None or offset < 0:
                return None if before is not None else Found([], None)
            scan = search_backwards(fd, offset, query, limit, deadline)
            hits = [(raw.decode("utf-8", errors="replace"), str(Cursor(file, after))) for raw, after in scan.hits]
            resume = None if scan.resume is None or scan.resume == 0 else str(Cursor(file, scan.resume))
            return Found(hits, resume, scan.partial)

        return await self._read(work)

    async def around(self, cursor: str, limit: int) -> Window | None:
        """Read the line that ends at ``cursor`` and the lines on each side of it."""

        def work(fd: int, file: tuple[int, int], end: int) -> Window | None:
            offset = self._offset(fd, file, end, cursor)
            if offset is None or offset <= 0:
                return None
            earlier, first = read_last_lines(fd, offset, limit // 2 + 1)  # ... and the line itself
            later, last = read_forward(fd, offset, end, limit - len(earlier))
            data = b"\n".join(earlier + later)
            return Window(file_lines(file, first, data), len(earlier) - 1, last == end)

        return await self._read(work)

    async def at(self, stamp: str, limit: int) -> Window:
        """Bisect for the first line at or after ``stamp``; read from there."""

        def work(fd: int, file: tuple[int, int], end: int) -> Window:
            if fd < 0:
                return Window(file_lines(file, 0, b""), None, True)
            offset = find_time(fd, end, stamp)
            lines, last = read_forward(fd, offset, end, limit)
            return Window(file_lines(file, offset, b"\n".join(lines)), 0 if lines else None, last == end)

        return await self._read(work)

    async def erase(self, cursor: str) -> bool:
        """Overwrite the text of the chat or edit line just before ``cursor`` with as many ``*`` (one ``pwrite``).

        Every byte offset, so every cursor, stays what it was, and the line
        is still a well-formed line (``check`` passes).
        """

        def work(fd: int, file: tuple[int, int], end: int) -> bool:
            offset = self._offset(fd, file, end, cursor)
            if offset is None or offset <= 0:
                return False
            lines, first = read_last_lines(fd, offset, 1)
            text = _text_of(lines[0]) if lines else None
            if text is None:
                return False
            text_start = first + len(lines[0]) - len(text.encode("utf-8"))
            writer = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)  # not O_APPEND: a write in place
            try:
                if os.fstat(writer).st_ino != file[1]:
                    return False
                os.pwrite(writer, b"*" * (offset - 1 - text_start), text_start)
                os.fsync(writer)
            finally:
                os.close(writer)
            return True

        return await self._read(work)

    async def after(self, cursor: str, limit: int) -> Window | None:
        """Read up to ``limit`` lines after ``cursor``."""

        def work(fd: int, file: tuple[int, int], end: int) -> Window | None:
            offset = self._offset(fd, file, end, cursor)
            if offset is None or offset < 0:
                return None
            lines, last = read_forward(fd, offset, end, limit)
            return Window(file_lines(file, offset, b"\n".join(lines)), None, last == end)

        return await self._read(work)

    async def place(self, cursor: str) -> Place | None:
        """Return the file's identity and the byte offset ``cursor`` names, if a line ends there."""

        def work(fd: int, file: tuple[int, int], end: int) -> Place | None:
            offset = self._offset(fd, file, end, cursor)
            if offset is None or offset <= 0:
                return None
            return Place(f"{file[0]:x}-{file[1]:x}", f"{offset:020d}")

        return await self._read(work)

    async def pick(self, cursors: list[str]) -> list[bytes | None]:
        """Read the line that ends at each cursor, in one thread call."""

        def work(fd: int, file: tuple[int, int], end: int) -> list[bytes | None]:
            picked: list[bytes | None] = []
            for cursor in cursors:
                offset = self._offset(fd, file, end, cursor)
                lines = read_last_lines(fd, offset, 1)[0] if offset is not None and offset > 0 else []
                picked.append(lines[0] if lines else None)
            return picked

        return await self._read(work)

    async def scan(self, end: str | None, markers: tuple[bytes, ...], start: str | None = None) -> Scanned | None:
        """Read the file from ``start`` to ``end`` once, forward, for the lines holding a marker and the next."""

        def work(fd: int, file: tuple[int, int], whole: int) -> Scanned | None:
            offset = self._offset(fd, file, whole, end)
            first = 0 if start is None else self._offset(fd, file, whole, start)
            if offset is None or offset < 0:
                return [] if start is None else None
            if first is None or not 0 <= first <= offset:
                return None
            prefix = str(Cursor(file, 0))[:-1]  # "<dev>-<ino>-": one format, not one per line
            return [(raw, f"{prefix}{after}") for raw, after in scan_marked(fd, offset, markers, first)]

        return await self._read(work)

    def locate(self, cursor: str) -> tuple[str, str] | None:
        """Return ``("<dev>-<ino>", "<offset>")``: the file and the byte offset, as annotation lines write it."""
        log, dash, ref = cursor.rpartition("-")  # string work, not a regex: an index rebuild locates every line
        if not dash or not ref.isdigit() or len(ref) > 20 or log.count("-") != 1:
            return None
        return log, ref

    def cursor_at(self, log: str, ref: str) -> str | None:
        """Return ``<dev>-<ino>-<offset>``."""
        return f"{log}-{ref}" if ref.isdigit() and len(ref) <= 20 else None

    def order(self, ref: str) -> str:
        """Return the offset zero-padded to 20 digits."""
        return ref.zfill(20)
