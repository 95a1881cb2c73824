"""The operator commands ``tail``, ``users``, ``say`` and ``check`` against a Redis store.

They print what their file-store twins in :mod:`wsserver.admin` print, with
a stream key and entry ID where those print a file and line number:

* ``say`` appends with the server's own append script, so every node's
  readers deliver the line as they deliver any other;
* ``tail`` prints the last lines (``XREVRANGE``), then follows the stream with
  ``XREAD BLOCK`` from the last entry it printed, retrying while Redis is away;
* ``users`` lists the handles held by live nodes, with the node holding each;
* ``check`` reads every channel and private stream and every users hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any, TextIO

from redis.exceptions import RedisError

from ..config import CHANNEL_RE, Config, redacted
from ..logline import SYSTEM, Clock, format_line
from ..protocol import HANDLE_RE
from ..store.redis import (
    BLOCK_MS,
    PREFIX,
    RETRY_FIRST,
    RETRY_MAX,
    append_line,
    connect,
    held_handles,
    stream_entries,
    stream_key,
)
from .files import AdminError, check_log, readable


@asynccontextmanager
async def client_of(config: Config) -> AsyncIterator[Any]:
    """Yield a client of the store's Redis; Redis errors become one AdminError naming the URL."""
    client = connect(config.store)
    try:
        yield client
    except RedisError as exc:
        raise AdminError(f"cannot reach Redis at {redacted(config.store)}: {exc}") from None
    finally:
        await client.aclose()


async def existing_stream(client: Any, config: Config, channel: str) -> str:
    """Return the stream key of ``channel``; raises AdminError for a bad name or a missing stream."""
    if not CHANNEL_RE.match(channel):
        raise AdminError(f"invalid channel name {channel!r}: must match {CHANNEL_RE.pattern}")
    key = stream_key(channel)
    if not await client.exists(key):
        raise AdminError(f"no stream for channel {channel!r} in Redis at {redacted(config.store)}")
    return key


# ---------------------------------------------------------------- say


async def say(config: Config, channel: str, text: str) -> str:
    """Append a System line to ``channel``'s stream; return it. Every node delivers it."""
    async with client_of(config) as client:
        await existing_stream(client, config, channel)
        if not text.strip():
            raise AdminError("the text is empty")
        line = format_line(Clock(config.timezone).stamp(), SYSTEM, text)
        await append_line(client, channel, False, line, 0)  # the nodes trim
    return line


# ---------------------------------------------------------------- users


async def users(config: Config, channel: str | None, out: TextIO) -> int:
    """Print ``channel<TAB>handle<TAB>node`` for each handle held by a live node; return how many."""
    async with client_of(config) as client:
        held = sorted(await held_handles(client, channel), key=lambda entry: (entry[0], entry[3].lower()))
    for name, _, node, handle in held:
        print(f"{name}\t{handle}\t{node}", file=out)
    return len(held)


# ---------------------------------------------------------------- tail


def _show(entries: list[Any], out: TextIO) -> None:
    for _, fields in entries:
        print(readable(fields.get(b"line", b"").decode("utf-8", errors="replace")), file=out, flush=True)


async def tail(config: Config, channel: str, lines: int, out: TextIO, follow: bool = True) -> None:
    """Print the last ``lines`` lines of ``channel``'s stream, then follow it until interrupted."""
    async with client_of(config) as client:
        key = await existing_stream(client, config, channel)
        newest = await client.xrevrange(key, count=max(lines, 1))
        _show(list(reversed(newest[:lines])), out)
        last = newest[0][0] if newest else b"0-0"
        if not follow:
            return
        reader = asyncio.get_running_loop().create_task(_follow(client, config, key, last, out))
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, reader.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _follow(client: Any, config: Config, key: str, last: bytes, out: TextIO) -> None:
    delay = RETRY_FIRST
    lost = False
    while True:
        try:
            found = await client.xread({key: last}, count=1000, block=BLOCK_MS)
        except RedisError as exc:
            if not lost:
                print(f"wsserver: lost Redis at {redacted(config.store)}: {exc}; retrying", file=sys.stderr)
                lost = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
            continue
        if lost:
            print(f"wsserver: Redis at {redacted(config.store)} answers again", file=sys.stderr)
            lost, delay = False, RETRY_FIRST
        if found:
            entries = found[0][1]
            _show(entries, out)
            last = entries[-1][0]


# ---------------------------------------------------------------- check


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


async def _keys(client: Any, kind: str) -> list[str]:
    return sorted([key.decode() async for key in client.scan_iter(match=PREFIX + "*", _type=kind, count=1000)])


async def check(config: Config, out: TextIO) -> int:
    """Verify every stream and users hash; print each problem as ``key:entry: problem``; return how many."""
    problems = keys = lines = 0

    def report(found: Iterator[str]) -> None:
        nonlocal problems
        for problem in found:
            problems += 1
            print(problem, file=out)

    async with client_of(config) as client:
        for key in await _keys(client, "stream"):
            kind, _, channel = key.removeprefix(PREFIX).partition(":")
            if kind not in ("channel", "private"):
                continue
            keys += 1
            if not CHANNEL_RE.match(channel):
                report(iter([f"{key}: invalid channel {channel!r}"]))
            async for entry_id, line in stream_entries(client, key):
                lines += 1
                if line is None:
                    report(iter([f"{key}:{entry_id}: entry has no line field"]))
                else:
                    report(check_log(key, [(entry_id, line, True)], private=kind == "private"))
        for key in await _keys(client, "hash"):
            if not key.startswith(PREFIX + "users:"):
                continue
            keys += 1
            fields = await client.hgetall(key)
            lines += len(fields)
            report(_check_users(key, fields))
    summary = f"checked {keys} key(s) in Redis at {redacted(config.store)}, {lines} line(s): {problems} problem(s)"
    print(summary, file=out if problems == 0 else sys.stderr)
    return problems
