"""The seam between the hub and its storage: what every store provides, and how it fails.

A *store* gives the hub, per channel, two :class:`Feed` objects (the public
log and the private one) and a registry of :class:`Handles`.  The
implementations (:mod:`~wsserver.store.files`, :mod:`~wsserver.store.redis`)
import this module; it imports neither.

Both keep the design whole: an append only stores the line; what subscribers
get is what the feed's reader reads back from the store, each line once, in
the store's order, as :class:`Lines` that say where they start and end.

A *cursor* is a store's opaque name for a position between two lines (or
before the first).  Every batch of lines carries the cursor before its first
line and the one after its last, so no client ever has to compute one.

Store faults form one tree::

    StoreError            the store did not do what was asked (read, claim, release)
     └── AppendError      a line was not stored; nothing of it is left in the log
    StoreUnavailable      the store cannot be reached at start-up (the server does not start)
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ..logline import LINE_RE, EscapeError, escape, unescape
from ..moderation import Action

T = TypeVar("T")


class StoreError(Exception):
    """The store did not answer a read, an append or a change of handles; the message says which and why."""


class AppendError(StoreError):
    """A line could not be stored whole; nothing of it is left in the log."""


class StoreUnavailable(Exception):
    """The store cannot be reached at start-up; the message names it and says why."""


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

    def split(self) -> list[tuple[bytes, str]]:
        """Return each line with the cursor after it."""
        return list(zip(self.data.split(b"\n"), self.ends, strict=True)) if self.ends else []

    def text(self) -> str:
        """Return the lines as text (bytes that are not UTF-8 replaced, never refused)."""
        return self.data.decode("utf-8", errors="replace")


Deliver = Callable[[Lines], None]
"""Receives each batch of lines a feed's reader read back, in order."""


@dataclass
class Backlog:
    """What a joiner gets before live lines.

    ``recovered`` is None without a ``since``; else whether the batches are
    exactly the lines after it.
    """

    recovered: bool | None
    batches: list[Lines]


@dataclass(frozen=True)
class Held:
    """A handle in a channel, and who holds it (a process ``host:pid``, or a node).

    ``away`` is set while its server stopped less than ``--rejoin-grace``
    seconds ago: the user is still in the channel for everyone else, and
    whoever joins with the handle takes it back at once.
    """

    handle: str
    channel: str
    holder: str
    away: bool = False


class Claim(enum.Enum):
    """What a claim of a handle found."""

    TAKEN = "taken"  # it was free: the handle is ours
    BACK = "back"  # it was away (its server stopped within the grace): ours again
    HELD = "held"  # someone alive holds it: refused


class Feed(Protocol):
    """One log of one channel: append to it, and read back every line once, in order."""

    def start(self) -> None:
        """Start reading from the current end."""

    async def stop(self) -> None:
        """Stop reading and let go of the log."""

    def reopen(self) -> None:
        """Follow the log after an operator moved it (SIGHUP)."""

    async def append(self, line: str) -> None:
        """Store one escaped line; raises :class:`AppendError` if it was not stored."""

    @property
    def cursor(self) -> str:
        """Return the position after the last line delivered."""

    async def wait_ready(self) -> None:
        """Wait until the reader knows where the log ends (subscribe only after this)."""

    async def backlog(self, history: int, since: str | None) -> Backlog:
        """Return the last ``history`` lines up to :attr:`cursor`, or the lines after ``since``.

        The position is taken before the first await: call it in the same step
        as subscribing, and the backlog ends exactly where live lines begin.
        Raises :class:`StoreError` if the store did not answer.
        """

    async def before(self, cursor: str | None, limit: int) -> Lines | None:
        """Return up to ``limit`` lines before the position ``cursor`` (None: the newest).

        The answer's ``start`` is the cursor to page from next; no lines
        means the start of the log.  Returns None for a cursor that names no
        position of this log; raises :class:`StoreError` if the store did not
        answer.
        """


QUERY_CHARS = 200  # the longest text a search looks for


@dataclass(frozen=True)
class Query:
    """What to look for: ``text`` in the message (case-insensitive, as unescaped), from ``handle`` if given."""

    text: str
    handle: str | None = None

    @property
    def needle(self) -> bytes:
        """Return the text as the log stores it, lower-cased: what a lower-cased block must hold."""
        return escape(self.text).lower().encode("utf-8")

    def matches(self, line: str) -> bool:
        """Return whether a log line is a public line whose message holds the text (and is from the handle)."""
        match = LINE_RE.match(line)
        if match is None or match.group(3) is not None:
            return False
        if self.handle is not None and match.group(2).lower() != self.handle.lower():
            return False
        try:
            text = unescape(match.group(4))
        except EscapeError:
            text = match.group(4)
        return self.text.lower() in text.lower()


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


