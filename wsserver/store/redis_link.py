"""A node's connection to Redis: the pools, the keys, the Lua scripts, and whether Redis answers.

Keys (all under ``wsserver:``):

* ``channel:<name>`` and ``private:<name>``: streams, one entry per log line,
  field ``line`` holding exactly the text a log file would hold.  Appends are
  ``XADD ... MAXLEN ~ --stream-maxlen``.
* ``epoch:<stream key>``: a random token set when an append creates the
  stream; it is the identity part of cursors (``<epoch>:<entry id>``), so a
  deleted and recreated stream is told apart (``recovered: false``).
* ``users:<channel>``: hash of lower-cased handle to ``<node>|<Handle>``;
  ``node:<node>``: a node's liveness key, refreshed every 5 s with a 15 s
  TTL.  A claim (a Lua script) succeeds unless the holder's node is alive,
  so a node that dies loses its handles within 15 s.  ``users-version`` is
  incremented on every change; nodes poll it to refresh presence.
* ``channels`` and ``user-channels``: sets of the channel names with a
  stream, and with a users hash.

The operator commands (:mod:`wsserver.ops`) use the same functions.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import NoScriptError

from ..config import SENTINEL_URL_RE, redacted
from .redis_appender import Appender

log = logging.getLogger(__name__)

PREFIX = "wsserver:"
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
CHANGES_KEPT = 100_000  # users-version:channels keeps the channel of this many last changes (the scripts say 100000)

APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[2], ARGV[3]) end
if ARGV[4] ~= '' then redis.call('SADD', KEYS[3], ARGV[4]) end
local id
if ARGV[2] == '0' then id = redis.call('XADD', KEYS[1], '*', 'line', ARGV[1])
else id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'line', ARGV[1]) end
if redis.call('SET', KEYS[4], '1', 'NX') then redis.call('PUBLISH', KEYS[1], id) end
return id
"""
# Every change of a users hash (KEYS[1], "wsserver:users:<channel>") increments users-version
# (KEYS[2]) and records the channel under that version, so nodes re-read only what changed.
BUMP = """
local function bump()
  local v = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[2] .. ':channels', v, string.sub(KEYS[1], 16))
  redis.call('ZREMRANGEBYSCORE', KEYS[2] .. ':channels', '-inf', v - 100000)
end
"""
CLAIM = BUMP + """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held == ARGV[2] then return 1 end
if held and string.sub(held, 1, 5) == 'away:' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  bump()
  return 2
end
if held then
  local node = string.match(held, '^([^|]*)|')
  if node and redis.call('EXISTS', ARGV[3] .. node) == 1 then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
bump()
redis.call('SADD', KEYS[3], ARGV[4])
return 1
"""
# Away values are 'away:<until>:<announced 0|1>|<Handle>': a stopped node's users, not held by anyone.
MARK_AWAY = BUMP + """
local fields = redis.call('HGETALL', KEYS[1])
local restarting, mine = false, {}
for i = 1, #fields, 2 do
  local node, handle = string.match(fields[i + 1], '^([^|]*)|(.*)$')
  if node == ARGV[1] then
    table.insert(mine, {fields[i], handle})
  else
    local until_ = tonumber(string.match(fields[i + 1], '^away:([^:]*):'))
    if until_ and until_ > tonumber(ARGV[3]) then restarting = true end
  end
end
for _, held in ipairs(mine) do
  redis.call('HSET', KEYS[1], held[1], 'away:' .. ARGV[2] .. ':0|' .. held[2])
end
if #mine > 0 then bump() end
if #mine > 0 and not restarting then return 1 end
return 0
"""
ANNOUNCE_BACK = """
local fields = redis.call('HGETALL', KEYS[1])
local flagged, fresh = false, {}
for i = 1, #fields, 2 do
  local flag = string.match(fields[i + 1], '^away:[^:]*:(%d)|')
  if flag == '1' then flagged = true elseif flag == '0' then table.insert(fresh, i) end
end
for _, i in ipairs(fresh) do
  redis.call('HSET', KEYS[1], fields[i], (string.gsub(fields[i + 1], '^(away:[^:]*):0|', '%1:1|')))
end
if #fresh > 0 and not flagged then return 1 end
return 0
"""
EXPIRE_AWAY = BUMP + """
local fields = redis.call('HGETALL', KEYS[1])
local gone = {}
for i = 1, #fields, 2 do
  local until_, handle = string.match(fields[i + 1], '^away:([^:]*):%d|(.*)$')
  if until_ and tonumber(until_) <= tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[1], fields[i])
    table.insert(gone, handle)
  end
end
if #gone > 0 then bump() end
return gone
"""
RELEASE = BUMP + """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  bump()
  return 1
end
return 0
"""


def stream_key(channel: str, private: bool = False) -> str:
    """Return the stream of ``channel``'s public or private lines."""
    return f"{PREFIX}{'private' if private else 'channel'}:{channel}"


def doorbell_key(stream: str) -> str:
    """Return the flag that is set while a stream's doorbell rang and no node has read it since.

    An append publishes the doorbell only when it sets the flag; a reader
    deletes it just before it reads.  So a busy stream rings about once per
    read, not once per line, and no entry goes unread: an entry appended while
    the flag is set is read by the reads that the ring which set it causes.
    """
    return PREFIX + "rung:" + stream


