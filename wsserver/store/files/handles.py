"""Who holds which handle in which channel, across every process on one data dir.

The truth is ``registered_users.log``: one ``handle|channel|host|pid|start``
line per connected user.  The first two fields are what operators and older
tools read; the last three name the owning process, so entries left behind by
a process that died can be told apart and reclaimed.

Every change is a read-modify-write made while holding an exclusive
``flock`` on ``registered_users.lock``; the new content is written to a
temporary file and renamed over the old one, so a reader (or a crash) never
sees half a file.  Claims and releases that arrive together are applied in
one such round, in a thread, so a thousand joins at once cost a few file
rewrites, not a thousand, and the event loop never waits on the lock.

Handles are compared without regard to case: ``alice`` cannot join a
channel where ``Alice`` is.

A *shared* claim (a token identity, which may use several devices) joins a
seat that other processes hold with shared claims: one line per process,
marked ``|1`` in an eighth field, and the seat is empty when the last of
them is released.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import functools
import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

from ...background import ThreadBatch
from ..base import Claim, Held, StoreError
from .userlines import HEAD, Entry, Owner, UsersRead

log = logging.getLogger(__name__)

T = TypeVar("T")

USERS_FILE = "registered_users.log"
LOCK_FILE = "registered_users.lock"
LAST, KEPT = "last", "kept"  # what a release found: the seat is empty now, or another process still holds it


@dataclass
class _Op:
    claim: bool
    entry: Entry


class FileHandles:
    """Claim and release handles in the shared users file."""

    changes_announced = False  # a killed process changes nothing in the file: the hub re-reads it every 5 s

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / USERS_FILE
        self._lock_path = data_dir / LOCK_FILE
        self.owner = Owner.current()
        # The parsed file as this process last read it: lines another process appended since are
        # read and parsed alone (a join storm on two workers re-parsed 20,000 lines per batch: py-spy).
        self._cache: UsersRead | None = None
        self._users_memo: SeatsHeld | None = None  # users(): the seats of the last read, while they hold
        # Each seat's holders as the last batch left them, and the list they index (its length, first and last).
        self._indexed: tuple[int, Entry, Entry, dict[tuple[str, str], list[Entry]]] | None = None
        self._added_only = False  # the change under the lock only added claims of new seats (_apply says)
        # Claims and releases that arrive together: one locked round of the file, in a thread.
        self._batch = ThreadBatch("users file", self._apply_locked, self._failed)

    # ------------------------------------------------------------ public

    async def claim(self, handle: str, channel: str, shared: bool = False) -> Claim:
        """Take ``handle`` in ``channel`` for this process, unless someone alive holds it (Claim.HELD).

        With ``shared``, a seat held only by shared claims is joined (Claim.SHARED).
        Raises StoreError if the users file cannot be changed.
        """
        return Claim(await self._submit(True, Entry(handle, channel, self.owner, shared=shared)))

    async def release(self, handle: str, channel: str) -> bool:
        """Give ``handle`` in ``channel`` back; return whether the seat is now empty (no other process holds it)."""
        return await self._submit(False, Entry(handle, channel, self.owner)) == LAST

    async def leave_away(self, until: float) -> list[str]:
        """Mark this process's entries away until ``until``; return the channels where none was away yet."""
        return await self._change(functools.partial(self._mark_away, until=until))

    async def announce_back(self) -> list[str]:
        """Flag the away entries of each channel announced; return the channels that had none flagged."""
        return await self._change(self._announce)

    async def expire_away(self, now: float) -> list[Held]:
        """Remove the away entries whose grace ended before ``now``; return them."""
        return await self._change(functools.partial(self._expire, now=now))

    async def _change(self, change: Callable[[list[Entry]], T]) -> T:
        try:
            return await asyncio.to_thread(self._locked, change)
        except OSError as exc:
            raise StoreError(f"updating {self.path} failed: {exc}") from exc

    async def reclaim(self) -> int:
        """Drop every entry whose process is gone (and this process's own); return how many."""
        return await self._change(self._reclaim_all)

    async def release_all(self) -> int:
        """Drop every entry this process holds; return how many."""
        return await self._change(self._drop_own)

    async def users_in(self, channels: list[str]) -> list[Held]:
        """Return the handles held by live processes in these channels (one read of the file)."""
        wanted = set(channels)
        return [entry for entry in await self.users() if entry.channel in wanted]

    async def users(self, channel: str | None = None) -> list[Held]:
        """Return the seats held by live processes, in file order, of one channel or all; raises StoreError."""
        try:
            entries = await asyncio.to_thread(self._read_snapshot)
        except OSError as exc:
            raise StoreError(f"reading {self.path} failed: {exc}") from exc
        now = time.time()
        memo = self._users_memo
        # The same read, the same processes alive and no away seat's grace ended: the same seats. (Worked
        # out anew from 20,000 entries at every poll, they were a tenth of a worker sending lines: perf, W5.)
        if memo is None or memo.entries is not entries or now >= memo.ends \
                or any(owner.alive() != was for owner, was in memo.alive.items()):
            memo = self._users_memo = _seats_held(entries, now)
        return list(memo.held) if channel is None else [seat for seat in memo.held if seat.channel == channel]

    # ------------------------------------------------------------ batching

    def _submit(self, claim: bool, entry: Entry) -> asyncio.Future[str]:
        return self._batch.submit(_Op(claim, entry))

    def _apply_locked(self, batch: list[_Op]) -> list[str]:
        return self._locked(functools.partial(self._apply, batch=batch))

    def _failed(self, exc: Exception) -> StoreError:
        log.error("updating %s failed", self.path, exc_info=exc)
        return StoreError(f"updating {self.path} failed: {exc}")

    # ------------------------------------------------------------ in a thread

    def _locked(self, change: Callable[[list[Entry]], T]) -> T:
        """Run ``change(entries)`` under the lock; it edits the list in place and returns a result."""
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # The snapshot read is immutable: it is the "before", and one list of it is edited (a join storm
            # copied 20,000 entries three times per batch of claims: perf, docs/performance.md).
            before = self._read_snapshot()
            entries = list(before)
            self._added_only = False
            result = change(entries)
            if not self._added_only:
                self._indexed = None  # a change other than a batch's: the seats are indexed anew next time
            if self._added_only or (len(entries) > len(before)
                                    and all(a is b for a, b in zip(entries, before, strict=False))):
                # Only claims of new seats: append them (one write, under the lock) rather
                # than rewrite a file of thousands of lines per join.
                self._append(entries[len(before) :], entries)
            elif tuple(entries) != before:
                self._write(entries)
            return result
        finally:
            os.close(fd)  # closing releases the lock

    def _read_snapshot(self) -> tuple[Entry, ...]:
        """Return the file's entries: those read before, and the lines appended since, read alone.

        The cache's own tuple, not a copy: callers edit a list of it.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return ()
        try:
            stat = os.fstat(fd)
            size, cached = stat.st_size, self._cache
            if cached is not None and cached.same_file(fd, stat):
                if cached.offset == size:
                    return cached.entries
                snapshot = cached.grown(fd, os.pread(fd, size - cached.offset, cached.offset))
            else:
                snapshot = UsersRead.of(stat.st_ino, os.pread(fd, size, 0))
        finally:
            os.close(fd)
        self._cache = snapshot
        return snapshot.entries

    def _append(self, added: list[Entry], entries: list[Entry]) -> None:
        data = "".join(entry.format() + "\n" for entry in added).encode("utf-8")
        with open(self.path, "ab") as out:
            out.write(data)
            out.flush()
            cached = self._cache  # read under the lock just now: the file was exactly that before this write
            stat = os.fstat(out.fileno())
            inode, size = stat.st_ino, stat.st_size
        if cached is not None and cached.inode == inode and cached.offset + len(data) == size:
            head = cached.head if len(cached.head) == HEAD else (cached.head + data)[:HEAD]
            self._cache = UsersRead(inode, size, head, (cached.tail + data)[-HEAD:], tuple(entries))
        else:
            self._cache = None

    def _write(self, entries: Iterable[Entry]) -> None:
        kept = list(entries)
        data = "".join(entry.format() + "\n" for entry in kept).encode("utf-8")
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with open(temporary, "wb") as out:
            out.write(data)
            out.flush()
            inode = os.fstat(out.fileno()).st_ino
        os.replace(temporary, self.path)
        self._cache = UsersRead(inode, len(data), data[:HEAD], data[-HEAD:], tuple(kept))

    def _live(self, entry: Entry) -> bool:
        return entry.owner is not None and entry.owner.alive()

    def _seats(self, entries: list[Entry]) -> dict[tuple[str, str], list[Entry]]:
        """Return each seat's holders among ``entries``: the last batch's index, with what was appended since.

        ``entries`` extends the list the last batch left when its first and last entries then are the
        same objects (lines read on are added to the same objects; a file another process rewrote is
        parsed anew, and any other change of this process drops the index).
        """
        known = self._indexed
        if known is not None:
            count, first, last, index = known
            if 0 < count <= len(entries) and entries[0] is first and entries[count - 1] is last:
                for entry in entries[count:]:
                    index.setdefault(entry.key, []).append(entry)
                return index
        index = {}
        for entry in entries:
            index.setdefault(entry.key, []).append(entry)
        return index

    def _apply(self, entries: list[Entry], *, batch: list[_Op]) -> list[str]:
        # Each seat's holders, kept from batch to batch: a join storm on two workers rebuilt it from 20,000
        # entries for every batch of a few claims (py-spy, docs/performance.md).
        index = self._seats(entries)
        touched: dict[tuple[str, str], list[Entry]] = {}
        results = []
        for op in batch:
            key = op.entry.key
            holders = touched[key] if key in touched else index.get(key, [])
            if op.claim:
                result, holders = self._claim(op.entry, holders)
            else:
                holders = [h for h in holders if h.owner != self.owner or h.away_until is not None]
                result = KEPT if holders else LAST
            touched[key] = holders
            results.append(result)
        # Untouched seats keep their place; so a batch of new claims only appends (_locked writes just those).
        if any(key in index for key in touched):
            kept = [e for e in entries if e.key not in touched]
            entries[:] = kept + [entry for holders in touched.values() for entry in holders]
        else:
            entries.extend(entry for holders in touched.values() for entry in holders)
            self._added_only = True
        for key, holders in touched.items():
            if holders:
                index[key] = holders
            else:
                index.pop(key, None)
        self._indexed = (len(entries), entries[0], entries[-1], index) if entries else None
        return results

    def _claim(self, entry: Entry, holders: list[Entry]) -> tuple[str, list[Entry]]:
        """Return what a claim of ``entry`` finds among the seat's ``holders``, and the holders after it."""
        live = [h for h in holders if h.away_until is None and self._live(h)]
        for gone in holders:
            if gone.away_until is None and gone not in live:
                log.info("reclaiming %s left by a process that is gone", gone.format())
        if live:
            if not (entry.shared and all(h.shared for h in live)):
                return Claim.HELD.value, holders
            mine = [h for h in live if h.owner == self.owner]
            return Claim.SHARED.value, live + ([] if mine else [entry])  # away ones: the identity never left
        if any(h.away_until is not None for h in holders):
            return Claim.BACK.value, [entry]  # away, not held: whoever comes takes it back
        return Claim.TAKEN.value, [entry]

    def _reclaim_all(self, entries: list[Entry]) -> int:
        # Away entries are kept: their grace ends with a leave line (expire_away), not silently.
        keep = [e for e in entries if e.away_until is not None or (e.owner != self.owner and self._live(e))]
        dropped = len(entries) - len(keep)
        entries[:] = keep
        return dropped

    def _drop_own(self, entries: list[Entry]) -> int:
        keep = [e for e in entries if e.owner != self.owner or e.away_until is not None]
        dropped = len(entries) - len(keep)
        entries[:] = keep
        return dropped

    def _mark_away(self, entries: list[Entry], *, until: float) -> list[str]:
        now = time.time()
        restarting = {e.channel for e in entries if e.away_until is not None and e.away_until > now}
        first: list[str] = []
        for index, entry in enumerate(entries):
            if entry.owner == self.owner and entry.away_until is None:
                entries[index] = dataclasses.replace(entry, away_until=until)
                if entry.channel not in restarting:
                    restarting.add(entry.channel)
                    first.append(entry.channel)
        return first

    def _announce(self, entries: list[Entry]) -> list[str]:
        flagged = {e.channel for e in entries if e.away_until is not None and e.announced}
        channels: list[str] = []
        for index, entry in enumerate(entries):
            if entry.away_until is not None and not entry.announced:
                entries[index] = dataclasses.replace(entry, announced=True)
                if entry.channel not in flagged and entry.channel not in channels:
                    channels.append(entry.channel)
        return channels

    def _expire(self, entries: list[Entry], *, now: float) -> list[Held]:
        gone = [e for e in entries if e.away_until is not None and e.away_until <= now]
        if gone:
            entries[:] = [e for e in entries if e not in gone]
        # A seat another process still holds (a device of the identity) has not been left: no leave line.
        kept = {e.key for e in entries}
        seats = {e.key: e for e in gone if e.key not in kept}
        return [Held(e.handle, e.channel, f"{e.owner.host}:{e.owner.pid}" if e.owner else "-", True)
                for e in seats.values()]


