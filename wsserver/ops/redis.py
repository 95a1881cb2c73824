"""The operator commands' view of a Redis store: streams, users hashes, and XREAD to follow.

They print what they print for a data dir, with a stream key and entry ID
where a file and line number would be.  ``say`` appends with the server's own
append script, untrimmed (the nodes trim to their ``--stream-maxlen``), so
every node's readers deliver the line as they deliver any other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pendulum
from redis.exceptions import RedisError

from ..config import CHANNEL_RE, redacted
from ..protocol import HANDLE_RE
from ..store.base import ActionLog, Held, StoreError
from ..store.redis_actions import ACTIONS_KEY, RedisActions
from ..store.redis_finder import RedisFinder
from ..store.redis_link import BLOCK_MS, PREFIX, append_line, connect, held_handles, stream_entries, stream_key
from .base import check_actions, check_log


class RedisSource:
    """A Redis store, read and appended to as the nodes do."""

    def __init__(self, url: str, timezone: str) -> None:
        self.url = url
        self.timezone = timezone
        self.name = f"Redis at {redacted(url)}"
        self.where = f"in {self.name}"
        self.faults: tuple[type[Exception], ...] = (RedisError,)
        self.client = connect(url)
        self.actions: ActionLog = RedisActions(self.client)

    def fault(self, exc: Exception) -> str:
        """Return the one-line message for Redis not answering."""
        return f"cannot reach {self.name}: {exc}"

    async def has_channel(self, channel: str) -> bool:
        """Return whether the channel's stream exists."""
        return bool(await self.client.exists(stream_key(channel)))

    async def last(self, channel: str, count: int) -> tuple[list[str], bytes]:
        """Return the last ``count`` entries' lines and the ID of the newest."""
        newest = await self.client.xrevrange(stream_key(channel), count=max(count, 1))
        lines = [_text(fields) for _, fields in reversed(newest[:count])]
        return lines, newest[0][0] if newest else b"0-0"

    async def after(self, channel: str, position: bytes) -> tuple[list[str], bytes]:
        """XREAD BLOCK for entries after ``position``."""
        try:
            found = await self.client.xread({stream_key(channel): position}, count=1000, block=BLOCK_MS)
        except RedisError as exc:
            raise StoreError(f"lost {self.name}: {exc}") from exc
        if not found:
            return [], position
        entries = found[0][1]
        return [_text(fields) for _, fields in entries], entries[-1][0]

    async def append(self, channel: str, line: str) -> None:
        """Append with the nodes' own script."""
        await append_line(self.client, channel, False, line, 0)

    async def users(self, channel: str | None) -> list[Held]:
        """Return the handles of live nodes, by channel and handle."""
        held = sorted(await held_handles(self.client, channel), key=lambda entry: (entry[0], entry[3].lower()))
        return [Held(handle, name, node) for name, _, node, handle in held]

    async def check(self, report: Callable[[str], None]) -> str:
        """Check every channel and private stream, entry by entry, and every users hash."""
        keys = lines = 0
        for key in await self._keys("stream"):
            kind, _, channel = key.removeprefix(PREFIX).partition(":")
            if kind not in ("channel", "private"):
                continue
            keys += 1
            if not CHANNEL_RE.match(channel):
                report(f"{key}: invalid channel {channel!r}")
            async for entry_id, line in stream_entries(self.client, key):
                lines += 1
                if line is None:
                    report(f"{key}:{entry_id}: entry has no line field")
                else:
                    for problem in check_log(key, [(entry_id, line, True)], private=kind == "private"):
                        report(problem)
        if await self.client.exists(ACTIONS_KEY):
            keys += 1
            async for entry_id, line in stream_entries(self.client, ACTIONS_KEY):
                lines += 1
                for problem in check_actions(ACTIONS_KEY, [(entry_id, line or b"", True)]):
                    report(problem)
        for key in await self._keys("hash"):
            if not key.startswith(PREFIX + "users:"):
                continue
            keys += 1
            fields = await self.client.hgetall(key)
            lines += len(fields)
            for problem in _check_users(key, fields):
                report(problem)
        return f"checked {keys} key(s) {self.where}, {lines} line(s)"

    async def _keys(self, kind: str) -> list[str]:
        return sorted([key.decode() async for key in self.client.scan_iter(match=PREFIX + "*", _type=kind, count=1000)])

    async def lines(self, channel: str, since: str | None) -> AsyncIterator[str]:
        """Yield the stream's lines; with ``since``, from the entry IDs of that time on (IDs are append times)."""
        start = "-"
        if since is not None:
            moment = pendulum.from_format(since, "YYYY-MM-DD HH:mm:ss", tz=self.timezone)
            start = f"{int(moment.timestamp() * 1000)}-0"
        async for _, line in stream_entries(self.client, stream_key(channel), start):
            yield (line or b"").decode("utf-8", errors="replace")

    def finder(self, channel: str) -> RedisFinder:
        """Return the nodes' own searcher of ``channel``'s stream."""
        return RedisFinder(self.client, channel)

    async def close(self) -> None:
        """Close the pool."""
        await self.client.aclose()


def _text(fields: Any) -> str:
    text: str = fields.get(b"line", b"").decode("utf-8", errors="replace")
    return text


def _check_users(key: str, fields: dict[bytes, bytes]) -> Iterator[str]:
    channel = key.removeprefix(PREFIX + "users:")
    if not CHANNEL_RE.match(channel):
        yield f"{key}: invalid channel {channel!r}"
    for field, value in sorted(fields.items()):
        name = field.decode("utf-8", errors="replace")
        node, bar, handle = value.decode("utf-8", errors="replace").partition("|")
        if not bar or not node:
            yield f"{key}:{name}: expected node|handle, not {value.decode('utf-8', errors='replace')!r}"
        elif not HANDLE_RE.match(handle):
            yield f"{key}:{name}: invalid handle {handle!r}"
        elif handle.lower() != name:
            yield f"{key}:{name}: field does not match its handle {handle!r} (must be the handle in lower case)"