def parse_id(entry_id: str) -> tuple[int, int]:
    """Return a stream entry ID as a pair that sorts like the stream."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def connect(url: str, readers: bool = False, size: int | None = None, name: str | None = None) -> Any:
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
    if name is not None:
        options["client_name"] = name  # CLIENT LIST tells a node's connections apart
    sentinel = SENTINEL_URL_RE.match(url)
    if sentinel is not None:
        return _sentinel_master(sentinel, readers, options, size)
    if readers:
        pool = aioredis.ConnectionPool.from_url(url, max_connections=size or READER_POOL_SIZE, **options)
    else:
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=COMMAND_TIMEOUT,
                                                        **options)
    return aioredis.Redis.from_pool(pool)


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
    manager = Sentinel(hosts, sentinel_kwargs={  # type: ignore[no-untyped-call]
        "socket_timeout": COMMAND_TIMEOUT, "socket_connect_timeout": COMMAND_TIMEOUT,
    })
    credentials: dict[str, Any] = {
        "db": int(url["db"] or 0), "username": url["username"] or None, "password": url["password"],
    }
    if readers:
        return manager.master_for(url["service"], max_connections=size or READER_POOL_SIZE, **credentials, **options)
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


def append_call(channel: str, private: bool, line: str, maxlen: int) -> tuple[list[str], list[str]]:
    """Return the keys and arguments of the append script for ``line``."""
    key = stream_key(channel, private)
    return ([key, PREFIX + "epoch:" + key, PREFIX + "channels", doorbell_key(key)],
            [line, str(maxlen), secrets.token_hex(8), "" if private else channel])


async def append_line(client: Any, channel: str, private: bool, line: str, maxlen: int) -> bytes:
    """XADD ``line`` to the channel's stream (setting its epoch if this creates it); return the entry ID.

    ``maxlen`` 0 appends without trimming (operator commands, which do not
    know the nodes' ``--stream-maxlen``).
    """
    keys, args = append_call(channel, private, line, maxlen)
    entry_id: bytes = await run_script(client, APPEND, keys, args)
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


def away_until(node: str) -> float | None:
    """Return when the grace of an away handle ends (the node part of its value), or None if it is held."""
    if not node.startswith("away:"):
        return None
    try:
        return float(node.split(":")[1])
    except (IndexError, ValueError):
        return None


async def user_channels(client: Any) -> list[str]:
    """Return the channels that have a users hash, sorted."""
    return sorted(name.decode() for name in await client.smembers(PREFIX + "user-channels"))


async def held_handles(client: Any, channel: str | list[str] | None,
                       live: bool = True) -> list[tuple[str, str, str, str]]:
    """Return (channel, hash field, node, handle) of the handles held by live nodes (or by dead ones).

    Away handles in their grace count as live (node ``away:...``); away
    handles are never in the dead list: their grace ends with a leave line.
    """
    if channel is None:
        channels = await user_channels(client)
    else:
        channels = [channel] if isinstance(channel, str) else channel
    pipe = client.pipeline(transaction=False)
    for name in channels:
        pipe.hgetall(PREFIX + "users:" + name)
    held: list[tuple[str, str, str, str]] = []
    for name, fields in zip(channels, await pipe.execute(), strict=True):
        for field, value in fields.items():
            node, _, handle = value.decode().partition("|")
            held.append((name, field.decode(), node, handle))
    now = time.time()
    away = {entry: away_until(entry[2]) for entry in held}
    held = [entry for entry in held if away[entry] is None or (live and (away[entry] or 0) > now)]
    nodes = sorted({node for _, _, node, _ in held if away_until(node) is None})
    alive: dict[str, bool] = {}
    if nodes:
        pipe = client.pipeline(transaction=False)
        for node in nodes:
            pipe.exists(PREFIX + "node:" + node)
        alive = {node: bool(found) for node, found in zip(nodes, await pipe.execute(), strict=True)}
    return [entry for entry in held if alive.get(entry[2], away[entry] is not None) == live]


class Link:
    """A node's two pools on one Redis URL, and whether Redis answered the last time it was asked."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.node = f"{socket.gethostname()}.{os.getpid()}.{secrets.token_hex(4)}"
        self.client = connect(url, name=self.client_name)
        self.appender = Appender(self.client, APPEND)
        self.readers = connect(url, readers=True, name=self.client_name)  # blocking reads: the moderation log
        self.down: str | None = None  # why Redis did not answer, while it does not
        self.on_recovered: Callable[[], None] = lambda: None

    def reader_client(self) -> Any:
        """Return a client of one connection, for a reader that blocks on it (and names it to CLIENT UNBLOCK)."""
        return connect(self.url, readers=True, size=1, name=self.client_name)

    @property
    def client_name(self) -> str:
        """Return the name this node's connections give themselves (CLIENT SETNAME)."""
        return "wsserver-" + "".join(c if c.isalnum() or c in ".-_" else "_" for c in self.node)

    async def connections(self) -> int:
        """Return how many connections Redis has from this node (CLIENT LIST, by name)."""
        return sum(1 for entry in await self.client.client_list() if entry.get("name") == self.client_name)

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
        await self.client.connection_pool.disconnect(inuse_connections=False)
        await self.readers.connection_pool.disconnect(inuse_connections=False)

    async def close(self) -> None:
        """Close both pools."""
        await self.client.aclose()
        await self.readers.aclose()
