"""Find lines in a channel log file: by text (newest first), by time (bisecting), around a line.

Plain functions over a descriptor and a byte range, like those of
:mod:`~wsserver.store.channellog`; the caller runs them in a thread.

* :func:`search_backwards` reads from a position towards the start in blocks
  of :data:`SCAN_BLOCK` bytes, lower-cases each block once and looks for the
  query's stored (escaped) form in it; only the lines that hold it are parsed
  and checked (:meth:`Query.matches`).  Memory stays at about two blocks
  whatever the size of the file; a deadline cuts a long scan off where it got to.
* :func:`find_time` bisects the file on the time stamps that start its lines:
  about 30 small reads for a file of any size, never a scan.

Offsets are line starts; the caller turns them into cursors.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass

from .base import Query

SCAN_BLOCK = 1024 * 1024  # bytes read and lower-cased at a time by a search
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

    Stops at ``deadline`` (``time.monotonic()``) after at least one block,
    with ``partial`` set and ``resume`` where it stopped.
    """
    needle = query.needle
    ascii_needle = needle.isascii()
    text_needle = needle.decode("utf-8")
    hits: list[tuple[bytes, int]] = []
    position = end  # the bytes from here on are done
    carry = b""  # the start of a line that begins in an earlier block
    scanned = 0
    while position > 0:
        if scanned and time.monotonic() >= deadline:
            return Scan(hits, position + len(carry), True, scanned)
        size = min(SCAN_BLOCK, position)
        position -= size
        chunk = os.pread(fd, size, position)
        if len(chunk) != size:
            raise OSError(errno.EIO, "file shrank while reading", "")
        scanned += size
        chunk += carry
        if position > 0:
            first = chunk.find(b"\n")
            if first < 0:  # one line longer than a block: read on
                carry = chunk
                continue
            carry, body, base = chunk[: first + 1], chunk[first + 1 :], position + first + 1
        else:
            carry, body, base = b"", chunk, 0
        # body: whole lines from offset `base`, each with its newline.
        if ascii_needle:
            found = _find_ascii(body, needle)
        elif text_needle in body.decode("utf-8", errors="replace").lower():
            found = _every_line(body)
        else:
            found = []
        for start, stop in found:
            raw = body[start:stop]
            if query.matches(raw.decode("utf-8", errors="replace")):
                hits.append((raw, base + stop + 1))
                if len(hits) == limit:
                    return Scan(hits, base + start, False, scanned)
    return Scan(hits, None, False, scanned)


def _find_ascii(body: bytes, needle: bytes) -> list[tuple[int, int]]:
    """Return (start, stop) of the lines of ``body`` whose lower-case form holds ``needle``, last first."""
    lowered = body.lower()
    spans: list[tuple[int, int]] = []
    at = len(lowered)
    while True:
        at = lowered.rfind(needle, 0, at)
        if at < 0:
            return spans
        start = lowered.rfind(b"\n", 0, at) + 1
        spans.append((start, lowered.find(b"\n", at)))
        at = start


def _every_line(body: bytes) -> list[tuple[int, int]]:
    """Return (start, stop) of every line of ``body``, last first."""
    spans: list[tuple[int, int]] = []
    stop = len(body) - 1
    while stop > 0:
        start = body.rfind(b"\n", 0, stop) + 1
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
