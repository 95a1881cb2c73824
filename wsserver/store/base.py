"""Where channel logs and handles live: the seam between the hub and its storage.

A *store* gives the hub, per channel, two :class:`Feed` objects (the public
log and the private one) and a registry of handles.  Two stores exist:

* :mod:`wsserver.filestore`, the default: log files in the data dir, followed
  by tailers, and the users file (one machine, any number of processes);
* :mod:`wsserver.redisstore`: Redis Streams and a Redis registry, for nodes on
  several machines (``--store redis://...``).

Both keep the design whole: an append only stores the line; what subscribers
get is what the feed's reader reads back from the store, each line once, in
the store's order, with a cursor after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .users import Entry

Deliver = Callable[[bytes, str], None]
"""Receives whole lines (each ending in a newline) as read back, and the cursor just after them."""


class StoreError(OSError):
    """The store did not answer a read or a change of handles (an OSError, as a failed file read is)."""


class StoreUnavailable(Exception):
    """The store cannot be reached at start-up; the message names it and says why."""


@dataclass
class Backlog:
    """What a joiner gets before live lines: batches of lines (without the last newline) with their cursors.

    ``recovered`` is None without a ``since``; else whether the lines are exactly those after it.
    """

    recovered: bool | None
    batches: list[tuple[bytes, str]]


class Feed(Protocol):
    """One log of one channel: append to it, and read back every line once, in order."""

    def start(self) -> None:
        """Start reading from the current end."""

    async def stop(self) -> None:
        """Stop reading and let go of the log."""

    def reopen(self) -> None:
        """Follow the log after an operator moved it (SIGHUP)."""

    async def append(self, line: str) -> None:
        """Store one escaped line; raises :class:`~wsserver.channellog.AppendError` if it was not stored."""

    @property
    def cursor(self) -> str:
        """Return the position after the last line delivered."""

    async def wait_ready(self) -> None:
        """Wait until the reader knows where the log ends (subscribe only after this)."""

    async def backlog(self, history: int, since: str | None) -> Backlog:
        """Return the last ``history`` lines up to :attr:`cursor`, or the lines after ``since``.

        The position is taken before the first await: call it in the same step
        as subscribing, and the backlog ends exactly where live lines begin.
        """

    async def before(self, cursor: str, limit: int) -> tuple[bytes, str] | None:
        """Return up to ``limit`` lines before ``cursor`` and the cursor of the first; None for a bad cursor."""


class Handles(Protocol):
    """Who holds which handle in which channel, for every process on the store."""

    async def claim(self, handle: str, channel: str) -> bool:
        """Take ``handle`` in ``channel``; False if someone alive holds it; OSError if the store failed."""

    async def release(self, handle: str, channel: str) -> None:
        """Give ``handle`` in ``channel`` back (if this process holds it)."""

    async def reclaim(self) -> int:
        """Drop entries whose holders are gone; return how many."""

    async def release_all(self) -> int:
        """Release every handle this process still holds; return how many."""

    async def users(self, channel: str | None = None) -> list[Entry]:
        """Return the live entries, of one channel or all."""


class Store(Protocol):
    """Feeds and handles of one kind of storage."""

    @property
    def registry(self) -> Handles:
        """Return who holds which handle."""

    def feed(self, channel: str, private: bool, deliver: Deliver, gather: Callable[[], float] | None = None) -> Feed:
        """Return the (not yet started) feed of ``channel``'s public or private log.

        ``gather`` says how long to let lines pile up after a wake before reading (0: none).
        """

    async def start(self, users_changed: Callable[[], None]) -> None:
        """Start what feeds share; call ``users_changed`` when another process may have changed the handles."""

    async def stop(self) -> None:
        """Stop what :meth:`start` started."""

    def channel_names(self) -> list[str]:
        """Return the names of channels that have a log in the store."""

    def problem(self) -> str | None:
        """Return why the store cannot take lines now, or None."""
