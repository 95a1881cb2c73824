"""The annotation index of one channel served here: built when the channel opens, then kept up with its feed.

A :class:`Keeper` builds the index in the background (from a snapshot and the
log after it, :mod:`.snapshot`) while the feed already reads new lines; those
are held and folded once the build is done, so the index covers every line
exactly once.  Joins wait for it (:meth:`wait`): no frame goes out without the
annotations of its lines.  When the channel closes, what was folded since the
last snapshot is written as a new one.
"""

from __future__ import annotations

import asyncio
import logging

from ..background import Backoff, cancel_and_wait
from ..store.base import Feed, Finder, Indexes, Lines, StoreError
from . import snapshot
from .index import Change, Index

log = logging.getLogger(__name__)


class Keeper:
    """Build one channel's index, fold what its feed reads, and snapshot it when the channel closes."""

    def __init__(self, name: str, finder: Finder, indexes: Indexes) -> None:
        self.name = name
        self.index = Index(finder)
        self._finder, self._indexes = finder, indexes
        self._held: list[Lines] | None = []  # lines read back while the index is being built
        self._built = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        """Return whether the index is built (and follows the log)."""
        return self._built.is_set()

    async def wait(self) -> None:
        """Wait until the index is built."""
        await self._built.wait()

    def start(self, feed: Feed) -> None:
        """Build the index in the background, up to where ``feed`` begins to read."""
        self._task = asyncio.get_running_loop().create_task(self._build(feed), name=f"index {self.name}")

    async def _build(self, feed: Feed) -> None:
        await feed.wait_ready()
        backoff = Backoff()
        while True:
            assert self._held is not None
            end = self._held[0].start if self._held else feed.cursor  # where the held lines begin
            try:
                await snapshot.build(self.index, self._finder, self._indexes, self.name, end)
                break
            except StoreError:
                log.warning("could not read the log of %s to index it; trying again", self.name, exc_info=True)
                await backoff.wait()
        if self.index.folded >= snapshot.SAVE_AFTER:  # a long read: the next opening need not do it again
            await snapshot.save(self.index, self._finder, self._indexes, self.name, end)
            self.index.folded = 0
        for lines in self._held:
            self.index.fold(lines.split())
        self._held = None
        self._built.set()

    def fold(self, lines: Lines) -> list[Change] | None:
        """Fold a batch the feed read back; return what it changed, or None while building (it is held)."""
        if self._held is not None:
            self._held.append(lines)
            return None
        return self.index.fold_lines(lines)

    async def stop(self, end: str) -> None:
        """Stop building; write a snapshot of what was folded since the last one, up to ``end``."""
        await cancel_and_wait([self._task])
        if self.ready and self.index.folded:
            await snapshot.save(self.index, self._finder, self._indexes, self.name, end)