class ActionLog(Protocol):
    """The moderation log: every action appended; every process reads it whole, then follows it."""

    async def append(self, action: Action) -> None:
        """Store one action; raises StoreError if it was not stored."""

    async def read(self) -> list[Action]:
        """Return every action so far (the next :meth:`follow` goes on from there); raises StoreError."""

    def follow(self, on_new: Callable[[list[Action], bool], None]) -> None:
        """Call ``on_new(actions, replaced)`` with new actions (``replaced``: the log was replaced, these are all)."""

    async def stop(self) -> None:
        """Stop following."""


class Events(Protocol):
    """Ephemeral events (typing) among the processes or nodes of a store: best effort, never stored."""

    async def start(self, receive: Callable[[dict[str, Any]], None]) -> None:
        """Start receiving the others' events."""

    def publish(self, event: dict[str, Any]) -> None:
        """Send ``event`` (a JSON object) to every other process or node; never waits."""

    async def stop(self) -> None:
        """Stop receiving."""


class Handles(Protocol):
    """Who holds which handle in which channel, for every process on the store."""

    # True if every change, a dead holder's included, is announced (users_changed with the
    # channels): then the hub re-reads every channel's users only now and then, as a check.
    changes_announced: bool

    async def claim(self, handle: str, channel: str) -> Claim:
        """Take ``handle`` in ``channel`` unless someone alive holds it; raises StoreError if the store failed."""

    async def release(self, handle: str, channel: str) -> None:
        """Give ``handle`` in ``channel`` back (if this process holds it)."""

    async def reclaim(self) -> int:
        """Drop entries whose holders are gone; return how many."""

    async def release_all(self) -> int:
        """Release every handle this process still holds (not those it left away); return how many."""

    async def leave_away(self, until: float) -> list[str]:
        """Mark every handle this process holds as away until ``until`` (Unix time), instead of releasing it.

        Returns the channels where no restart was under way yet: the caller
        writes the one restart line there.
        """

    async def announce_back(self) -> list[str]:
        """Return the channels with away handles whose return nobody announced yet, marking them announced."""

    async def expire_away(self, now: float) -> list[Held]:
        """Remove the away handles whose grace ended before ``now``; return them.

        Each is returned to exactly one process (the caller writes its leave line).
        """

    async def users(self, channel: str | None = None) -> list[Held]:
        """Return the live holders, of one channel or all; raises StoreError if the store failed."""

    async def users_in(self, channels: list[str]) -> list[Held]:
        """Return the live holders of these channels; raises StoreError if the store failed."""


class Store(Protocol):
    """Feeds and handles of one kind of storage."""

    @property
    def registry(self) -> Handles:
        """Return who holds which handle."""

    @property
    def actions(self) -> ActionLog:
        """Return the moderation log."""

    @property
    def events(self) -> Events:
        """Return the carrier of ephemeral events between processes or nodes."""

    def feed(self, channel: str, private: bool, deliver: Deliver, gather: Callable[[], float] | None = None) -> Feed:
        """Return the (not yet started) feed of ``channel``'s public or private log.

        ``gather`` says how long to let lines pile up after a wake before reading (0: none).
        """

    async def start(self, users_changed: Callable[[set[str] | None], None]) -> None:
        """Start what feeds share; call ``users_changed(channels)`` when another process may have changed handles.

        ``channels`` names the channels that changed, or is None for "any of them".
        """

    async def stop(self) -> None:
        """Stop what :meth:`start` started."""

    def channel_names(self) -> list[str]:
        """Return the names of channels that have a log in the store."""

    def finder(self, channel: str) -> Finder:
        """Return what searches and jumps in ``channel``'s public log."""

    def problem(self) -> str | None:
        """Return why the store cannot take lines now, or None."""

    async def measure(self) -> None:
        """Bring the store's gauges up to date, before a scrape of /metrics."""


def in_turn(items: list[T], position: int, count: int) -> tuple[list[T], int]:
    """Return ``count`` of ``items`` from ``position`` on (wrapping round), and where the next turn starts.

    For work done a share at a time on a list that changes between turns:
    over len(items) / count turns every item gets its turn.
    """
    if not items:
        return [], 0
    start = position % len(items)
    return (items[start:] + items[:start])[:count], start + count


class Backoff:
    """Delays between retries while a store does not answer: doubling from ``first`` up to ``most``."""

    def __init__(self, first: float = 0.1, most: float = 2.0) -> None:
        self.first, self.most = first, most
        self.delay = first

    async def wait(self) -> None:
        """Sleep the current delay, and double it for next time."""
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, self.most)

    def reset(self) -> None:
        """Start again from the first delay (the store answered)."""
        self.delay = self.first
