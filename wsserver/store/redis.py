"""The Redis store: channel logs as Redis Streams and handles in Redis, for nodes on several machines.

Keys (all under ``wsserver:``):

* ``channel:<name>`` and ``private:<name>``: streams, one entry per log line,
  field ``line`` holding exactly the text a log file would hold.  Appends are
  ``XADD ... MAXLEN ~ --stream-maxlen``.  Each node reads each stream with
  ``XREAD BLOCK`` from the last entry ID it delivered, like a file tailer.
* ``epoch:<stream key>``: a random token set when an append creates the
  stream; it is the identity part of cursors (``<epoch>:<entry id>``), so a
  deleted and recreated stream is told apart (``recovered: false``).
* ``users:<channel>``: hash of lower-cased handle to ``<node>|<Handle>``;
  ``node:<node>``: a node's liveness key, refreshed every 5 s with a 15 s
  TTL.  A claim (a Lua script) succeeds unless the holder's node is alive,
  so a node that dies loses its handles within 15 s.  ``users-version`` is
  incremented on every change; nodes poll it to refresh presence.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import re
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import NoScriptError, RedisError

from ..config import SENTINEL_URL_RE, Config, redacted
from ..metrics import Metrics
from ..tasks import cancel_and_wait
from .base import Backlog, Deliver, Feed, StoreError, StoreUnavailable
from .channellog import AppendError
from .users import Entry

log = logging.getLogger(__name__)

PREFIX = "wsserver:"
# Limits
READ_COUNT = 1000  # entries taken by one XREAD: one delivery, one frame
PAGE = 1000  # entries per XRANGE when a whole stream is read (export, check)
POOL_SIZE = 32  # connections for commands (appends, claims, history) per node
READER_POOL_SIZE = 2**31 - 1  # readers: one blocked connection per feed, as many as there are feeds
RESUME_LINES = 100_000  # entries replayed for a resume; further behind gets last-N history
BATCH_BYTES = 64 * 1024  # backlog frames are cut at about this size
# Timeouts
BLOCK_MS = 1000  # how long one XREAD waits for new entries
BUSY_GATHER = 0.005  # after a read that found lines, let more arrive before the next: fewer, fuller frames
COMMAND_TIMEOUT = 5.0  # seconds before a Redis command counts as failed
NODE_TTL = 15  # seconds a node's handles outlive its last heartbeat: the bound after a crash
NODE_REFRESH = 5.0  # seconds between heartbeats
VERSION_POLL = 0.5  # seconds between looks at users-version (presence across nodes)
RETRY_FIRST, RETRY_MAX = 0.1, 2.0  # backoff of readers while Redis is unreachable

_CURSOR_RE = re.compile(r"^([0-9a-f]{8,32}):([0-9]{1,20})-([0-9]{1,20})$")

APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[2], ARGV[3]) end
if ARGV[4] ~= '' then redis.call('SADD', KEYS[3], ARGV[4]) end
if ARGV[2] == '0' then return redis.call('XADD', KEYS[1], '*', 'line', ARGV[1]) end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'line', ARGV[1])
"""
CLAIM = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held == ARGV[2] then return 1 end
if held then
  local node = string.match(held, '^([^|]*)|')
  if node and redis.call('EXISTS', ARGV[3] .. node) == 1 then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[2])
redis.call('SADD', KEYS[3], ARGV[4])
return 1
"""
RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('INCR', KEYS[2])
  return 1
end
return 0
"""


def stream_key(channel: str, private: bool = False) -> str:
    """Return the stream of ``channel``'s public or private lines."""
    return f"{PREFIX}{'private' if private else 'channel'}:{channel}"


