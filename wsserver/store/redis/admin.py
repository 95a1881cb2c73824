"""The operator commands' view of a Redis store: streams, users hashes, and XREAD to follow.

They print what they print for a data dir, with a stream key and entry ID
where a file and line number would be.  ``say`` appends with the server's own
append script, untrimmed (the nodes trim to their ``--stream-maxlen``), so
every node's readers deliver the line as they deliver any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pendulum

from ...config import CHANNEL_RE, HANDLE_RE, redacted
from ...lines.checking import check_log
from ...lines.moderation_log import check_actions
from ..base import Accounts, ActionLog, Held, StoreError
from ..copying import copy_files_dir, new_target, sync_dirs
from ..faults import faults_become_store_errors
from .accounts import RedisAccounts
from .actions import ACTIONS_KEY, RedisActions
from .finder import RedisFinder
from .keys import RedisFault, shard_of
from .link import BLOCK_MS, stream_entries
from .shards import Shards


def _describe(admin: RedisAdmin, exc: Exception) -> str:
    return f"cannot reach {admin.name}: {exc}"


_guarded = faults_become_store_errors(RedisFault, _describe)


class RedisAdmin:
    """A Redis store, read and appended to as the nodes do."""

    def __init__(self, url: str, timezone: str) -> None:
        self.url = url
        self.timezone = timezone
        self.name = f"Redis at {redacted(url)}"
        self.where = f"in {self.name}"
        self.shards = Shards(url)
        self.actions: ActionLog = RedisActions(self.shards.home.client)
        self.accounts: Accounts = RedisAccounts(self.shards)

    def _at(self, channel: str) -> tuple[Any, str]:
        """Return the client of the shard that holds ``channel``, and its stream key."""
        link = self.shards.link(channel)
        return link.client, link.keys.stream(channel)

    @_guarded
    async def has_channel(self, channel: str) -> bool:
        """Return whether the channel's stream exists."""
        client, key = self._at(channel)
        return bool(await client.exists(key))

    @_guarded
    async def channel_names(self) -> list[str]:
        """Return the channels the nodes have opened (the home's set of channel names)."""
        return sorted(name.decode() for name in await self.shards.home.client.smembers(self.shards.keys.channels))

    @_guarded
    async def last(self, channel: str, count: int) -> tuple[list[str], bytes]:
        """Return the last ``count`` entries' lines and the ID of the newest."""
        client, key = self._at(channel)
        newest = await client.xrevrange(key, count=max(count, 1))
        lines = [_text(fields) for _, fields in reversed(newest[:count])]
        return lines, newest[0][0] if newest else b"0-0"

    @_guarded
    async def after(self, channel: str, position: bytes) -> tuple[list[str], bytes]:
        """XREAD BLOCK for entries after ``position``."""
        client, key = self._at(channel)
        try:
            found = await client.xread({key: position}, count=1000, block=BLOCK_MS)
        except RedisFault as exc:
            raise StoreError(f"lost {self.name}: {exc}") from exc
        if not found:
            return [], position
        entries = found[0][1]
        return [_text(fields) for _, fields in entries], entries[-1][0]

    @_guarded
    async def append(self, channel: str, line: str) -> None:
        """Append with the nodes' own script."""
        await self.shards.append_line(channel, False, line, 0)

    @_guarded
    async def users(self, channel: str | None) -> list[Held]:
        """Return the handles of live nodes, by channel and handle."""
        held = sorted(await self.shards.held_handles(channel), key=lambda entry: (entry[0], entry[3].lower()))
        return [Held(handle, name, node) for name, _, node, handle in held]

    @_guarded
    async def check(self, report: Callable[[str], None]) -> str:
        """Check every channel and private stream entry by entry, every users hash, and where each one lives."""
        keys = lines = 0
        home = self.shards.home.client
        for index, link in enumerate(self.shards.links):
            for key in await _keys(link.client, "stream"):
                parsed = link.keys.parse(key)
                if parsed is None or parsed[0] == "users":
                    continue
                kind, channel = parsed
                keys += 1
                if not CHANNEL_RE.match(channel):
                    report(f"{key}: invalid channel {channel!r}")
                elif shard_of(channel, len(self.shards.links)) != index:
                    report(f"{key}: on shard {index} ({redacted(link.url)}) but channel {channel!r} belongs to shard "
                           f"{shard_of(channel, len(self.shards.links))}: the nodes do not read it (shards added "
                           f"or reordered?)")
                async for entry_id, line in stream_entries(link.client, key):
                    lines += 1
                    if line is None:
                        report(f"{key}:{entry_id}: entry has no line field")
                    else:
                        for problem in check_log(key, [(entry_id, line, True)], private=kind == "private"):
                            report(problem)
            for key in await _keys(link.client, "hash"):
                parsed = link.keys.parse(key)
                if parsed is None or parsed[0] != "users":
                    continue
                keys += 1
                fields = await link.client.hgetall(key)
                lines += len(fields)
                for problem in _check_users(key, parsed[1], fields):
                    report(problem)
        if await home.exists(ACTIONS_KEY):
            keys += 1
            async for entry_id, line in stream_entries(home, ACTIONS_KEY):
                lines += 1
                for problem in check_actions(ACTIONS_KEY, [(entry_id, line or b"", True)]):
                    report(problem)
        return f"checked {keys} key(s) {self.where}, {lines} line(s)"

    @_guarded
    async def lines(self, channel: str, since: str | None) -> AsyncIterator[str]:
        """Yield the stream's lines; with ``since``, from the entry IDs of that time on (IDs are append times)."""
        start = "-"
        if since is not None:
            moment = pendulum.from_format(since, "YYYY-MM-DD HH:mm:ss", tz=self.timezone)
            start = f"{int(moment.timestamp() * 1000)}-0"
        client, key = self._at(channel)
        async for _, line in stream_entries(client, key, start):
            yield (line or b"").decode("utf-8", errors="replace")

    def finder(self, channel: str, private: bool = False) -> RedisFinder:
        """Return the nodes' own searcher of ``channel``'s stream (``private``: of its private lines)."""
        link = self.shards.link(channel)
        return RedisFinder(link.client, link.keys, channel, private)

    async def backup(self, target: Path, files_dir: Path) -> list[str]:
        """Copy the shared files into ``target``: the rest lives in Redis, which is backed up with its own tools."""
        copied = await asyncio.to_thread(_copy_files, files_dir, target)
        return [copied, f"not copied: the logs, handles, moderation, read positions and keys, which are in "
                        f"{self.name}: back it up with Redis's own tools (docs/operations.md \"Backups\")"]

    @_guarded
    async def close(self) -> None:
        """Close the pools."""
        await self.shards.close()


def _copy_files(files_dir: Path, target: Path) -> str:
    new_target(target)
    copied = copy_files_dir(files_dir, target)
    sync_dirs(target)
    return copied


def _text(fields: Any) -> str:
    text: str = fields.get(b"line", b"").decode("utf-8", errors="replace")
    return text


async def _keys(client: Any, kind: str) -> list[str]:
    """Return the store's keys of one type (every master of a cluster is scanned)."""
    return sorted({key.decode() async for key in client.scan_iter(match="wsserver:*", _type=kind, count=1000)})


def _check_users(key: str, channel: str, fields: dict[bytes, bytes]) -> Iterator[str]:
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
