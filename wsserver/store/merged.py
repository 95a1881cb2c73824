"""Search many channels' logs as one, newest first: what a search of every channel pages through.

Each channel's log is searched backwards from where that channel got to (its
:class:`~wsserver.store.base.Finder`, the scan of a one-channel search), and
the hits are merged by their time stamps, newest first: one channel's hits
always in its log's order, a second's hits of several channels by channel
name.  Where every channel got to travels as one opaque ``before`` token
(:func:`encode`), so following ``next`` returns every hit of every channel
exactly once, however the pages fall.

A channel's *position* is one of:

* ``e``: from the end of its log (not searched yet);
* ``c:CURSOR``: the lines before ``CURSOR`` (a finder's ``next``);
* ``x:CURSOR``: the lines up to ``CURSOR``, the hit that ends there left out
  (it was the last one given from this channel; more of this channel's hits
  were found than the page took).

A channel missing from the positions is done.  Order is exact, not
approximate: a channel whose found hits all went into the page while more
may be left (its scan was cut off by the deadline) has an unknown next hit,
so the merge stops there and the answer is ``partial``; each channel's scan
still moves on by at least a block each round, so following ``next`` always
gets to the end.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..lines.query import Query
from .finding import Finder

FROM_END = "e"
BEFORE = "c:"
PAST = "x:"


@dataclass
class Merged:
    """A page of a search of many channels: (channel, line, cursor) newest first, and where each channel got to."""

    hits: list[tuple[str, str, str]]
    positions: dict[str, str]  # what is left of each channel; a channel left out is done
    partial: bool  # stopped before ``limit`` because a scan was cut off by the deadline

    @property
    def next(self) -> str | None:
        """Return the token of the next (older) page, None once every channel is done."""
        return encode(self.positions)


@dataclass
class _Stream:
    name: str
    position: str
    hits: list[tuple[str, str]] = field(default_factory=list)
    rest: str | None = None  # the position after the found hits; None: none left (a scan cut off leaves one)
    taken: str | None = None  # the cursor of the last hit the page took


def encode(positions: Mapping[str, str]) -> str | None:
    """Return the positions as one opaque, URL-safe token (None when there are none)."""
    if not positions:
        return None
    packed = zlib.compress(json.dumps(dict(positions), separators=(",", ":")).encode(), 9)
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode(token: str) -> dict[str, str] | None:
    """Return the positions of a token :func:`encode` made, or None if it is not one."""
    try:
        raw = zlib.decompressobj().decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)), 65536)
        positions = json.loads(raw)
    except (ValueError, binascii.Error, zlib.error, UnicodeDecodeError):
        return None
    if not isinstance(positions, dict) or not all(
            isinstance(name, str) and isinstance(at, str) and (at == FROM_END or at.startswith((BEFORE, PAST)))
            for name, at in positions.items()):
        return None
    return positions


def stamp(line: str) -> str:
    """Return the time stamp a log line starts with (``YYYY-MM-DD HH:MM:SS``), or "" for a line without one."""
    return line[1:20] if line[:1] == "[" and line[20:21] == "]" else ""


async def search(finders: Mapping[str, Finder], positions: Mapping[str, str], query: Query, limit: int,
                 seconds: float, turns: asyncio.Semaphore | None = None) -> Merged:
    """Return up to ``limit`` hits of ``query`` in the channels of ``positions``, newest first, from those positions.

    ``finders`` has a finder for each channel of ``positions``.  The scans
    share ``seconds`` (each still reads at least a block) and run ``turns``
    at a time.  A position that names no place of its log any more (the log
    was rotated) ends that channel.  Raises StoreError.
    """
    deadline = time.monotonic() + seconds
    streams = [_Stream(name, positions[name]) for name in sorted(positions)]

    async def scan(stream: _Stream) -> None:
        kind, cursor = stream.position[:2], stream.position[2:]
        wanted = limit + 1 if kind == PAST else limit
        before = None if stream.position == FROM_END else cursor
        async with turns or contextlib.nullcontext():
            found = await finders[stream.name].search(query, before, wanted, max(0.0, deadline - time.monotonic()))
        if found is None:
            return  # rotated away: nothing left of this channel
        hits = found.hits
        if kind == PAST and hits and hits[0][1] == cursor:
            hits = hits[1:]  # given already
        stream.hits = hits
        stream.rest = None if found.next is None else BEFORE + found.next

    await asyncio.gather(*(scan(stream) for stream in streams))
    taken: list[tuple[str, str, str]] = []
    partial = False
    while len(taken) < limit:
        heads = [stream for stream in streams if stream.hits]
        if any(not stream.hits and stream.rest is not None for stream in streams):
            partial = True  # a channel's next hit is not known yet: an older one from another may not go first
            break
        if not heads:
            break
        newest = max(heads, key=lambda stream: stamp(stream.hits[0][0]))  # the first by name among equals
        line, cursor = newest.hits.pop(0)
        newest.taken = cursor
        taken.append((newest.name, line, cursor))
    left: dict[str, str] = {}
    for stream in streams:
        if stream.hits:
            left[stream.name] = stream.position if stream.taken is None else PAST + stream.taken
        elif stream.rest is not None:
            left[stream.name] = stream.rest
    return Merged(taken, left, partial)
