"""The moderation log of the file store: ``moderation.log`` in the data dir, one JSON action a line.

Appended with one ``write(2)`` on an ``O_APPEND`` descriptor, like the channel
logs, so actions of several processes never interleave; read from the start
on :meth:`FileActions.read`, then followed from where that read ended: the
data dir's watcher wakes it when the file changes, and a poll every second
covers a watcher that missed it.  A file replaced or cut short is read again
from its start (the fold is rebuilt).  It is state, not a log to rotate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from ...background import cancel_and_wait
from ...lines.moderation_log import Action
from ..base import StoreError

log = logging.getLogger(__name__)

ACTIONS_FILE = "moderation.log"
POLL = 1.0  # seconds between looks at the file when the watcher says nothing


class FileActions:
    """Append actions to ``moderation.log``, read it whole, and follow it."""

    def __init__(self, data_dir: Path, flush: bool = False) -> None:
        self.flush = flush  # an action is on the disk before it is answered (--fsync other than off)
        self.path = data_dir / ACTIONS_FILE
        self._identity: tuple[int, int] | None = None
        self._offset = 0  # bytes of the file read (whole lines)
        self._on_new: Callable[[list[Action], bool], None] | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def append(self, action: Action) -> None:
        """Write one action; raises StoreError if the disk refused it."""
        data = (action.to_json() + "\n").encode("utf-8")

        def write() -> None:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                if os.geteuid() == 0 and os.fstat(fd).st_size == 0:
                    # Created by root (an operator command run with sudo): the servers, running as
                    # the data dir's owner, must be able to append to it too.
                    owner = os.stat(self.path.parent)
                    os.fchown(fd, owner.st_uid, owner.st_gid)
                if os.write(fd, data) != len(data):
                    raise OSError("short write (disk full?)")
                if self.flush:
                    os.fdatasync(fd)
            finally:
                os.close(fd)

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            raise StoreError(f"{self.path}: the action was not written: {exc}") from exc
        self._wake.set()

    async def read(self) -> list[Action]:
        """Return every action so far; :meth:`follow` goes on from here."""
        actions, _ = await self._read_new()
        return actions

    async def _read_new(self) -> tuple[list[Action], bool]:
        """Return the actions written since the last read, and whether the file was replaced (all of them)."""
        try:
            return await asyncio.to_thread(self._read_sync)
        except OSError as exc:
            raise StoreError(f"reading {self.path} failed: {exc}") from exc

    def _read_sync(self) -> tuple[list[Action], bool]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return [], False
        try:
            stat = os.fstat(fd)
            again = self._identity is not None and (
                (stat.st_dev, stat.st_ino) != self._identity or stat.st_size < self._offset
            )
            if again or self._identity is None:
                self._identity, self._offset = (stat.st_dev, stat.st_ino), 0
            data = os.pread(fd, stat.st_size - self._offset, self._offset) if stat.st_size > self._offset else b""
        finally:
            os.close(fd)
        whole = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next read
        self._offset += len(whole)
        actions = []
        for raw in whole.splitlines():
            action = Action.from_json(raw)
            if action is None:
                log.warning("skipping a line of %s that is not an action: %.80r", self.path, raw)
            else:
                actions.append(action)
        return actions, again

    def follow(self, on_new: Callable[[list[Action], bool], None]) -> None:
        """Call ``on_new(actions, replaced)`` with each batch of new actions until :meth:`stop`."""
        self._on_new = on_new
        self._task = asyncio.get_running_loop().create_task(self._run(), name="follow moderation.log")

    def wake(self) -> None:
        """The file changed (the data dir's watcher says so)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL)
            self._wake.clear()
            try:
                actions, replaced = await self._read_new()
            except StoreError:
                log.exception("could not follow the moderation log")
                continue
            if (actions or replaced) and self._on_new is not None:
                self._on_new(actions, replaced)

    async def stop(self) -> None:
        """Stop following."""
        task, self._task = self._task, None
        await cancel_and_wait([task])
