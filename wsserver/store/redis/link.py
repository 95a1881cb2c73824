"""A node's connection to one Redis (or one Redis Cluster): the pools, and whether it answers.

Keys (all under ``wsserver:``; their names per layout in
:mod:`~wsserver.store.redis.keys`):

* ``channel:<name>`` and ``private:<name>``: streams, one entry per log line,
  field ``line`` holding exactly the text a log file would hold.  Appends are
  ``XADD ... MAXLEN ~ --stream-maxlen``.
* ``epoch:<stream key>``: a random token set when an append creates the
  stream; it is the identity part of cursors (``<epoch>:<entry id>``), so a
  deleted and recreated stream is told apart (``recovered: false``).
* ``users:<channel>``: hash of lower-cased handle to ``<node>|<Handle>``;
  ``node:<node>``: a node's liveness key, refreshed every 5 s with a 15 s
  TTL.  A claim takes a handle unless the holder's node is alive, so a node
  that dies loses its handles within 15 s.  ``users-version`` is incremented
  on every change; nodes poll it to refresh presence.
* ``channels`` and ``user-channels``: sets of the channel names with a
  stream, and with a users hash.

The operator commands (:mod:`wsserver.ops`) use the same functions.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import TimeoutError as RedisTimeoutError

from ...config import MANY_URL_RE, SENTINEL_URL_RE, redacted
from .appender import Appender
from .keys import Keys
from .scripts import APPEND

log = logging.getLogger(__name__)

# Limits
READ_COUNT = 1000  # entries taken by one XREAD: one delivery, one frame
PAGE = 1000  # entries per XRANGE when a whole stream is read (export, check)
POOL_SIZE = 16  # connections for commands (appends, claims, history) per node: the bound of the node's connections
READER_POOL_SIZE = 4  # blocking readers outside the stream groups (the moderation log follows on one)
RESUME_LINES = 100_000  # entries replayed for a resume; further behind gets last-N history
BATCH_BYTES = 64 * 1024  # backlog frames are cut at about this size
# Timeouts
BLOCK_MS = 1000  # how long one XREAD waits for new entries
BUSY_GATHER = 0.005  # after a read that found lines, let more arrive before the next: fewer, fuller frames
COMMAND_TIMEOUT = 5.0  # seconds before a Redis command counts as failed
NODE_TTL = 15  # seconds a node's handles outlive its last heartbeat: the bound after a crash
NODE_REFRESH = 5.0  # seconds between heartbeats
VERSION_POLL = 0.5  # seconds between looks at users-version (presence across nodes)


def parse_id(entry_id: str) -> tuple[int, int]:
    """Return a stream entry ID as a pair that sorts like the stream."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def connect(url: str, readers: bool = False, size: int | None = None, name: str | None = None) -> Any:
    """Return a pooled client for ``url`` (one Redis, a Sentinel-named master, or a cluster) with the store's timeouts.

    Commands share a bounded pool: a join storm waits up to COMMAND_TIMEOUT
    for a free connection rather than opening thousands.  Readers (``readers``
    True) each keep a connection blocked in XREAD, so theirs is a separate pool.

    Typed ``Any``: redis-py's answers are typed ``bytes | str | None`` for
    every command, and this store only ever gets bytes (no decoding).
    """
    options: dict[str, Any] = {
        "socket_timeout": COMMAND_TIMEOUT + BLOCK_MS / 1000,
        "socket_connect_timeout": COMMAND_TIMEOUT,
        "health_check_interval": 30,
    }
    if name is not None:
        options["client_name"] = name  # CLIENT LIST tells a node's connections apart
    sentinel = SENTINEL_URL_RE.match(url)
    if sentinel is not None:
        return _sentinel_master(sentinel, readers, options, size)
    many = MANY_URL_RE.match(url)
    if many is not None and many["layout"] == "cluster":
        client = RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in hosts(url)],
                              username=many["username"] or None, password=many["password"],
                              max_connections=size or (READER_POOL_SIZE if readers else POOL_SIZE), **options)
        return client if readers else Gated(client, POOL_SIZE)
    if readers:
        pool = aioredis.ConnectionPool.from_url(url, max_connections=size or READER_POOL_SIZE, **options)
    else:
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=COMMAND_TIMEOUT,
                                                        **options)
    return aioredis.Redis.from_pool(pool)


