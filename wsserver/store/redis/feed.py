"""One channel stream as a feed: appended to with XADD, read back with XREAD from the last ID delivered.

A cursor is ``<epoch>:<entry id>``, the position just after that entry
(``<epoch>:0-0`` before the first).  The epoch tells a deleted and recreated
stream apart: a cursor of another epoch names no position of this stream.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...background import Backoff, cancel_and_wait
from ..base import AppendError, Backlog, Deliver, Lines, StoreError
from .keys import RedisFault
from .link import BATCH_BYTES, RESUME_LINES, append_call, parse_id
from .reader import StreamReader
from .shards import Shards

log = logging.getLogger(__name__)

CURSOR_RE = re.compile(r"^([0-9a-f]{8,32}):([0-9]{1,20})-([0-9]{1,20})$")
START = "0-0"  # the position before the first entry


def stream_lines(epoch: str, start: str, entries: list[Any]) -> Lines:
    """Return the lines of stream ``entries`` that follow the entry ``start``, with their cursors."""
    data = b"\n".join(fields.get(b"line", b"") for _, fields in entries)
    ends = tuple(f"{epoch}:{entry_id.decode()}" for entry_id, _ in entries)
    return Lines(data, f"{epoch}:{start}", ends[-1] if ends else f"{epoch}:{start}", ends)


class RedisFeed:
    """One channel stream: appended to with XADD, read back with XREAD from the last ID delivered."""

    def __init__(
        self,
        shards: Shards,
        reader: StreamReader,
        channel: str,
        private: bool,
        deliver: Deliver,
        gather: Callable[[], float] | None = None,
        maxlen: int = 0,
        mirror_dir: Path | None = None,
    ) -> None:
        self._shards = shards
        self._link = shards.link(channel)
        self._reader = reader
        self.key = self._link.keys.stream(channel, private)
        self.epoch_key = self._link.keys.epoch(self.key)
        self._name, self._private = channel, private
        self._deliver = deliver
        self._gather = gather
        self._maxlen = maxlen
        self._mirror = None if mirror_dir is None else mirror_dir / (
            f"{'private' if private else 'channel'}_{channel}.log"
        )
        self.last_id = START  # the last entry delivered
        self.epoch = ""
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Find the current end of the stream, then have the node's reader follow it from there."""
        self._task = asyncio.get_running_loop().create_task(self._find_end(), name=f"find the end of {self.key}")

    async def stop(self) -> None:
        """Stop reading."""
        self._reader.remove(self)
        task, self._task = self._task, None
        await cancel_and_wait([task])

    def reopen(self) -> None:
        """Nothing to reopen: SIGHUP matters to files only."""

    async def append(self, line: str) -> str:
        """XADD the line; return its cursor; raises AppendError when Redis did not take it."""
        try:
            entry = await self._link.appender.append(*append_call(self._link.keys, self._name, self._private, line,
                                                                  self._maxlen))
        except RedisFault as exc:
            self._link.failed(exc)
            raise AppendError(f"Redis did not take the line for {self.key}: {exc}") from exc
        return self._at(entry.decode() if isinstance(entry, bytes) else str(entry))

    def _at(self, entry_id: str) -> str:
        return f"{self.epoch}:{entry_id}"

    @property
    def cursor(self) -> str:
        """Return ``<epoch>:<entry id>`` after the last line delivered."""
        return self._at(self.last_id)

    async def wait_ready(self) -> None:
        """Wait until the reader knows where the stream ends."""
        await self._ready.wait()

    # ------------------------------------------------------------ reading back

    async def _find_end(self) -> None:
        client = self._link.client
        backoff = Backoff()
        while True:
            try:
                newest = await client.xrevrange(self.key, count=1)
                epoch = await client.get(self.epoch_key)
                if not self._private:
                    await self._shards.add_channel(self._name)
                break
            except RedisFault as exc:
                self._link.failed(exc)
                await backoff.wait()
        self.last_id = newest[0][0].decode() if newest else START
        self.epoch = epoch.decode() if epoch else "00000000"
        self._ready.set()
        self._reader.add(self)

    def gather(self) -> float:
        """Return how long the reader lets lines pile up before reading (large channels: a moment)."""
        return self._gather() if self._gather is not None else 0.0

    def take(self, entries: list[Any], epoch: bytes | None) -> None:
        """Deliver entries the node's reader read after :attr:`last_id` (the epoch as read after them)."""
        if epoch:
            self.epoch = epoch.decode()
        lines = stream_lines(self.epoch, self.last_id, entries)
        self.last_id = entries[-1][0].decode()
        if self._mirror is not None:
            self._write_mirror(lines.data + b"\n")
        self._deliver(lines)

    def _write_mirror(self, data: bytes) -> None:
        assert self._mirror is not None
        # Opened per batch (not kept): logrotate can move the mirror files
        # with no signal, and a batch is one write(2) with O_APPEND.
        try:
            fd = os.open(self._mirror, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        except OSError:
            log.exception("could not append to the mirror %s", self._mirror)

    # ------------------------------------------------------------ history

    def _parse(self, cursor: str) -> str | None:
        """Return the entry ID a cursor of this stream names (up to the last delivered), or None."""
        match = CURSOR_RE.match(cursor)
        if match is None or match.group(1) != self.epoch:
            return None
        entry_id = f"{match.group(2)}-{match.group(3)}"
        return entry_id if parse_id(entry_id) <= parse_id(self.last_id) else None

    async def backlog(self, history: int, since: str | None) -> Backlog:
        """Read the last ``history`` entries up to the last delivered, or the entries after ``since``."""
        end = self.last_id  # before any await: where live lines begin
        try:
            return await self._backlog(history, since, end)
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer a history read of {self.key}: {exc}") from exc

    async def _backlog(self, history: int, since: str | None, end: str) -> Backlog:
        client = self._link.client
        if since is not None:
            start = self._parse(since)
            # Exact only if the entry the cursor names is still there: trimming
            # removes the oldest entries, so then every later one is too.
            if start is not None and (start == end or await client.xrange(self.key, start, start, count=1)):
                entries = [] if start == end else await client.xrange(
                    self.key, "(" + start, end, count=RESUME_LINES + 1
                )
                if len(entries) <= RESUME_LINES:
                    return Backlog(True, self._batches(start, entries))
        recovered = None if since is None else False
        if end == START or history <= 0:
            return Backlog(recovered, [])
        lines = await self._last(end, history)
        return Backlog(recovered, [lines] if lines.data or lines.start != lines.end else [])

    async def _last(self, end: str, limit: int) -> Lines:
        """Return up to ``limit`` entries up to ``end``; the start is the entry before them (or the stream's start)."""
        entries = await self._link.client.xrevrange(self.key, end, "-", count=limit + 1)
        start = START
        if len(entries) > limit:
            start = entries.pop()[0].decode()
        entries.reverse()
        return stream_lines(self.epoch, start if entries else end, entries)

    def _batches(self, start: str, entries: list[Any]) -> list[Lines]:
        batches: list[Lines] = []
        first = 0
        size = 0
        begin = start
        for index, (entry_id, fields) in enumerate(entries):
            size += len(fields.get(b"line", b"")) + 1
            if size >= BATCH_BYTES or index == len(entries) - 1:
                batches.append(stream_lines(self.epoch, begin, entries[first : index + 1]))
                first, size, begin = index + 1, 0, entry_id.decode()
        return batches

    async def before(self, cursor: str | None, limit: int) -> Lines | None:
        """Read up to ``limit`` entries up to the position ``cursor`` names (None: the last delivered)."""
        position = self.last_id if cursor is None else self._parse(cursor)
        if position is None:
            return None
        if position == START:
            return stream_lines(self.epoch, START, [])
        try:
            return await self._last(position, limit)
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer a history read of {self.key}: {exc}") from exc
