"""Find lines in a channel log file: by text (newest first), by time (bisecting), around a line.

Plain functions over a descriptor and a byte range, like those of
:mod:`~wsserver.store.files.channellog`; the caller runs them in a thread.

* :func:`search_backwards` reads from a position towards the start in blocks
  of :data:`SCAN_BLOCK` bytes and looks for the query's stored (escaped) form
  in each without regard to case: by its rarest byte and a check around each
  one found, or by lower-casing the block once where that byte is common
  (:class:`_AsciiFinder`).  Only the lines that hold it are parsed and checked
  (:meth:`Query.matches`).  Memory stays at about two blocks whatever the size
  of the file; a deadline cuts a long scan off where it got to.
* :func:`find_time` bisects the file on the time stamps that start its lines:
  about 30 small reads for a file of any size, never a scan.

Offsets are line starts; the caller turns them into cursors.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass

from ...lines.query import Query

SCAN_BLOCK = 1024 * 1024  # bytes read and lower-cased at a time by a search, once under way
FIRST_BLOCK = 64 * 1024  # the first block of a search; each next one twice the last, up to SCAN_BLOCK
PROBE = 512  # bytes read at a time while bisecting (lines are usually shorter)


@dataclass
class Scan:
    """What a search found: ``hits`` (each line and the offset just after it), newest first.

    ``resume`` is the offset to search on from (the start of the oldest hit,
    or where the deadline cut the scan off), None once the start of the file
    was reached; ``partial`` says the deadline cut it off.
    """

    hits: list[tuple[bytes, int]]
    resume: int | None
    partial: bool = False
    scanned: int = 0


def search_backwards(fd: int, end: int, query: Query, limit: int, deadline: float) -> Scan:
    """Return up to ``limit`` lines before byte ``end`` (a line start) that ``query`` matches, newest first.

    Stops at ``deadline`` (``time.monotonic()``) after at least :data:`SCAN_BLOCK`
    bytes, with ``partial`` set and ``resume`` where it stopped.  The first
    block read is :data:`FIRST_BLOCK` and each next one twice the last: a
    page of a common word near the end costs a small read.
    """
    needle = query.needle
    finder = _AsciiFinder(needle) if needle.isascii() else None
    text_needle = needle.decode("utf-8")
    hits: list[tuple[bytes, int]] = []
    position = end  # the bytes from here on are done; always a line start
    scanned = 0
    block = min(FIRST_BLOCK, SCAN_BLOCK)  # the newest hits are usually near the end: a page of them, a small read
    asked = 0
    while position > 0:
        if asked >= SCAN_BLOCK and time.monotonic() >= deadline:  # at least a whole block, however it grew
            return Scan(hits, position, True, scanned)
        chunk, base = _block_before(fd, position, block)
        asked += block
        block = min(block * 2, SCAN_BLOCK)
        scanned += position - base
        # chunk[first:] holds whole lines from offset `base`, each with its newline;
        # blocks overlap by the piece of a line before `first`, read again next time.
        first = len(chunk) - (position - base)
        if finder is not None:
            found = finder.lines(chunk, first)
        elif text_needle in chunk[first:].decode("utf-8", errors="replace").lower():
            found = _every_line(chunk, first)
        else:
            found = []
        for start, stop in found:
            raw = chunk[start:stop]
            if query.matches(raw.decode("utf-8", errors="replace")):
                hits.append((raw, base + stop + 1 - first))
                if len(hits) == limit:
                    return Scan(hits, base + start - first, False, scanned)
        position = base
    return Scan(hits, None, False, scanned)


def _block_before(fd: int, position: int, size: int = SCAN_BLOCK) -> tuple[bytes, int]:
    """Read about ``size`` bytes ending at ``position``; return them and the offset of their first line start.

    A line longer than a block makes the block grow until it holds a line start.
    """
    while True:
        start = max(0, position - size)
        chunk = os.pread(fd, position - start, start)
        if len(chunk) != position - start:
            raise OSError(errno.EIO, "file shrank while reading", "")
        if start == 0:
            return chunk, 0
        newline = chunk.find(b"\n")
        if 0 <= newline < len(chunk) - 1:
            return chunk, start + newline + 1
        size *= 2


# How common each byte is in a chat log, most common first (the digits and
# punctuation of the time stamps lead): a search looks for the needle's least
# common byte, then checks the bytes around each one found.
_COMMON = b"0123456789 :-[]etaoinshrdl.,cumwfgypbv'!?kjxqz"
ANCHOR_LIMIT = 2048  # anchor bytes found in one block past which lower-casing the block is cheaper


class _AsciiFinder:
    """Find the lines of a block that hold an ASCII needle without regard to case.

    Looking for the needle's rarest byte (both cases) with ``bytes.find``
    (memchr) and checking the window around each is several times faster than
    lower-casing the block, as long as that byte is rare in the text; once a
    block holds too many, this finder lower-cases blocks instead, from then on.
    """

    def __init__(self, needle: bytes) -> None:
        self.needle = needle
        rank = {byte: index for index, byte in enumerate(_COMMON)}
        self.anchor = max(range(len(needle)), key=lambda i: rank.get(needle[i], len(_COMMON)))
        byte = needle[self.anchor : self.anchor + 1]
        self.variants = {byte, byte.upper()}
        self.lowering = False

    def lines(self, chunk: bytes, first: int) -> list[tuple[int, int]]:
        """Return (start, stop) of the lines of ``chunk[first:]`` holding the needle, last first."""
        if not self.lowering:
            starts = self._candidates(chunk, first)
            if starts is not None:
                return self._spans(chunk, sorted(starts, reverse=True))
            self.lowering = True
        lowered = chunk.lower()
        spans: list[tuple[int, int]] = []
        at = len(lowered)
        while True:
            at = lowered.rfind(self.needle, first, at)
            if at < 0:
                return spans
            start = lowered.rfind(b"\n", 0, at) + 1  # chunk[first - 1] is a newline: never before first
            spans.append((start, lowered.find(b"\n", at)))
            at = start

    def _candidates(self, chunk: bytes, first: int) -> list[int] | None:
        """Return where the needle starts in ``chunk[first:]``; None if its anchor byte is too common here."""
        needle, size, offset = self.needle, len(self.needle), self.anchor
        starts = []
        seen = 0
        for variant in self.variants:
            at = chunk.find(variant, first + offset)
            while at >= 0:
                seen += 1
                if seen > ANCHOR_LIMIT:
                    return None
                begin = at - offset
                if chunk[begin : begin + size].lower() == needle:
                    starts.append(begin)
                at = chunk.find(variant, at + 1)
        return starts

    @staticmethod
    def _spans(chunk: bytes, starts: list[int]) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for at in starts:
            if spans and at >= spans[-1][0]:
                continue  # another match in a line already taken
            start = chunk.rfind(b"\n", 0, at) + 1
            spans.append((start, chunk.find(b"\n", at)))
        return spans


def _every_line(chunk: bytes, first: int) -> list[tuple[int, int]]:
    """Return (start, stop) of every line of ``chunk[first:]``, last first."""
    spans: list[tuple[int, int]] = []
    stop = len(chunk) - 1
    while stop > first:
        start = max(chunk.rfind(b"\n", first, stop) + 1, first)
        spans.append((start, stop))
        stop = start - 1
    return spans


def line_start_from(fd: int, offset: int, end: int) -> int:
    """Return the first line start at or after ``offset`` (``end`` if there is none before it)."""
    if offset <= 0:
        return 0
    position = offset - 1
    while position < end:
        chunk = os.pread(fd, min(PROBE, end - position), position)
        if not chunk:
            break
        newline = chunk.find(b"\n")
        if newline >= 0:
            return min(position + newline + 1, end)
        position += len(chunk)
    return end


def find_time(fd: int, end: int, stamp: str) -> int:
    """Return the offset of the first line stamped at or after ``stamp`` (``YYYY-MM-DD HH:MM:SS``), or ``end``.

    Bisects on byte offsets: a line's stamp is compared as text, which sorts
    like the time.  A line without a stamp counts as earlier than any time.
    """
    wanted = stamp.encode()

    def at_or_after(offset: int) -> bool:
        start = line_start_from(fd, offset, end)
        if start >= end:
            return True
        head = os.pread(fd, 21, start)
        return head[:1] == b"[" and head[1:20] >= wanted

    low, high = 0, end
    while low < high:
        middle = (low + high) // 2
        if at_or_after(middle):
            high = middle
        else:
            low = middle + 1
    return line_start_from(fd, low, end)


def read_forward(fd: int, start: int, end: int, count: int) -> tuple[list[bytes], int]:
    """Return up to ``count`` whole lines from ``start`` (a line start) before ``end``, and the offset after them."""
    lines: list[bytes] = []
    position = start
    pending = b""
    while position < end and len(lines) < count:
        chunk = os.pread(fd, min(64 * 1024, end - position), position)
        if not chunk:
            raise OSError(errno.EIO, "file shrank while reading", "")
        position += len(chunk)
        pieces = (pending + chunk).split(b"\n")
        pending = pieces.pop()
        lines.extend(pieces)
    taken = lines[:count]
    return taken, start + sum(len(line) + 1 for line in taken)


def scan_marked(fd: int, end: int, markers: tuple[bytes, ...], start: int = 0) -> list[tuple[bytes, int]]:
    """Return each whole line from ``start`` to ``end`` holding a marker, and the line after each, with end offsets.

    Reads forward in blocks of :data:`SCAN_BLOCK` bytes and looks for the
    markers with ``bytes.find``: a log of any size costs one pass at the speed
    of the disk, and memory stays at about one block.
    """
    found: list[tuple[bytes, int]] = []
    position = start  # a line start: the bytes before it are done
    follow = False  # the line that starts at `position` follows a marked one
    while position < end:
        chunk = os.pread(fd, min(SCAN_BLOCK, end - position), position)
        if not chunk:
            raise OSError(errno.EIO, "file shrank while reading", "")
        whole = chunk.rfind(b"\n") + 1
        if whole == 0:  # a line longer than the block: read it whole
            whole = _line_end(fd, position + len(chunk), end) - position
            chunk = os.pread(fd, whole, position)
        chunk = chunk[:whole]  # whole lines only: the piece after them is read again with its line
        if follow:
            stop = chunk.index(b"\n")
            found.append((chunk[:stop], position + stop + 1))
            follow = False
        hit = _first(chunk, markers, 0)
        while hit >= 0:
            line_start = chunk.rfind(b"\n", 0, hit) + 1
            stop = chunk.index(b"\n", hit)
            if not found or found[-1][1] < position + stop + 1:
                found.append((chunk[line_start:stop], position + stop + 1))
            if stop + 1 < whole:
                after = chunk.index(b"\n", stop + 1)
                found.append((chunk[stop + 1:after], position + after + 1))
            else:
                follow = position + whole < end
            hit = _first(chunk, markers, stop + 1) if stop + 1 < whole else -1
        position += whole
    return found


def _first(chunk: bytes, markers: tuple[bytes, ...], start: int) -> int:
    """Return where the first of ``markers`` is in ``chunk`` from ``start``, or -1."""
    hits = [at for at in (chunk.find(marker, start) for marker in markers) if at >= 0]
    return min(hits) if hits else -1


def _line_end(fd: int, position: int, end: int) -> int:
    """Return the offset just after the newline at or after ``position`` (``end`` if none before it)."""
    while position < end:
        chunk = os.pread(fd, min(PROBE * 128, end - position), position)
        newline = chunk.find(b"\n")
        if newline >= 0:
            return position + newline + 1
        position += len(chunk)
    return end
