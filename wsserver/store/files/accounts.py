"""Accounts in the data dir: ``accounts/`` holds four small JSON files, each changed whole under one lock.

* ``accounts.json``: handle (lower case) -> the account (handle, password hash, op, ops, disabled,
  removed, created, seen);
* ``sessions.json``: SHA-256 of a session secret -> handle, created, expires, address;
* ``invites.json``: SHA-256 of an invitation code -> uses left, expires, op, handle (a link for one person);
* ``attempts.json``: ``handle:alice`` or ``address:203.0.113.9`` -> times of failed sign-ins;
* ``challenges.json``: passkey challenges (one use, five minutes).

Every change takes an exclusive ``flock`` on ``accounts/.lock``, reads the file, and writes the new
one to a temporary file that is flushed (``fsync``) and renamed over it: every process sees each
change whole, and a crash leaves the old file or the new one.  Reads of ``sessions.json`` (each
socket of a signed-in person) are served from memory while the file is unchanged; a read returns
a copy (as Redis's answers are fresh), so that no caller changes what is cached.
"""

from __future__ import annotations

import asyncio
import copy
import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..base import StoreError

ACCOUNTS_DIR = "accounts"
FILES = ("accounts.json", "sessions.json", "invites.json", "attempts.json", "challenges.json")
T = TypeVar("T")
Table = dict[str, Any]


