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

Store faults are the :class:`~wsserver.errors.StoreError` branch of the
package's one error tree, re-exported here: whatever a store's own library
raises (``OSError``, Redis errors) is turned into one of them before it
leaves the store::

    StoreError            the store did not do what was asked (read, claim, release)
     ├── AppendError      a line was not stored; nothing of it is left in the log
     └── StoreUnavailable the store cannot be reached at start-up (the server does not start)
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import AppendError, StoreError, StoreUnavailable
from ..lines.moderation_log import Action
from .accounts import Accounts as Accounts  # re-exported: the face of accounts, beside the others
from .finding import Finder, Found, Lines, Place, Scanned, Window

# The store's part of the error tree (:mod:`wsserver.errors`), re-exported.
__all__ = ["AppendError", "Finder", "Found", "Lines", "Place", "Scanned", "StoreError", "StoreUnavailable", "Window"]


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


@dataclass(frozen=True, slots=True)  # slots: a users file's 20,000 of them are kept between reads
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
    SHARED = "shared"  # a shared claim joined the seat other processes hold for the same identity


class Feed(Protocol):
    """One log of one channel: append to it, and read back every line once, in order."""

    def start(self) -> None:
        """Start reading from the current end."""

    async def stop(self) -> None:
        """Stop reading and let go of the log."""

    def reopen(self) -> None:
        """Follow the log after an operator moved it (SIGHUP)."""

    async def append(self, line: str) -> str:
        """Store one escaped line (or several, joined by newlines); return the cursor after the last.

        Raises :class:`AppendError` if it was not stored.
        """

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


class Reads(Protocol):
    """Read positions: how far each identity has read in each channel, kept durably for every process."""

    async def get(self, channel: str, who: str) -> str | None:
        """Return the cursor ``who`` (a lower-cased handle) has read to in ``channel``, or None; raises StoreError."""

    async def advance(self, channel: str, who: str, cursor: str, place: Place) -> bool:
        """Move ``who``'s position to ``cursor`` (at ``place``) if it is past the stored one; return whether it moved.

        Atomic for every process on the store: two moves never leave the
        position behind either.  Raises StoreError.
        """


class Indexes(Protocol):
    """Snapshots of derived indexes (annotations), kept beside the logs: a stale or lost one costs a rebuild."""

    async def load(self, channel: str) -> bytes | None:
        """Return the snapshot of ``channel``, or None; raises StoreError."""

    async def save(self, channel: str, data: bytes) -> None:
        """Replace the snapshot of ``channel``; raises StoreError."""


class Keys(Protocol):
    """Public keys for end-to-end encryption: per channel, per identity, one per device (the last published wins)."""

    async def publish(self, channel: str, handle: str, device: str, key: dict[str, Any], only: bool) -> None:
        """Keep ``handle``'s public ``key`` for ``device`` (``only``: as its one key); raises StoreError."""

    async def get(self, channel: str, present: Collection[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """Return, for each handle in ``present`` that has keys, device -> public key; raises StoreError.

        The cost follows the keys kept, not the users present: a join storm
        in a channel of thousands without keys reads next to nothing.
        """


class Tickets(Protocol):
    """One-time tickets (upload URLs) every process can take, once, until they expire."""

    async def issue(self, ticket: str, data: dict[str, Any], seconds: float) -> None:
        """Keep ``data`` under ``ticket`` for ``seconds``; raises StoreError."""

    async def take(self, ticket: str) -> dict[str, Any] | None:
        """Return and remove the data of ``ticket``, or None (unknown, taken, expired); once only, on every process.

        Raises StoreError.
        """

    async def drop(self, tickets: list[str]) -> None:
        """Remove ``tickets`` (their connection closed); raises StoreError."""


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

    async def claim(self, handle: str, channel: str, shared: bool = False) -> Claim:
        """Take ``handle`` in ``channel`` unless someone alive holds it; raises StoreError if the store failed.

        ``shared`` (a token identity): a seat that only shared claims hold is
        joined, not refused (Claim.SHARED), and stays until the last releases it.
        """

    async def release(self, handle: str, channel: str) -> bool:
        """Give ``handle`` in ``channel`` back (if this process holds it); return whether the seat is now empty."""

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

    @property
    def reads(self) -> Reads:
        """Return the read positions."""

    @property
    def indexes(self) -> Indexes:
        """Return the snapshots of annotation indexes."""

    @property
    def tickets(self) -> Tickets:
        """Return the one-time upload tickets."""

    @property
    def keys(self) -> Keys:
        """Return the public keys of end-to-end encryption."""

    @property
    def accounts(self) -> Accounts:
        """Return the accounts, sessions and invitations (used with --accounts)."""

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

    async def durable(self) -> None:
        """Return once the appends made so far are on the disk as the store promises (an explicit ok waits).

        The file store: as ``--fsync`` says; Redis: its own ``appendfsync``.  Raises AppendError when the
        flush failed.
        """

    def channel_names(self) -> list[str]:
        """Return the names of channels that have a log in the store."""

    def finder(self, channel: str, private: bool = False) -> Finder:
        """Return what searches and jumps in ``channel``'s public log (``private``: its private log)."""

    def problem(self) -> str | None:
        """Return why the store cannot take lines now, or None."""

    async def measure(self) -> None:
        """Bring the store's gauges up to date, before a scrape of /metrics."""


Position = Any
"""Where a follow has got to in a channel's log; only the admin that made it reads it."""


class Admin(Protocol):
    """A store as the operator commands see it: read, append and check it beside running servers.

    Every method raises :class:`StoreError` when the store fails, and
    :class:`~wsserver.errors.CommandError` for a value it cannot use.
    """

    name: str  # for messages: "the data dir DIR", "Redis at URL"
    where: str  # "in DIR", "in Redis at URL"

    @property
    def actions(self) -> ActionLog:
        """Return the moderation log."""

    @property
    def accounts(self) -> Accounts:
        """Return the accounts, sessions and invitations."""

    async def has_channel(self, channel: str) -> bool:
        """Return whether ``channel`` has a log in the store."""

    async def channel_names(self) -> list[str]:
        """Return the channels that have a log in the store."""

    async def last(self, channel: str, count: int) -> tuple[list[str], Position]:
        """Return the last ``count`` lines of ``channel``, and the position after them."""

    async def after(self, channel: str, position: Position) -> tuple[list[str], Position]:
        """Wait up to about a second for lines after ``position``; return them and the new position."""

    async def append(self, channel: str, line: str) -> None:
        """Append a line to ``channel``, as the servers do (they deliver it)."""

    async def users(self, channel: str | None) -> list[Held]:
        """Return the handles held by live processes or nodes."""

    async def check(self, report: Callable[[str], None]) -> str:
        """Report each problem of every log and of the handles; return what was read (``checked N ...``)."""

    def lines(self, channel: str, since: str | None) -> AsyncIterator[str]:
        """Yield the whole lines of ``channel`` from the first stamped at or after ``since`` (a log stamp)."""

    def finder(self, channel: str, private: bool = False) -> Finder:
        """Return what searches ``channel``'s public log (``private``: its private log), as the servers do."""

    async def backup(self, target: Path, files_dir: Path) -> list[str]:
        """Copy what a deployment needs to come back into ``target`` (new or empty); return what it did, a line each."""

    async def close(self) -> None:
        """Let go of the store."""
