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
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .base import Held, StoreError

log = logging.getLogger(__name__)

USERS_FILE = "registered_users.log"
LOCK_FILE = "registered_users.lock"


@dataclass(frozen=True)
class Owner:
    """A process that can hold handles: host name, pid and kernel start time."""

    host: str
    pid: int
    start: str

    @classmethod
    def current(cls) -> Owner:
        """Return the owner that stands for this process."""
        return cls(socket.gethostname(), os.getpid(), _start_time(os.getpid()) or "")

    def alive(self) -> bool:
        """Return whether the owning process still runs; entries of other hosts always count as alive."""
        if self.host != socket.gethostname():
            return True
        if self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        start = _start_time(self.pid)
        return start is None or start == self.start


def _start_time(pid: int) -> str | None:
    """Return the kernel's start time of ``pid``, which tells a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19].decode() if len(fields) > 19 else None


@dataclass(frozen=True)
class Entry:
    """One line of the users file."""

    handle: str
    channel: str
    owner: Owner | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.handle.lower(), self.channel)

    def format(self) -> str:
        if self.owner is None:
            return f"{self.handle}|{self.channel}"
        return f"{self.handle}|{self.channel}|{self.owner.host}|{self.owner.pid}|{self.owner.start}"

    @classmethod
    def parse(cls, line: str) -> Entry | None:
        fields = line.rstrip("\n").split("|")
        if len(fields) < 2 or not fields[0] or not fields[1]:
            return None
        owner = None
        if len(fields) >= 5:
            try:
                owner = Owner(fields[2], int(fields[3]), fields[4])
            except ValueError:
                owner = None
        return cls(fields[0], fields[1], owner)


@dataclass
class _Op:
    claim: bool
    entry: Entry
    done: asyncio.Future[bool]


class Registry:
    """Claim and release handles in the shared users file."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / USERS_FILE
        self._lock_path = data_dir / LOCK_FILE
        self.owner = Owner.current()
        # The parsed file, and what it looked like when parsed (inode, size,
        # mtime): re-read only when another process changed it.
        self._cache: tuple[tuple[int, int, int], list[Entry]] | None = None
        self._ops: list[_Op] = []
        self._worker: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ public

    async def claim(self, handle: str, channel: str) -> bool:
        """Take ``handle`` in ``channel`` for this process; False if someone alive holds it.

        Raises StoreError if the users file cannot be changed.
        """
        return await self._submit(True, Entry(handle, channel, self.owner))

    async def release(self, handle: str, channel: str) -> None:
        """Give ``handle`` in ``channel`` back."""
        await self._submit(False, Entry(handle, channel, self.owner))

    async def reclaim(self) -> int:
        """Drop every entry whose process is gone (and this process's own); return how many."""
        return await asyncio.to_thread(self._locked, self._reclaim_all)

    async def release_all(self) -> int:
        """Drop every entry this process holds; return how many."""
        return await asyncio.to_thread(self._locked, self._drop_own)

    async def users(self, channel: str | None = None) -> list[Held]:
        """Return the handles held by live processes, in file order, optionally of one channel.

        Raises StoreError if the file cannot be read.
        """
        try:
            entries = await asyncio.to_thread(self._read_cached)
        except OSError as exc:
            raise StoreError(f"reading {self.path} failed: {exc}") from exc
        alive: dict[Owner, bool] = {}  # one liveness check per process, not per entry
        for entry in entries:
            if entry.owner is not None and entry.owner not in alive:
                alive[entry.owner] = entry.owner.alive()
        return [
            Held(e.handle, e.channel, f"{e.owner.host}:{e.owner.pid}") for e in entries
            if (channel is None or e.channel == channel) and e.owner is not None and alive[e.owner]
        ]

    # ------------------------------------------------------------ batching

    def _submit(self, claim: bool, entry: Entry) -> asyncio.Future[bool]:
        loop = asyncio.get_running_loop()
        op = _Op(claim, entry, loop.create_future())
        self._ops.append(op)
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain(), name="users file")
        return op.done

    async def _drain(self) -> None:
        while self._ops:
            batch, self._ops = self._ops, []
            try:
                results = await asyncio.to_thread(self._locked, functools.partial(self._apply, batch=batch))
            except Exception as exc:
                log.exception("updating %s failed", self.path)
                fault = StoreError(f"updating {self.path} failed: {exc}")
                for op in batch:
                    if not op.done.done():
                        op.done.set_exception(fault)
                continue
            for op, granted in zip(batch, results, strict=True):
                if not op.done.done():
                    op.done.set_result(granted)

    # ------------------------------------------------------------ in a thread

    def _read(self) -> list[Entry]:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as users:
                return [e for e in map(Entry.parse, users) if e is not None]
        except FileNotFoundError:
            return []

    def _locked(self, change):  # type: ignore[no-untyped-def]
        """Run ``change(entries)`` under the lock; it edits the list in place and returns a result."""
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            entries = self._read_cached()
            before = list(entries)
            result = change(entries)
            if entries[: len(before)] == before and len(entries) > len(before):
                # Only claims: append them (one write, under the lock) rather
                # than rewrite a file of thousands of lines per join.
                self._append(entries[len(before) :], entries)
            elif entries != before:
                self._write(entries)
            return result
        finally:
            os.close(fd)  # closing releases the lock

    @staticmethod
    def _signature(stat: os.stat_result) -> tuple[int, int, int]:
        return (stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def _read_cached(self) -> list[Entry]:
        try:
            signature = self._signature(os.stat(self.path))
        except FileNotFoundError:
            return []
        if self._cache is not None and self._cache[0] == signature:
            return list(self._cache[1])
        entries = self._read()
        self._cache = (signature, list(entries))
        return entries

    def _append(self, added: list[Entry], entries: list[Entry]) -> None:
        with open(self.path, "a", encoding="utf-8") as out:
            out.write("".join(entry.format() + "\n" for entry in added))
            out.flush()
            self._cache = (self._signature(os.fstat(out.fileno())), list(entries))

    def _write(self, entries: Iterable[Entry]) -> None:
        kept = list(entries)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with open(temporary, "w", encoding="utf-8") as out:
            out.writelines(entry.format() + "\n" for entry in kept)
            out.flush()
            signature = self._signature(os.fstat(out.fileno()))
        os.replace(temporary, self.path)
        self._cache = (signature, kept)

    def _live(self, entry: Entry) -> bool:
        return entry.owner is not None and entry.owner.alive()

    def _apply(self, entries: list[Entry], *, batch: list[_Op]) -> list[bool]:
        held = {e.key: e for e in entries}
        results = []
        for op in batch:
            key = op.entry.key
            holder = held.get(key)
            if op.claim:
                if holder is not None and self._live(holder):
                    results.append(False)
                    continue
                if holder is not None:
                    log.info("reclaiming %s left by a process that is gone", holder.format())
                held[key] = op.entry
            elif holder is not None and holder.owner == self.owner:
                del held[key]
            results.append(True)
        entries[:] = held.values()
        return results

    def _reclaim_all(self, entries: list[Entry]) -> int:
        keep = [e for e in entries if e.owner != self.owner and self._live(e)]
        dropped = len(entries) - len(keep)
        entries[:] = keep
        return dropped

    def _drop_own(self, entries: list[Entry]) -> int:
        keep = [e for e in entries if e.owner != self.owner]
        dropped = len(entries) - len(keep)
        entries[:] = keep
        return dropped
