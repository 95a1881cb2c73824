"""The Redis store: channel logs as Redis Streams and handles in Redis, for nodes on several machines.

Its parts: :mod:`~wsserver.store.redis_link` (pools, keys, scripts, health),
:mod:`~wsserver.store.redis_feed` (a stream read back like a tailed file) and
:mod:`~wsserver.store.redis_handles` (handles claimed across nodes).  This
module starts and stops what they share: the node's heartbeat and the poll of
``users-version`` that tells the hub when presence may have changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from redis.exceptions import RedisError

from ..config import Config, redacted
from ..metrics import Metrics
from ..tasks import cancel_and_wait
from .base import Deliver, Feed, Handles, StoreUnavailable
from .redis_actions import RedisActions
from .redis_events import RedisEvents
from .redis_feed import RedisFeed
from .redis_finder import RedisFinder
from .redis_handles import RedisHandles
from .redis_link import CHANGES_KEPT, NODE_REFRESH, PREFIX, VERSION_POLL, Link
from .redis_reader import StreamReader

log = logging.getLogger(__name__)

CHANNELS_EVERY = 10  # version polls between two reads of the channel names (they change rarely)


class RedisStore:
    """Streams and handles in one Redis, shared by every node given the same URL."""

    def __init__(self, config: Config, metrics: Metrics) -> None:
        self.url = config.store
        self.metrics = metrics
        self.maxlen = config.stream_maxlen
        self.mirror_dir: Path | None = config.mirror_dir
        self.link = Link(self.url)
        self.link.on_recovered = self._recovered
        self.client = self.link.client
        self.handles = RedisHandles(self.link)
        self.registry: Handles = self.handles
        self.actions = RedisActions(self.client, self.link.readers)
        self.reader = StreamReader(self.link)
        self.events = RedisEvents(self.link, self.handles.node)
        self._tasks: list[asyncio.Task[None]] = []
        self._users_changed: Callable[[set[str] | None], None] = lambda channels: None
        self._channels: list[str] = []

    def feed(self, channel: str, private: bool, deliver: Deliver, gather: Callable[[], float] | None = None) -> Feed:
        """Return the feed of ``channel``'s stream."""
        return RedisFeed(self.link, self.reader, channel, private, deliver, gather, self.maxlen, self.mirror_dir)

    async def start(self, users_changed: Callable[[set[str] | None], None]) -> None:
        """Reach Redis (raises StoreUnavailable naming the URL), mark this node alive, start polling."""
        self._users_changed = users_changed
        try:
            await self.client.ping()
            await self.handles.heartbeat()
            await self.handles.reclaim()
        except RedisError as exc:
            raise StoreUnavailable(f"cannot reach Redis at {redacted(self.url)}: {exc}") from exc
        if self.mirror_dir is not None:
            self.mirror_dir.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._heartbeat(), name="redis heartbeat"),
            loop.create_task(self._poll_version(), name="redis users version"),
        ]
        log.info("storing channels in Redis at %s as node %s", redacted(self.url), self.handles.node)

    async def stop(self) -> None:
        """Stop the heartbeat and close the pool (the node's key then expires)."""
        await cancel_and_wait(self._tasks)
        with contextlib.suppress(RedisError):
            await self.client.delete(PREFIX + "node:" + self.handles.node)
        await self.reader.stop()
        await self.link.close()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(NODE_REFRESH)
            try:
                await self.handles.heartbeat()
            except RedisError as exc:
                self.link.failed(exc)

    async def _poll_version(self) -> None:
        """Tell the hub which channels' users changed: users-version, and the channels of the changes since."""
        seen: int | None = None
        polls = 0
        while True:
            await asyncio.sleep(VERSION_POLL)
            try:
                version = int(await self.client.get(PREFIX + "users-version") or 0)
                if polls % CHANNELS_EVERY == 0:  # the names of the channels, for /api/channels
                    self._channels = sorted(n.decode() for n in await self.client.smembers(PREFIX + "channels"))
                polls += 1
                if version == seen:
                    continue
                changed: set[str] | None = None
                if seen is not None and version - seen < CHANGES_KEPT:
                    names = await self.client.zrangebyscore(PREFIX + "users-version:channels", f"({seen}", version)
                    changed = {name.decode() for name in names}
            except RedisError:
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
        await self.link.reset_idle()
        try:
            await self.handles.heartbeat()
        except RedisError as exc:
            self.link.failed(exc)

    def finder(self, channel: str) -> RedisFinder:
        """Return what searches and jumps in ``channel``'s stream."""
        return RedisFinder(self.client, channel)

    def channel_names(self) -> list[str]:
        """Return the channels that have a stream (as of the last poll)."""
        return list(self._channels)

    async def measure(self) -> None:
        """Count this node's connections (CLIENT LIST) and report the readers' lag."""
        try:
            self.metrics.redis_connections.set(await self.link.connections())
        except RedisError:
            pass  # the gauge keeps its last value; /healthz says Redis is away
        self.metrics.redis_reader_lag.set(self.reader.lag)
        self.metrics.redis_reader_connections.set(self.reader.connections)

    def problem(self) -> str | None:
        """Return "cannot reach Redis" while it does not answer."""
        return None if self.link.down is None else "cannot reach Redis"
