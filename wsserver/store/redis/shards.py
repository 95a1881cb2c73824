"""Where a channel lives: the store's Redis links, one per shard, and the home of the shared keys.

``--store`` names one Redis (or a Sentinel-named master, or a Redis Cluster:
one link, which redis-py's cluster client routes by slot) or several
independent ones (``redis+shards://``): one link each, a channel on the link
:func:`~wsserver.store.redis.keys.shard_of` names.  Shard 0 is the *home*: the
node liveness keys, ``users-version``, the channel sets and the moderation
stream.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any

from .keys import Keys, RedisFault, shard_of
from .link import Link, append_call, shard_urls
from .scripts import APPEND, BUMP, run_script, run_script_each


class Shards:
    """The links of a store URL, and which one holds each channel."""

    def __init__(self, url: str, node: str | None = None) -> None:
        self.url = url
        self.node = node or f"{socket.gethostname()}.{os.getpid()}.{secrets.token_hex(4)}"
        self.links = [Link(shard, self.node) for shard in shard_urls(url)]
        self.home = self.links[0]
        self.keys: Keys = self.home.keys

    def link(self, channel: str) -> Link:
        """Return the link of the shard that holds ``channel``."""
        return self.links[shard_of(channel, len(self.links))]

    def by_link(self, channels: list[str]) -> Iterator[tuple[Link, list[str]]]:
        """Yield each link with the channels (of ``channels``) it holds, in their order."""
        grouped: dict[int, list[str]] = {}
        for name in channels:
            grouped.setdefault(shard_of(name, len(self.links)), []).append(name)
        for index, names in sorted(grouped.items()):
            yield self.links[index], names

    @property
    def down(self) -> str | None:
        """Return why a shard did not answer the last time it was asked (None: all answered)."""
        return next((link.down for link in self.links if link.down is not None), None)

    async def bump(self, channels: list[str]) -> None:
        """Record on the home that the users of ``channels`` changed (other nodes re-read them), by this node."""
        keys = self.keys
        await run_script(self.home.client, BUMP, [keys.version, keys.version_channels, keys.user_channels,
                                                  keys.nodes, keys.node_channels(self.node)], [self.node, *channels])

    async def add_channel(self, channel: str) -> None:
        """Record that ``channel`` has a stream (for /api/channels and the operator commands)."""
        await self.home.client.sadd(self.keys.channels, channel)

    async def append_line(self, channel: str, private: bool, line: str, maxlen: int) -> bytes:
        """Append ``line`` to the channel's stream with the nodes' script; return the entry ID.

        ``maxlen`` 0 appends without trimming (operator commands, which do not
        know the nodes' ``--stream-maxlen``).
        """
        link = self.link(channel)
        if not private:
            await self.add_channel(channel)
        entry_id: bytes = await run_script(link.client, APPEND, *append_call(link.keys, channel, private, line, maxlen))
        return entry_id

    async def each_channel(self, source: str, channels: list[str], args: list[str]) -> dict[str, Any]:
        """Run a script on the users hash of each of ``channels``: a pipeline per shard, not a round trip each."""
        answers: dict[str, Any] = {}
        for link, names in self.by_link(channels):
            results = await run_script_each(link.client, source, [([link.keys.users(name)], args) for name in names])
            for result in results:
                if isinstance(result, Exception):
                    raise result
            answers.update(zip(names, results, strict=True))
        return answers

    async def user_channels(self) -> list[str]:
        """Return the channels that have a users hash, sorted."""
        return sorted(name.decode() for name in await self.home.client.smembers(self.keys.user_channels))

    async def held_handles(self, channel: str | list[str] | None,
                           live: bool = True) -> list[tuple[str, str, str, str]]:
        """Return (channel, hash field, node, handle) of the handles held by live nodes (or by dead ones).

        Away handles in their grace count as live (node ``away:...``); away
        handles are never in the dead list: their grace ends with a leave line.
        """
        if channel is None:
            channels = await self.user_channels()
        else:
            channels = [channel] if isinstance(channel, str) else channel
        held: list[tuple[str, str, str, str]] = []
        for link, names in self.by_link(channels):
            pipe = link.client.pipeline(transaction=False)
            for name in names:
                pipe.hgetall(link.keys.users(name))
            for name, fields in zip(names, await pipe.execute(), strict=True):
                for field, value in fields.items():
                    node, _, handle = value.decode().partition("|")
                    held.append((name, field.decode(), node, handle))
        now = time.time()
        away = {entry: away_until(entry[2]) for entry in held}
        held = [entry for entry in held if away[entry] is None or (live and (away[entry] or 0) > now)]
        alive = await self.alive(sorted({node for _, _, node, _ in held if away_until(node) is None}))
        return [entry for entry in held if alive.get(entry[2], away[entry] is not None) == live]

    async def alive(self, nodes: list[str]) -> dict[str, bool]:
        """Return whether each node's liveness key exists."""
        if not nodes:
            return {}
        pipe = self.home.client.pipeline(transaction=False)
        for node in nodes:
            pipe.exists(self.keys.node(node))
        return {node: bool(found) for node, found in zip(nodes, await pipe.execute(), strict=True)}

    async def connections(self) -> int:
        """Return this node's connections to every shard."""
        return sum([await link.connections() for link in self.links])

    async def reset_idle(self) -> None:
        """Close the idle connections of every shard (after an outage)."""
        for link in self.links:
            try:
                await link.reset_idle()
            except RedisFault:
                pass

    async def close(self) -> None:
        """Close every link's pools."""
        for link in self.links:
            await link.close()


def away_until(node: str) -> float | None:
    """Return when the grace of an away handle ends (the node part of its value), or None if it is held."""
    if not node.startswith("away:"):
        return None
    try:
        return float(node.split(":")[1])
    except (IndexError, ValueError):
        return None
