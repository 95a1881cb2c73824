"""The Redis store: starts and stops what the node's feeds share.

That is the node's heartbeat and the poll of ``users-version`` that tells the
hub when presence may have changed; the parts are described in
:mod:`wsserver.store.redis`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from ...background import cancel_and_wait
from ...config import Config, redacted
from ...metrics import Metrics
from ..base import Deliver, Feed, Handles, StoreUnavailable
from .accounts import RedisAccounts
from .actions import RedisActions
from .events import RedisEvents
from .feed import RedisFeed
from .finder import RedisFinder
from .handles import RedisHandles
from .indexes import RedisIndexes
from .keys import RedisFault
from .link import NODE_REFRESH, VERSION_POLL
from .pubkeys import RedisKeys
from .reader import StreamReader
from .reads import RedisReads
from .scripts import CHANGES_KEPT
from .shards import Shards
from .tickets import RedisTickets

log = logging.getLogger(__name__)

CHANNELS_EVERY = 10  # version polls between two reads of the channel names (they change rarely)


class RedisStore:
    """Streams and handles in Redis (one, a cluster, or shards), shared by every node given the same URL."""

    def __init__(self, config: Config, metrics: Metrics) -> None:
        self.url = config.store
        self.metrics = metrics
        self.maxlen = config.stream_maxlen
        self.mirror_dir: Path | None = config.mirror_dir
        self.shards = Shards(self.url)
        self.home = self.shards.home
        for link in self.shards.links:
            link.on_recovered = self._recovered
        self.client = self.home.client
        self.handles = RedisHandles(self.shards)
        self.registry: Handles = self.handles
        self.actions = RedisActions(self.client, self.home.readers)
        self.readers = [StreamReader(link) for link in self.shards.links]  # one per shard
        self.events = RedisEvents(self.home, self.handles.node)
        self.reads = RedisReads(self.shards)
        self.indexes = RedisIndexes(self.shards)
        self.tickets = RedisTickets(self.shards)
        self.keys = RedisKeys(self.shards)
        self.accounts = RedisAccounts(self.shards)
        self._tasks: list[asyncio.Task[None]] = []
        self._users_changed: Callable[[set[str] | None], None] = lambda channels: None
        self._channels: list[str] = []

    def feed(self, channel: str, private: bool, deliver: Deliver, gather: Callable[[], float] | None = None) -> Feed:
        """Return the feed of ``channel``'s stream."""
        reader = self.readers[self.shards.links.index(self.shards.link(channel))]
        return RedisFeed(self.shards, reader, channel, private, deliver, gather, self.maxlen, self.mirror_dir)

    async def start(self, users_changed: Callable[[set[str] | None], None]) -> None:
        """Reach Redis (raises StoreUnavailable naming the URL), mark this node alive, start polling."""
        self._users_changed = users_changed
        try:
            for link in self.shards.links:
                await link.client.ping()
            await self.handles.heartbeat()
            await self.handles.reclaim()
        except RedisFault as exc:
            raise StoreUnavailable(f"cannot reach Redis at {redacted(self.url)}: {exc}") from exc
        if self.mirror_dir is not None:
            self.mirror_dir.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._heartbeat(), name="redis heartbeat"),
            loop.create_task(self._poll_version(), name="redis users version"),
        ]
        log.info("storing channels in Redis at %s as node %s", redacted(self.url), self.handles.node)

    async def durable(self) -> None:
        """Nothing to wait for here: Redis's ``appendfsync`` decides (docs/operations.md "Durability")."""

    async def stop(self) -> None:
        """Stop the heartbeat and close the pools (the node's key then expires)."""
        await cancel_and_wait(self._tasks)
        with contextlib.suppress(*RedisFault):
            await self.client.delete(self.home.keys.node(self.handles.node))
        for reader in self.readers:
            await reader.stop()
        await self.shards.close()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(NODE_REFRESH)
            try:
                await self.handles.heartbeat()
                await self.handles.sweep_dead()
            except RedisFault as exc:
                self.home.failed(exc)

    async def _poll_version(self) -> None:
        """Tell the hub which channels' users changed: users-version, and the channels of the changes since."""
        seen: int | None = None
        polls = 0
        keys = self.home.keys
        while True:
            await asyncio.sleep(VERSION_POLL)
            try:
                version = int(await self.client.get(keys.version) or 0)
                if polls % CHANNELS_EVERY == 0:  # the names of the channels, for /api/channels
                    self._channels = sorted(n.decode() for n in await self.client.smembers(keys.channels))
                polls += 1
                if version == seen:
                    continue
                changed: set[str] | None = None
                if seen is not None and version - seen < CHANGES_KEPT:
                    names = await self.client.zrangebyscore(keys.version_channels, f"({seen}", version)
                    changed = {name.decode() for name in names}
            except RedisFault:
                continue
            seen = version
            self._users_changed(changed)

    def _recovered(self) -> None:
        # At once, not at the next heartbeat: if Redis came back empty, our
        # connections' handles must be held again before others ask.
        task = asyncio.get_running_loop().create_task(self._beat_once(), name="redis heartbeat now")
        self._tasks = [*(t for t in self._tasks if not t.done()), task]

    async def _beat_once(self) -> None:
        # The idle pooled connections died with the old Redis, and a dead one is
        # not always seen as dead before its next command: close them first.
        await self.shards.reset_idle()
        try:
            await self.handles.heartbeat()
        except RedisFault as exc:
            self.home.failed(exc)

    def finder(self, channel: str, private: bool = False) -> RedisFinder:
        """Return what searches and jumps in ``channel``'s stream (``private``: of its private lines)."""
        link = self.shards.link(channel)
        return RedisFinder(link.client, link.keys, channel, private)

    def channel_names(self) -> list[str]:
        """Return the channels that have a stream (as of the last poll)."""
        return list(self._channels)

    async def measure(self) -> None:
        """Count this node's connections (CLIENT LIST) and report the readers' lag."""
        try:
            self.metrics.redis_connections.set(await self.shards.connections())
        except RedisFault:
            pass  # the gauge keeps its last value; /healthz says Redis is away
        self.metrics.redis_reader_lag.set(max(reader.lag for reader in self.readers))
        self.metrics.redis_reader_connections.set(sum(reader.connections for reader in self.readers))

    def problem(self) -> str | None:
        """Return "cannot reach Redis" while it does not answer."""
        return None if self.shards.down is None else "cannot reach Redis"