def hosts(url: str) -> list[tuple[str, int]]:
    """Return the (host, port) pairs of a ``redis+cluster://`` or ``redis+shards://`` URL."""
    many = MANY_URL_RE.match(url)
    assert many is not None
    pairs = []
    for host in many["hosts"].split(","):
        name, _, port = host.rpartition(":")
        pairs.append((name.strip("[]"), int(port)))
    return pairs


def shard_urls(url: str) -> list[str]:
    """Return the plain ``redis://`` URL of each shard of a ``redis+shards://`` URL (else ``[url]``)."""
    many = MANY_URL_RE.match(url)
    if many is None or many["layout"] != "shards":
        return [url]
    credentials = ""
    if many["username"] or many["password"] is not None:
        credentials = f"{many['username'] or ''}:{many['password'] or ''}@"
    return [f"redis://{credentials}{f'[{host}]' if ':' in host else host}:{port}/{many['db'] or 0}"
            for host, port in hosts(url)]


class Gated:
    """A cluster client that runs at most ``limit`` commands (or pipelines) at once; the others wait their turn.

    redis-py's cluster client has no blocking pool: past its per-node cap it
    raises at once, so 250 joins at once would be refused.  Behind this gate
    they wait, as on one Redis, up to COMMAND_TIMEOUT, with at most ``limit``
    connections per master.  Everything else passes through.
    """

    def __init__(self, client: RedisCluster, limit: int) -> None:
        self.client = client
        self._gate = asyncio.Semaphore(limit)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if name == "pipeline":
            return functools.partial(self._pipeline, attr)
        if not callable(attr) or name in ("aclose", "initialize", "scan_iter"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            return self._gated(result) if inspect.isawaitable(result) else result

        return call

    def _pipeline(self, make: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        pipe = make(*args, **kwargs)
        execute = pipe.execute

        async def gated_execute(*run_args: Any, **run_kwargs: Any) -> Any:
            return await self._gated(execute(*run_args, **run_kwargs))

        pipe.execute = gated_execute
        return pipe

    async def _gated(self, awaitable: Any) -> Any:
        try:
            await asyncio.wait_for(self._gate.acquire(), COMMAND_TIMEOUT)
        except TimeoutError:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            raise RedisTimeoutError(f"no free connection to the cluster in {COMMAND_TIMEOUT:.0f} s") from None
        try:
            return await awaitable
        finally:
            self._gate.release()


class _BlockingSentinelPool(SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """Connections to the master Sentinel names, bounded and waited for like the plain command pool."""


def _sentinel_master(url: re.Match[str], readers: bool, options: dict[str, Any], size: int | None = None) -> Any:
    """Return a client of the master that the Sentinels name: it follows a failover on its own.

    The password (and user) of the URL are the master's; the Sentinels are
    asked without one.
    """
    hosts = []
    for host in url["hosts"].split(","):
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "26379")
        hosts.append((name.strip("[]"), int(port)))
    manager = Sentinel(hosts, sentinel_kwargs={
        "socket_timeout": COMMAND_TIMEOUT, "socket_connect_timeout": COMMAND_TIMEOUT,
    })
    credentials: dict[str, Any] = {
        "db": int(url["db"] or 0), "username": url["username"] or None, "password": url["password"],
    }
    if readers:
        return manager.master_for(url["service"], max_connections=size or READER_POOL_SIZE, **credentials, **options)
    return manager.master_for(url["service"], connection_pool_class=_BlockingSentinelPool,
                              max_connections=POOL_SIZE, timeout=COMMAND_TIMEOUT, **credentials, **options)


async def stream_entries(client: Any, key: str, start: str = "-") -> AsyncIterator[tuple[str, bytes | None]]:
    """Yield (entry ID, line or None if the entry has no ``line`` field) from ``start`` on, a page at a time."""
    while True:
        entries = await client.xrange(key, start, "+", count=PAGE)
        for entry_id, fields in entries:
            yield entry_id.decode(), fields.get(b"line")
        if len(entries) < PAGE:
            return
        start = "(" + entries[-1][0].decode()


class Link:
    """A node's pools on one Redis (or one Redis Cluster), its key names, and whether it answered last time."""

    def __init__(self, url: str, node: str, keys: Keys | None = None) -> None:
        self.url = url
        self.node = node
        self.client = connect(url, name=self.client_name)
        self.cluster = isinstance(self.client, Gated)
        self.keys = keys or Keys(tagged=self.cluster)
        self.appender = Appender(self.client, APPEND)
        self.readers = connect(url, readers=True, name=self.client_name)  # blocking reads: the moderation log
        self.down: str | None = None  # why Redis did not answer, while it does not
        self.on_recovered: Callable[[], None] = lambda: None
        self._subscribed = 0  # which cluster node the next subscription goes to

    def reader_client(self) -> Any:
        """Return a client of one connection (one per master on a cluster), for a reader of its own."""
        return connect(self.url, readers=True, size=1, name=self.client_name)

    def subscriber_client(self) -> Any:
        """Return a client of one connection for a PUB/SUB subscription.

        On a cluster, PUBLISH reaches every node (over the cluster bus), so the
        subscription is to one node, the next known one each time it is made
        again (after that node failed).
        """
        if not self.cluster:
            return self.reader_client()
        known = [(node.host, node.port) for node in self.client.get_nodes()] or hosts(self.url)
        host, port = known[self._subscribed % len(known)]
        self._subscribed += 1
        many = MANY_URL_RE.match(self.url)
        assert many is not None
        return aioredis.Redis(host=host, port=port, username=many["username"] or None, password=many["password"],
                              socket_connect_timeout=COMMAND_TIMEOUT, client_name=self.client_name)

    @property
    def client_name(self) -> str:
        """Return the name this node's connections give themselves (CLIENT SETNAME)."""
        return "wsserver-" + "".join(c if c.isalnum() or c in ".-_" else "_" for c in self.node)

    async def connections(self) -> int:
        """Return how many connections Redis (every node of a cluster) has from this node (CLIENT LIST, by name)."""
        if self.cluster:
            listed = await self.client.client_list(target_nodes=RedisCluster.ALL_NODES)
            entries = [entry for part in listed.values() for entry in part]
        else:
            entries = await self.client.client_list()
        return sum(1 for entry in entries if entry.get("name") == self.client_name)

    def failed(self, exc: Exception) -> None:
        """Note that Redis did not answer (logged once per outage)."""
        if self.down is None:
            log.error("Redis at %s did not answer: %s", redacted(self.url), exc)
        self.down = str(exc)

    def recovered(self) -> None:
        """Note that Redis answered again."""
        if self.down is not None:
            log.warning("Redis at %s answers again", redacted(self.url))
            self.down = None
            self.on_recovered()

    async def reset_idle(self) -> None:
        """Close the pools' idle connections (after an outage: they may be dead); they reconnect when next used."""
        for client in (self.client, self.readers):
            if self.cluster:
                for node in client.get_nodes():
                    await node.disconnect_free_connections()
            else:
                await client.connection_pool.disconnect(inuse_connections=False)

    async def close(self) -> None:
        """Close both pools."""
        await self.client.aclose()
        await self.readers.aclose()


def append_call(keys: Keys, channel: str, private: bool, line: str, maxlen: int) -> tuple[list[str], list[str]]:
    """Return the keys and arguments of the append script for ``line``."""
    key = keys.stream(channel, private)
    return [key, keys.epoch(key), keys.rung(key)], [line, str(maxlen), secrets.token_hex(8)]