def parse_id(entry_id: str) -> tuple[int, int]:
    """Return a stream entry ID as a pair that sorts like the stream."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def connect(url: str, readers: bool = False) -> Any:
    """Return a pooled client for ``url`` with the store's timeouts.

    Commands share a bounded pool: a join storm waits up to COMMAND_TIMEOUT
    for a free connection rather than opening thousands.  Readers (``readers``
    True) each keep a connection blocked in XREAD, so theirs is a separate pool
    that grows with the number of feeds.

    Typed ``Any``: redis-py's answers are typed ``bytes | str | None`` for
    every command, and this store only ever gets bytes (no decoding).
    """
    options: dict[str, Any] = {
        "socket_timeout": COMMAND_TIMEOUT + BLOCK_MS / 1000,
        "socket_connect_timeout": COMMAND_TIMEOUT,
        "health_check_interval": 30,
    }
    sentinel = SENTINEL_URL_RE.match(url)
    if sentinel is not None:
        return _sentinel_master(sentinel, readers, options)
    if readers:
        pool = aioredis.ConnectionPool.from_url(url, max_connections=READER_POOL_SIZE, **options)
    else:
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=COMMAND_TIMEOUT,
                                                        **options)
    return aioredis.Redis.from_pool(pool)


class _BlockingSentinelPool(SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """Connections to the master Sentinel names, bounded and waited for like the plain command pool."""


def _sentinel_master(url: re.Match[str], readers: bool, options: dict[str, Any]) -> Any:
    """Return a client of the master that the Sentinels name: it follows a failover on its own.

    The password (and user) of the URL are the master's; the Sentinels are
    asked without one.
    """
    hosts = []
    for host in url["hosts"].split(","):
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "26379")
        hosts.append((name.strip("[]"), int(port)))
    manager = Sentinel(hosts, sentinel_kwargs={  # type: ignore[no-untyped-call]
        "socket_timeout": COMMAND_TIMEOUT, "socket_connect_timeout": COMMAND_TIMEOUT,
    })
    credentials: dict[str, Any] = {
        "db": int(url["db"] or 0), "username": url["username"] or None, "password": url["password"],
    }
    if readers:
        return manager.master_for(url["service"], max_connections=READER_POOL_SIZE, **credentials, **options)
    return manager.master_for(url["service"], connection_pool_class=_BlockingSentinelPool,
                              max_connections=POOL_SIZE, timeout=COMMAND_TIMEOUT, **credentials, **options)

@functools.cache
def _sha1(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()


async def run_script(client: Any, source: str, keys: list[str], args: list[str]) -> Any:
    """Run a Lua script by its SHA1 (EVALSHA), sending its text only when Redis does not have it yet."""
    try:
        return await client.evalsha(_sha1(source), len(keys), *keys, *args)
    except NoScriptError:  # a new or restarted Redis: EVAL loads it
        return await client.eval(source, len(keys), *keys, *args)


async def append_line(client: Any, channel: str, private: bool, line: str, maxlen: int) -> bytes:
    """XADD ``line`` to the channel's stream (setting its epoch if this creates it); return the entry ID.

    ``maxlen`` 0 appends without trimming (operator commands, which do not
    know the nodes' ``--stream-maxlen``).
    """
    key = stream_key(channel, private)
    entry_id: bytes = await run_script(
        client, APPEND, [key, PREFIX + "epoch:" + key, PREFIX + "channels"],
        [line, str(maxlen), secrets.token_hex(8), "" if private else channel],
    )
    return entry_id


async def stream_entries(client: Any, key: str, start: str = "-") -> AsyncIterator[tuple[str, bytes | None]]:
    """Yield (entry ID, line or None if the entry has no ``line`` field) from ``start`` on, a page at a time."""
    while True:
        entries = await client.xrange(key, start, "+", count=PAGE)
        for entry_id, fields in entries:
            yield entry_id.decode(), fields.get(b"line")
        if len(entries) < PAGE:
            return
        start = "(" + entries[-1][0].decode()


async def held_handles(client: Any, channel: str | None, live: bool = True) -> list[tuple[str, str, str, str]]:
    """Return (channel, hash field, node, handle) of the handles held by live nodes (or by dead ones)."""
    if channel is None:
        channels = sorted(name.decode() for name in await client.smembers(PREFIX + "user-channels"))
    else:
        channels = [channel]
    pipe = client.pipeline(transaction=False)
    for name in channels:
        pipe.hgetall(PREFIX + "users:" + name)
    held: list[tuple[str, str, str, str]] = []
    for name, fields in zip(channels, await pipe.execute(), strict=True):
        for field, value in fields.items():
            node, _, handle = value.decode().partition("|")
            held.append((name, field.decode(), node, handle))
    nodes = sorted({node for _, _, node, _ in held})
    alive: dict[str, bool] = {}
    if nodes:
        pipe = client.pipeline(transaction=False)
        for node in nodes:
            pipe.exists(PREFIX + "node:" + node)
        alive = {node: bool(found) for node, found in zip(nodes, await pipe.execute(), strict=True)}
    return [entry for entry in held if alive.get(entry[2], False) == live]


class RedisFeed:
    """One channel stream: appended to with XADD, read back with XREAD from the last ID delivered."""

    def __init__(
        self,
        store: RedisStore,
        channel: str,
        private: bool,
        deliver: Deliver,
        gather: Callable[[], float] | None = None,
    ) -> None:
        self._store = store
        self.key = stream_key(channel, private)
        self._epoch_key = PREFIX + "epoch:" + self.key
        self._name, self._private = channel, private
        self._deliver = deliver
        self._gather = gather
        self._mirror = None if store.mirror_dir is None else store.mirror_dir / (
            f"{'private' if private else 'channel'}_{channel}.log"
        )
        self.last_id = "0-0"  # the last entry delivered
        self.epoch = ""
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start reading from the current end of the stream."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"read {self.key}")

    async def stop(self) -> None:
        """Stop reading."""
        task, self._task = self._task, None
        await cancel_and_wait([task])

    def reopen(self) -> None:
        """Nothing to reopen: SIGHUP matters to files only."""

    async def append(self, line: str) -> None:
        """XADD the line; raises AppendError when Redis did not take it."""
        try:
            await append_line(self._store.client, self._name, self._private, line, self._store.maxlen)
        except RedisError as exc:
            self._store.failed(exc)
            raise AppendError(0, f"Redis did not take the line: {exc}", self.key) from exc

    @property
    def cursor(self) -> str:
        """Return ``<epoch>:<entry id>`` after the last line delivered."""
        return f"{self.epoch}:{self.last_id}"

    async def wait_ready(self) -> None:
        """Wait until the reader knows where the stream ends."""
        await self._ready.wait()

    async def _run(self) -> None:
        client = self._store.readers
        delay = RETRY_FIRST
        while not self._ready.is_set():
            try:
                newest = await client.xrevrange(self.key, count=1)
                epoch = await client.get(self._epoch_key)
            except RedisError as exc:
                self._store.failed(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            self.last_id = newest[0][0].decode() if newest else "0-0"
            self.epoch = epoch.decode() if epoch else "00000000"
            self._ready.set()
        delay = RETRY_FIRST
        busy = False  # the last read found lines: more are likely on their way
        while True:
            wait = self._gather() if self._gather is not None else 0.0
            if busy:
                wait = max(wait, BUSY_GATHER)
            if wait:
                await asyncio.sleep(wait)
            try:
                pipe = client.pipeline(transaction=False)
                pipe.get(self._epoch_key)
                pipe.xread({self.key: self.last_id}, count=READ_COUNT, block=BLOCK_MS)
                epoch, found = await pipe.execute()
            except RedisError as exc:
                # Readers resume from the last ID they delivered: nothing lost
                # or repeated once Redis is back.
                self._store.failed(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            delay = RETRY_FIRST
            self._store.recovered()
            if epoch:
                self.epoch = epoch.decode()
            busy = bool(found)
            if not found:
                continue
            entries = found[0][1]
            data = b"".join(fields.get(b"line", b"") + b"\n" for _, fields in entries)
            self.last_id = entries[-1][0].decode()
            if self._mirror is not None:
                self._write_mirror(data)
            self._deliver(data, self.cursor)

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

    def _parse(self, cursor: str) -> str | None:
        match = _CURSOR_RE.match(cursor)
        if match is None or match.group(1) != self.epoch:
            return None
        entry_id = f"{match.group(2)}-{match.group(3)}"
        return entry_id if parse_id(entry_id) <= parse_id(self.last_id) else None

    async def backlog(self, history: int, since: str | None) -> Backlog:
        """Read the last ``history`` entries up to the last delivered, or the entries after ``since``."""
        end, cursor = self.last_id, self.cursor  # before any await: where live lines begin
        try:
            return await self._backlog(history, since, end, cursor)
        except RedisError as exc:
            raise StoreError(f"Redis did not answer a history read: {exc}") from exc

    async def _backlog(self, history: int, since: str | None, end: str, cursor: str) -> Backlog:
        client = self._store.client
        if since is not None:
            start = self._parse(since)
            if start is not None and (start == end or await client.xrange(self.key, start, start, count=1)):
                entries = [] if start == end else await client.xrange(
                    self.key, "(" + start, end, count=RESUME_LINES + 1
                )
                if len(entries) <= RESUME_LINES:
                    return Backlog(True, self._batches(entries))
        if end == "0-0" or history <= 0:
            return Backlog(None if since is None else False, [])
        entries = list(reversed(await client.xrevrange(self.key, end, "-", count=history)))
        lines = b"\n".join(fields.get(b"line", b"") for _, fields in entries)
        return Backlog(None if since is None else False, [(lines, cursor)] if entries else [])

    def _batches(self, entries: list[Any]) -> list[tuple[bytes, str]]:
        batches: list[tuple[bytes, str]] = []
        lines: list[bytes] = []
        size = 0
        for index, (entry_id, fields) in enumerate(entries):
            line = fields.get(b"line", b"")
            lines.append(line)
            size += len(line) + 1
            if size >= BATCH_BYTES or index == len(entries) - 1:
                batches.append((b"\n".join(lines), f"{self.epoch}:{entry_id.decode()}"))
                lines, size = [], 0
        return batches

    async def before(self, cursor: str, limit: int) -> tuple[bytes, str] | None:
        """Read up to ``limit`` entries before the one ``cursor`` names."""
        start = self._parse(cursor)
        client = self._store.client
        try:
            if start is None or not await client.xrange(self.key, start, start, count=1):
                return None
            entries = list(reversed(await client.xrevrange(self.key, "(" + start, "-", count=limit)))
        except RedisError as exc:
            raise StoreError(f"Redis did not answer a history read: {exc}") from exc
        first = entries[0][0].decode() if entries else start
        return b"\n".join(fields.get(b"line", b"") for _, fields in entries), f"{self.epoch}:{first}"


class RedisHandles:
    """Handles held across every node on one Redis: claimed atomically, freed when their node dies."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self.node = f"{socket.gethostname()}.{os.getpid()}.{secrets.token_hex(4)}"
        self._mine: dict[tuple[str, str], str] = {}  # (lower handle, channel) -> held value
        self._unreleased: dict[tuple[str, str], str] = {}  # releases (or failed claims) to finish

    def _value(self, handle: str) -> str:
        return f"{self.node}|{handle}"

    async def _claim(self, handle: str, channel: str, value: str) -> bool:
        keys = [PREFIX + "users:" + channel, PREFIX + "users-version", PREFIX + "user-channels"]
        taken = await run_script(self._store.client, CLAIM, keys, [handle, value, PREFIX + "node:", channel])
        return bool(taken)

    async def _release(self, handle: str, channel: str, value: str) -> None:
        await run_script(self._store.client, RELEASE, [PREFIX + "users:" + channel, PREFIX + "users-version"],
                         [handle, value])

    async def heartbeat(self) -> None:
        """Mark this node alive for NODE_TTL seconds; finish releases that failed; re-take lost handles."""
        before = await self._store.client.set(PREFIX + "node:" + self.node, socket.gethostname(), ex=NODE_TTL, get=True)
        for key, value in list(self._unreleased.items()):
            await self._release(*key, value)
            if self._unreleased.get(key) == value:
                del self._unreleased[key]
        if before is None and self._mine:
            # Redis restarted empty (or we were out of touch past the TTL):
            # the handles our connections hold are ours again, unless a live
            # node took one meanwhile.
            for (handle, channel), value in list(self._mine.items()):
                if not await self._claim(handle, channel, value):
                    log.warning("%s in %s is now held by another node", value.partition("|")[2], channel)

    async def claim(self, handle: str, channel: str) -> bool:
        """Take ``handle`` in ``channel`` on every node; False if a live node holds it.

        Raises StoreError if Redis did not answer; the claim may then have
        been made, so it is released with the next heartbeat.
        """
        key, value = (handle.lower(), channel), self._value(handle)
        try:
            taken = await self._claim(*key, value)
        except RedisError as exc:
            self._unreleased[key] = value
            raise StoreError(f"Redis did not answer a claim: {exc}") from exc
        if taken:
            self._unreleased.pop(key, None)
            self._mine[key] = value
        return taken

    async def release(self, handle: str, channel: str) -> None:
        """Give ``handle`` back if this node holds it (with the next heartbeat if Redis does not answer now)."""
        key = (handle.lower(), channel)
        value = self._mine.pop(key, None)
        if value is None:
            return
        try:
            await self._release(*key, value)
        except RedisError as exc:
            log.warning("Redis did not answer the release of %s in %s (retried every %s s): %s",
                        handle, channel, NODE_REFRESH, exc)
            self._unreleased[key] = value

    async def reclaim(self) -> int:
        """Drop entries of nodes that are gone; return how many."""
        dropped = 0
        for channel, field, _, _ in await held_handles(self._store.client, None, live=False):
            if await self._store.client.hdel(PREFIX + "users:" + channel, field):
                dropped += 1
        if dropped:
            await self._store.client.incr(PREFIX + "users-version")
        return dropped

    async def release_all(self) -> int:
        """Release every handle this node still holds."""
        held = list(self._mine)
        for handle, channel in held:
            await self.release(handle, channel)
        return len(held)

    async def users(self, channel: str | None = None) -> list[Entry]:
        """Return the handles held by live nodes, in one channel or all."""
        try:
            held = await held_handles(self._store.client, channel)
        except RedisError as exc:
            raise StoreError(f"Redis did not answer: {exc}") from exc
        return [Entry(handle, name, None) for name, _, _, handle in held]



class RedisStore:
    """Streams and handles in one Redis, shared by every node given the same URL."""

    def __init__(self, config: Config, metrics: Metrics) -> None:
        self.url = config.store
        self.maxlen = config.stream_maxlen
        self.mirror_dir: Path | None = config.mirror_dir
        self.client = connect(self.url)
        self.readers = connect(self.url, readers=True)
        self.registry = RedisHandles(self)
        self._down: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._users_changed: Callable[[], None] = lambda: None
        self._channels: list[str] = []

    def feed(self, channel: str, private: bool, deliver: Deliver, gather: Callable[[], float] | None = None) -> Feed:
        """Return the feed of ``channel``'s stream."""
        return RedisFeed(self, channel, private, deliver, gather)

    async def start(self, users_changed: Callable[[], None]) -> None:
        """Reach Redis (raises StoreUnavailable naming the URL), mark this node alive, start polling."""
        self._users_changed = users_changed
        try:
            await self.client.ping()
            await self.registry.heartbeat()
            await self.registry.reclaim()
        except RedisError as exc:
            raise StoreUnavailable(f"cannot reach Redis at {redacted(self.url)}: {exc}") from exc
        if self.mirror_dir is not None:
            self.mirror_dir.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._heartbeat(), name="redis heartbeat"),
            loop.create_task(self._poll_version(), name="redis users version"),
        ]
        log.info("storing channels in Redis at %s as node %s", redacted(self.url), self.registry.node)

    async def stop(self) -> None:
        """Stop the heartbeat and close the pool (the node's key then expires)."""
        await cancel_and_wait(self._tasks)
        with contextlib.suppress(RedisError):
            await self.client.delete(PREFIX + "node:" + self.registry.node)
        await self.client.aclose()
        await self.readers.aclose()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(NODE_REFRESH)
            try:
                await self.registry.heartbeat()
            except RedisError as exc:
                self.failed(exc)

    async def _poll_version(self) -> None:
        seen: bytes | None = None
        while True:
            await asyncio.sleep(VERSION_POLL)
            try:
                version = await self.client.get(PREFIX + "users-version")
                self._channels = sorted(name.decode() for name in await self.client.smembers(PREFIX + "channels"))
            except RedisError:
                continue
            if version != seen:
                seen = version
                self._users_changed()

    def failed(self, exc: Exception) -> None:
        """Note that Redis did not answer (logged once per outage)."""
        if self._down is None:
            log.error("Redis at %s did not answer: %s", redacted(self.url), exc)
        self._down = str(exc)

    def recovered(self) -> None:
        """Note that Redis answered again."""
        if self._down is not None:
            log.warning("Redis at %s answers again", redacted(self.url))
            self._down = None
            # At once, not at the next heartbeat: if Redis came back empty,
            # our connections' handles must be held again before others ask.
            task = asyncio.get_running_loop().create_task(self._beat_once(), name="redis heartbeat now")
            self._tasks = [*(t for t in self._tasks if not t.done()), task]

    async def _beat_once(self) -> None:
        try:
            await self.registry.heartbeat()
        except RedisError as exc:
            self.failed(exc)

    def channel_names(self) -> list[str]:
        """Return the channels that have a stream (as of the last poll)."""
        return list(self._channels)

    def problem(self) -> str | None:
        """Return "cannot reach Redis" while it does not answer."""
        return None if self._down is None else "cannot reach Redis"