class FileAccounts:
    """Accounts, sessions, invitations and failed sign-ins as JSON files under ``<data dir>/accounts/``."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / ACCOUNTS_DIR
        self._cache: dict[str, tuple[tuple[int, int, int], Table]] = {}

    # ------------------------------------------------------------ the files

    def _read(self, name: str) -> Table:
        path = self.folder / name
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return {}
        signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        cached = self._cache.get(name)
        if cached is not None and cached[0] == signature:
            return cached[1]
        try:
            table = json.loads(path.read_bytes() or b"{}")
        except ValueError as exc:
            raise OSError(f"{path} is not JSON: {exc}") from None
        table = table if isinstance(table, dict) else {}
        self._cache[name] = (signature, table)
        return table

    def _change(self, name: str, change: Callable[[Table], T]) -> T:
        """Run ``change`` on a copy of the table under the lock; write it back if it changed."""
        self.folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            table = json.loads(json.dumps(self._read(name)))  # a copy: the cache keeps what is on disk
            before = json.dumps(table, sort_keys=True)
            result = change(table)
            if json.dumps(table, sort_keys=True) != before:
                temporary = self.folder / f".{name}.{os.getpid()}.tmp"
                with open(temporary, "w", encoding="utf-8", opener=_private) as out:
                    json.dump(table, out, indent=1, sort_keys=True)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, self.folder / name)
            return result
        finally:
            os.close(fd)  # closing releases the lock

    async def _run(self, what: str, work: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(work)
        except OSError as exc:
            raise StoreError(f"{what} in {self.folder} failed: {exc}") from exc

    # ------------------------------------------------------------ accounts

    async def get(self, handle: str) -> Table | None:
        """Return the account of ``handle`` (any case), or None."""
        return await self._run("reading an account", lambda: copy.deepcopy(self._read(FILES[0]).get(handle.lower())))

    async def all(self) -> list[Table]:
        """Return every account, removed ones included."""
        return await self._run("reading the accounts", lambda: copy.deepcopy(list(self._read(FILES[0]).values())))

    async def create(self, record: Table) -> bool:
        """Add ``record`` under its handle; False (nothing written) if the handle is taken in any case."""

        def create(table: Table) -> bool:
            key = str(record["handle"]).lower()
            if key in table:
                return False
            table[key] = record
            return True

        return await self._run("creating an account", lambda: self._change(FILES[0], create))

    async def change(self, handle: str, fields: Table) -> Table | None:
        """Set ``fields`` of the account of ``handle``; return it as it is now, or None if there is none."""

        def change(table: Table) -> Table | None:
            account = table.get(handle.lower())
            if account is None:
                return None
            account.update(fields)
            return dict(account)

        return await self._run("changing an account", lambda: self._change(FILES[0], change))

    async def change_set(self, handle: str, field: str, item: str, present: bool) -> Table | None:
        """Add ``item`` to (or take it out of) the list ``field``, read and written under the lock."""

        def change(table: Table) -> Table | None:
            account = table.get(handle.lower())
            if account is None:
                return None
            items = {str(value) for value in account.get(field) or ()}
            account[field] = sorted(items | {item} if present else items - {item})
            return dict(account)

        return await self._run("changing an account", lambda: self._change(FILES[0], change))

    # ------------------------------------------------------------ sessions

    async def add_session(self, key: str, record: Table) -> None:
        """Keep a session (``key`` is its secret's digest); sessions past their end are swept."""

        def add(table: Table) -> None:
            now = float(record["created"])
            for old in [k for k, v in table.items() if float(v.get("expires", 0)) < now]:
                del table[old]
            table[key] = record

        await self._run("storing a session", lambda: self._change(FILES[1], add))

    async def session(self, key: str) -> Table | None:
        """Return the session of that digest, or None."""
        return await self._run("reading a session", lambda: copy.deepcopy(self._read(FILES[1]).get(key)))

    async def renew_session(self, key: str, expires: float) -> None:
        """Move the end of a session that is still there."""

        def renew(table: Table) -> None:
            if key in table:
                table[key]["expires"] = expires

        await self._run("renewing a session", lambda: self._change(FILES[1], renew))

    async def drop_sessions(self, handle: str, only: str | None = None, keep: str | None = None) -> list[str]:
        """End the sessions of ``handle`` (``only`` that one; all but ``keep``); return the digests ended."""

        def drop(table: Table) -> list[str]:
            ended = [key for key, value in table.items() if str(value.get("handle", "")).lower() == handle.lower()
                     and (only is None or key == only) and key != keep]
            for key in ended:
                del table[key]
            return ended

        return await self._run("ending sessions", lambda: self._change(FILES[1], drop))

    async def sessions_of(self, handle: str) -> int:
        """Return how many sessions ``handle`` has."""
        return await self._run("reading sessions", lambda: sum(
            1 for value in self._read(FILES[1]).values() if str(value.get("handle", "")).lower() == handle.lower()))

    # ------------------------------------------------------------ invitations

    async def add_invite(self, key: str, record: Table) -> None:
        """Keep an invitation (``key`` is its code's digest)."""

        def add(table: Table) -> None:
            table[key] = record

        await self._run("storing an invitation", lambda: self._change(FILES[2], add))

    async def take_invite(self, key: str, now: float, handle: str, bound: bool = False) -> Table | None:
        """Use the invitation once for ``handle``: its record, or None (unknown, used up, expired, someone else's)."""

        def take(table: Table) -> Table | None:
            invite = table.get(key)
            if invite is None:
                return None
            if float(invite.get("expires", 0)) < now or int(invite.get("uses", 0)) < 1:
                del table[key]
                return None
            if invite.get("handle") and str(invite["handle"]).lower() != handle.lower():
                return None
            if bound and not invite.get("handle"):
                return None
            invite["uses"] = int(invite["uses"]) - 1
            if invite["uses"] < 1:
                del table[key]
            return dict(invite)

        return await self._run("using an invitation", lambda: self._change(FILES[2], take))

    # ------------------------------------------------------------ passkey challenges

    async def add_challenge(self, key: str, record: Table) -> None:
        """Keep a challenge; those past their end are swept."""

        def add(table: Table) -> None:
            now = float(record.get("created", 0))
            for old in [k for k, v in table.items() if float(v.get("expires", 0)) < now]:
                del table[old]
            table[key] = record

        await self._run("storing a passkey challenge", lambda: self._change(FILES[4], add))

    async def take_challenge(self, key: str, now: float) -> Table | None:
        """Remove the challenge and return it, if it is there and not past its end."""

        def take(table: Table) -> Table | None:
            record = table.pop(key, None)
            return record if record is not None and float(record.get("expires", 0)) >= now else None

        return await self._run("using a passkey challenge", lambda: self._change(FILES[4], take))

    # ------------------------------------------------------------ failed sign-ins

    async def failures(self, keys: list[str], since: float) -> dict[str, list[float]]:
        """Return the times of failed sign-ins since ``since``, by key."""

        def read() -> dict[str, list[float]]:
            table = self._read(FILES[3])
            return {key: [t for t in table.get(key, ()) if t >= since] for key in keys}

        return await self._run("reading sign-in attempts", read)

    async def failed(self, keys: list[str], at: float, since: float) -> None:
        """Count a failed sign-in at ``at`` against each key; forget those before ``since``."""

        def add(table: Table) -> None:
            for old in [key for key, times in table.items() if not any(t >= since for t in times)]:
                del table[old]
            for key in keys:
                table[key] = [t for t in table.get(key, []) if t >= since] + [at]

        await self._run("counting a failed sign-in", lambda: self._change(FILES[3], add))


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)  # password hashes and session digests: the service's eyes only