class SeatsHeld(NamedTuple):
    """The seats held among a read of the users file, and what they depend on (kept by users() between calls)."""

    entries: tuple[Entry, ...]  # the read
    alive: dict[Owner, bool]  # the processes asked whether they are alive, and the answers
    ends: float  # when the first away seat's grace ends (from then on the seats differ)
    held: list[Held]  # in file order


def _seats_held(entries: tuple[Entry, ...], now: float) -> SeatsHeld:
    """Return the seats held among ``entries`` now, with what they depend on."""
    alive: dict[Owner, bool] = {}  # one liveness check per process, not per entry
    for entry in entries:
        if entry.owner is not None and entry.away_until is None and entry.owner not in alive:
            alive[entry.owner] = entry.owner.alive()
    seats: dict[tuple[str, str], Held] = {}  # one per seat, however many processes share it
    holders: dict[Owner, str] = {}  # "host:pid", one string per process
    ends = math.inf
    for e in entries:
        if e.away_until is not None and e.away_until > now:
            ends = min(ends, e.away_until)
        if e.owner is not None and e.key not in seats \
                and (e.away_until > now if e.away_until is not None else alive[e.owner]):
            holder = holders.get(e.owner)
            if holder is None:
                holder = holders[e.owner] = f"{e.owner.host}:{e.owner.pid}"
            seats[e.key] = Held(e.handle, e.channel, holder, e.away_until is not None)
    return SeatsHeld(entries, alive, ends, list(seats.values()))
