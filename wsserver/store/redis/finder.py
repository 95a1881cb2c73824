"""Search and jump in a channel stream: XREVRANGE pages for a search, a bisection on entry IDs for a time.

Cursors are those of :mod:`~wsserver.store.redis.feed` (``<epoch>:<entry id>``,
the position after that entry).  A position between two entries may name an
ID no entry has (the one just before an entry): Redis ranges take any ID.
"""

from __future__ import annotations

import time
from typing import Any

from ...lines.query import Query
from ..base import Found, Place, Scanned, StoreError, Window
from .feed import CURSOR_RE, stream_lines
from .keys import Keys, RedisFault
from .link import parse_id

PAGE = 1000  # entries a search reads per round trip
SCAN_PAGE = 10_000  # entries an index rebuild reads per round trip
START = "0-0"
_LAST_SEQ = 2**64 - 1


def _before(entry_id: str) -> str:
    """Return the ID just before ``entry_id``: a position after it and before the entry."""
    ms, seq = parse_id(entry_id)
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return START if ms == 0 else f"{ms - 1}-{_LAST_SEQ}"


def _line(fields: dict[bytes, bytes]) -> bytes:
    return fields.get(b"line", b"")


class RedisFinder:
    """Searches and jumps in one channel's stream."""

    def __init__(self, client: Any, keys: Keys, channel: str, private: bool = False) -> None:
        self._client = client
        self.key = keys.stream(channel, private)
        self._epoch_key = keys.epoch(self.key)

    async def _epoch(self) -> str:
        epoch = await self._client.get(self._epoch_key)
        return epoch.decode() if epoch else "00000000"

    def _id(self, epoch: str, cursor: str) -> str | None:
        match = CURSOR_RE.match(cursor)
        if match is None or match.group(1) != epoch:
            return None
        return f"{match.group(2)}-{match.group(3)}"

    async def search(self, query: Query, before: str | None, limit: int, seconds: float) -> Found | None:
        """Read the stream backwards a page at a time; check each line."""
        deadline = time.monotonic() + seconds
        try:
            epoch = await self._epoch()
            position = "+" if before is None else self._id(epoch, before)
            if position is None:
                return None
            hits: list[tuple[str, str]] = []
            while True:
                entries = await self._client.xrevrange(self.key, position, "-", count=PAGE)
                for raw_id, fields in entries:
                    entry_id = raw_id.decode()
                    line = _line(fields).decode("utf-8", errors="replace")
                    if query.matches(line):
                        hits.append((line, f"{epoch}:{entry_id}"))
                        if len(hits) == limit:
                            earlier = _before(entry_id)
                            return Found(hits, None if earlier == START else f"{epoch}:{earlier}")
                if len(entries) < PAGE:
                    return Found(hits, None)
                position = _before(entries[-1][0].decode())
                if time.monotonic() >= deadline:
                    return Found(hits, f"{epoch}:{position}", True)
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer a search of {self.key}: {exc}") from exc

    async def _window(self, epoch: str, first: str, entries: list[Any], more: bool, mark: int | None) -> Window:
        return Window(stream_lines(epoch, first, entries), mark, not more)

    async def around(self, cursor: str, limit: int) -> Window | None:
        """Read the entry ``cursor`` names, and entries on each side of it."""
        try:
            epoch = await self._epoch()
            entry_id = self._id(epoch, cursor)
            if entry_id is None or entry_id == START or not await self._client.xrange(self.key, entry_id, entry_id):
                return None
            earlier = list(reversed(await self._client.xrevrange(self.key, entry_id, "-", count=limit // 2 + 1)))
            later = await self._client.xrange(self.key, "(" + entry_id, "+", count=limit - len(earlier) + 1)
            more = len(later) > limit - len(earlier)
            entries = earlier + later[: limit - len(earlier)]
            return await self._window(epoch, _before(earlier[0][0].decode()), entries, more, len(earlier) - 1)
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer a read of {self.key}: {exc}") from exc

    async def at(self, stamp: str, limit: int) -> Window:
        """Bisect on entry IDs (milliseconds) comparing the stamps of the lines found; read from there."""
        wanted = stamp.encode()
        try:
            epoch = await self._epoch()
            oldest = await self._client.xrange(self.key, "-", "+", count=1)
            newest = await self._client.xrevrange(self.key, "+", "-", count=1)
            if not oldest:
                return Window(stream_lines(epoch, START, []), None, True)
            low, high = parse_id(oldest[0][0].decode())[0], parse_id(newest[0][0].decode())[0] + 1
            while low < high:
                middle = (low + high) // 2
                found = await self._client.xrange(self.key, str(middle), "+", count=1)
                line = _line(found[0][1]) if found else b""
                if not found or (line[:1] == b"[" and line[1:20] >= wanted):
                    high = middle
                else:
                    low = middle + 1
            entries = await self._client.xrange(self.key, str(low), "+", count=limit + 1)
            more = len(entries) > limit
            entries = entries[:limit]
            first = _before(entries[0][0].decode()) if entries else newest[0][0].decode()
            return await self._window(epoch, first, entries, more, 0 if entries else None)
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer a read of {self.key}: {exc}") from exc

    async def erase(self, cursor: str) -> bool:
        """Remove the entry ``cursor`` names (XDEL): a stream entry cannot be rewritten; other cursors stay valid."""
        try:
            epoch = await self._epoch()
            entry_id = self._id(epoch, cursor)
            return entry_id is not None and entry_id != START and bool(await self._client.xdel(self.key, entry_id))
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer an erase in {self.key}: {exc}") from exc

    async def after(self, cursor: str, limit: int) -> Window | None:
        """Read up to ``limit`` entries after ``cursor``."""
        try:
            epoch = await self._epoch()
            entry_id = self._id(epoch, cursor)
            if entry_id is None:
                return None
            entries = await self._client.xrange(self.key, "(" + entry_id, "+", count=limit + 1)
            more = len(entries) > limit
            return await self._window(epoch, entry_id, entries[:limit], more, None)
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer a read of {self.key}: {exc}") from exc

    async def place(self, cursor: str) -> Place | None:
        """Return the stream's epoch and the entry ID ``cursor`` names, if that entry is still there."""
        try:
            epoch = await self._epoch()
            entry_id = self._id(epoch, cursor)
            if entry_id is None or entry_id == START or not await self._client.xrange(self.key, entry_id, entry_id):
                return None
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer a read of {self.key}: {exc}") from exc
        ms, seq = parse_id(entry_id)
        return Place(epoch, f"{ms:020d}{seq:020d}")

    async def pick(self, cursors: list[str]) -> list[bytes | None]:
        """Read the entry each cursor names, in one pipeline."""
        try:
            epoch = await self._epoch()
            ids = [self._id(epoch, cursor) for cursor in cursors]
            async with self._client.pipeline(transaction=False) as pipe:
                for entry_id in ids:
                    pipe.xrange(self.key, entry_id or START, entry_id or START)
                answers = await pipe.execute()
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer a read of {self.key}: {exc}") from exc
        return [_line(found[0][1]) if found and entry_id not in (None, START) else None
                for entry_id, found in zip(ids, answers, strict=True)]

    async def scan(self, end: str | None, markers: tuple[bytes, ...], start: str | None = None) -> Scanned | None:
        """Read the stream from ``start`` to ``end`` in pages: lines holding a marker, and the entry after each."""
        found: Scanned = []
        try:
            epoch = await self._epoch()
            last = "+" if end is None else self._id(epoch, end)
            first = START if start is None else self._id(epoch, start)
            if first is None or (last not in (None, "+") and parse_id(first) > parse_id(last)):
                return None
            if last is None or last == START:
                return found
            position, follow = "(" + first, False
            while True:
                entries = await self._client.xrange(self.key, position, last, count=SCAN_PAGE)
                for raw_id, fields in entries:
                    line = _line(fields)
                    hit = any(marker in line for marker in markers)
                    if follow or hit:
                        found.append((line, f"{epoch}:{raw_id.decode()}"))
                    follow = hit
                if len(entries) < SCAN_PAGE:
                    return found
                position = "(" + entries[-1][0].decode()
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer a read of {self.key}: {exc}") from exc

    def locate(self, cursor: str) -> tuple[str, str] | None:
        """Return ``(epoch, "<ms>-<seq>")``: the stream and the entry ID, as annotation lines write it."""
        log, colon, ref = cursor.partition(":")  # string work, not a regex: an index rebuild locates every line
        ms, dash, seq = ref.partition("-")
        if not colon or not dash or not ms.isdigit() or not seq.isdigit() or not 8 <= len(log) <= 32:
            return None
        return log, ref

    def cursor_at(self, log: str, ref: str) -> str | None:
        """Return ``<epoch>:<ms>-<seq>``."""
        cursor = f"{log}:{ref}"
        return cursor if CURSOR_RE.match(cursor) else None

    def order(self, ref: str) -> str:
        """Return the milliseconds and the sequence, each zero-padded to 20 digits."""
        ms, _, seq = ref.partition("-")
        return f"{ms.zfill(20)}{seq.zfill(20)}"
