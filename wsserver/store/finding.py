"""Finding lines of one channel's log: what a :class:`Finder` reads, and the shapes it answers in.

Re-exported by :mod:`wsserver.store.base`, the seam every store implements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..lines.query import Query


@dataclass(frozen=True)
class Lines:
    """Whole lines of one log (joined by newlines, without the last one) and the cursors around them.

    ``ends`` is the cursor after each line (the last one is ``end``): what
    names one line, e.g. for a deletion.
    """

    data: bytes
    start: str  # before the first line
    end: str  # after the last line
    ends: tuple[str, ...] = ()

    def split(self) -> tuple[tuple[bytes, str], ...]:
        """Return each line with the cursor after it.

        Split once per batch, however many read it (a join storm's batch was split again for every
        joiner in it, and for its quiet lines, and for its annotations).
        """
        pairs: tuple[tuple[bytes, str], ...] | None = self.__dict__.get("_pairs")
        if pairs is None:
            pairs = tuple(zip(self.data.split(b"\n"), self.ends, strict=True)) if self.ends else ()
            object.__setattr__(self, "_pairs", pairs)  # frozen: not a field, so not in eq, hash or repr
        return pairs

    def text(self) -> str:
        """Return the lines as text (bytes that are not UTF-8 replaced, never refused)."""
        return self.data.decode("utf-8", errors="replace")


@dataclass
class Found:
    """Lines a search found, newest first: each line and the cursor just after it.

    ``next`` is the cursor to search on from (None: the start of the log was
    reached); ``partial`` says the search was cut off before it found ``limit`` lines.
    """

    hits: list[tuple[str, str]]
    next: str | None
    partial: bool = False


@dataclass
class Window:
    """A stretch of a log read for a jump: its lines, the line to mark in them, and whether it reaches the end."""

    lines: Lines
    mark: int | None  # index of the line asked for (around) or the first at the time (at); None if none
    latest: bool  # no line after it (when read)


class Finder(Protocol):
    """Find lines of one channel's public log, whether or not this process serves the channel."""

    async def search(self, query: Query, before: str | None, limit: int, seconds: float) -> Found | None:
        """Return up to ``limit`` lines ``query`` matches before the position ``before`` (None: the end), newest first.

        Stops after about ``seconds`` with ``partial`` set.  Returns None for a
        cursor that names no position of this log; raises StoreError.
        """

    async def around(self, cursor: str, limit: int) -> Window | None:
        """Return the line just before ``cursor`` with about ``limit // 2`` lines on each side; None: no such line."""

    async def at(self, stamp: str, limit: int) -> Window:
        """Return up to ``limit`` lines from the first one stamped at or after ``stamp`` (``YYYY-MM-DD HH:MM:SS``)."""

    async def after(self, cursor: str, limit: int) -> Window | None:
        """Return up to ``limit`` lines after ``cursor``; None for a cursor that names no position of this log."""

    async def erase(self, cursor: str) -> bool:
        """Overwrite the text of the line just before ``cursor`` in place (same size); False if there is none."""

    async def place(self, cursor: str) -> Place | None:
        """Return where the line just before ``cursor`` is, to order read positions; None if no line ends there."""

    async def pick(self, cursors: list[str]) -> list[bytes | None]:
        """Return the line just before each cursor (None where no line of the current log ends there)."""

    async def scan(self, end: str | None, markers: tuple[bytes, ...], start: str | None = None) -> Scanned | None:
        """Return each line between ``start`` and ``end`` holding one of ``markers``, and the line after each, in order.

        ``start`` None is the start of the log, ``end`` None its end.  The log
        is read once, forward, in blocks in a thread or in pages of entries:
        what an index derived from the log is built from.  Returns None when
        ``start`` names no position of the current log up to ``end``; a cursor
        ``end`` of another log answers nothing.  Raises StoreError.
        """

    def locate(self, cursor: str) -> tuple[str, str] | None:
        """Return (log, ref): which log ``cursor`` is of, and its position as log lines write it; None if not a cursor.

        A *ref* names a position without naming the log (a byte offset, an
        entry ID), so that a copy of the log still means the same.
        """

    def cursor_at(self, log: str, ref: str) -> str | None:
        """Return the cursor of ``ref`` in ``log`` (the inverse of :meth:`locate`); None if ``ref`` is not one."""

    def order(self, ref: str) -> str:
        """Return a key of ``ref`` that sorts as the log does (zero-padded digits)."""


@dataclass(frozen=True)
class Place:
    """A line's place in the current log: which log (a file, a stream's epoch) and an ordinal in it.

    ``ordinal`` is a zero-padded decimal string, so two places of one log
    compare as strings (in a Lua script too).  A place of another log is
    older than any of the current one: a rotated file, a stream made anew.
    """

    log: str
    ordinal: str

    def encode(self, cursor: str) -> str:
        """Return the stored form of a read position: ``log ordinal cursor``."""
        return f"{self.log} {self.ordinal} {cursor}"

    @staticmethod
    def decode(stored: str) -> tuple[Place, str] | None:
        """Return the place and cursor of a stored read position, or None for a torn or foreign one."""
        fields = stored.strip().split(" ")
        if len(fields) != 3 or not fields[1].isdigit():
            return None
        return Place(fields[0], fields[1]), fields[2]

    def after(self, stored: Place | None) -> bool:
        """Return whether this place is past ``stored`` (None: nothing stored, or a place in an older log)."""
        return stored is None or stored.log != self.log or self.ordinal > stored.ordinal


Scanned = list[tuple[bytes, str]]
"""Lines of a log, each with the cursor just after it, in log order."""
