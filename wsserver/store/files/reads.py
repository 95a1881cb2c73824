"""Read positions in the data dir: one small file per identity and channel.

``read/<channel>/<who>`` holds one line, ``<log> <ordinal> <cursor>`` (see
:class:`~wsserver.store.base.Place`).  A move is a read-compare-write made
while holding an exclusive ``flock`` on that file, so two processes moving
the same position never leave it behind either; the write is one
``pwrite`` of a few dozen bytes and a truncate.  A torn file (a crash in
the middle of that write) reads as no position: the reader's next move
stores one again.  Nothing here is a line of a log: losing a read position
loses no message.

Every join asks for its position.  The asks that arrive together are read in
one thread call: a join storm of 10,000 costs a few dozen thread hops, not
10,000 of them queued in front of the joins (py-spy, docs/performance.md).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from pathlib import Path

from ...background import ThreadBatch
from ..base import Place, StoreError
from .channellog import Cursor
from .locked import rewrite_locked

log = logging.getLogger(__name__)

READ_DIR = "read"


class FileReads:
    """Read positions as files under ``<data dir>/read/``."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / READ_DIR
        self._asks = ThreadBatch("read positions", functools.partial(_read_all, str(self.root)), self._failed)

    def _path(self, channel: str, who: str) -> Path:
        # Channel names and handles are checked against their patterns before they get here: no / or dots.
        return self.root / channel / who

    async def get(self, channel: str, who: str) -> str | None:
        """Return the stored cursor, or None (asks that arrive together are read in one thread call)."""
        return await self._asks.submit((channel, who))

    def _failed(self, exc: Exception) -> StoreError:
        log.warning("reading read positions under %s failed: %s", self.root, exc)
        return StoreError(f"reading read positions under {self.root} failed: {exc}")

    async def advance(self, channel: str, who: str, cursor: str, place: Place) -> bool:
        """Store ``cursor`` if ``place`` is past the stored position (under the file's lock)."""
        path = self._path(channel, who)

        def move(old: bytes) -> bytes | None:
            stored = Place.decode(old.decode("utf-8", errors="replace"))
            if not place.after(stored[0] if stored else None):
                return None
            return (place.encode(cursor) + "\n").encode()

        try:
            return await asyncio.to_thread(rewrite_locked, path, move)
        except OSError as exc:
            raise StoreError(f"storing the read position in {path} failed: {exc}") from exc


def _read_all(root: str, asked: list[tuple[str, str]]) -> list[str | None]:
    """Read the positions asked for (in a thread): one listing per channel, a read per file there is."""
    listed: dict[str, set[str]] = {}
    found: list[str | None] = []
    for channel, who in asked:
        folder = os.path.join(root, channel)
        if channel not in listed:
            try:
                listed[channel] = set(os.listdir(folder))
            except FileNotFoundError:
                listed[channel] = set()
        decoded = None
        if who in listed[channel]:
            try:
                with open(os.path.join(folder, who), encoding="utf-8", errors="replace") as stored:
                    decoded = Place.decode(stored.read(4096))
            except FileNotFoundError:
                pass
        found.append(_as_now(decoded[1]) if decoded else None)
    return found


def _as_now(cursor: str) -> str:
    """Return a stored cursor as the log names it now (the same after a restore: see moved.py)."""
    parsed = Cursor.parse(cursor)
    return str(parsed) if parsed is not None else cursor

