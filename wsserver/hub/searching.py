"""Find lines in a channel's history, newest first: the search every door asks (the HTTP API today).

The scan runs in a thread over the store (:class:`~wsserver.store.base.Finder`),
never on the event loop.  Identical searches that arrive while one runs share
its answer instead of scanning again, and at most :data:`SCANS` scans run at
once (the others wait their turn); a scan stops after ``seconds`` with
``partial`` set and a ``next`` cursor to go on from.  The lines come back as
they read now (edits applied), deleted ones left out.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..annotations import found
from ..config import HANDLE_HINT, HANDLE_RE
from ..lines.query import QUERY_CHARS, Query
from ..protocol import Code, Refused
from ..store.base import Found, StoreError

if TYPE_CHECKING:
    from .hub import Hub

log = logging.getLogger("wsserver.search")  # the name operators know from the log (docs/operations.md)

# Limits
RESULTS_DEFAULT = 50
RESULTS_MOST = 100
SCANS = 2  # searches scanning at once in this process

_running: dict[tuple[Any, ...], asyncio.Future[Found | None]] = {}
_turns = asyncio.Semaphore(SCANS)


@dataclass(frozen=True)
class Results:
    """What a search found: (line as it reads now, its cursor, whether it was edited), newest first."""

    hits: list[tuple[str, str, bool]]
    next: str | None  # where to search on from (``before``), if there may be more
    partial: bool  # cut off by the time limit


def query_problem(text: str, handle: str | None, limit: int) -> Refused | None:
    """Return why a search for ``text`` (from ``handle``, up to ``limit`` results) cannot be made, or None."""
    if not 1 <= len(text) <= QUERY_CHARS or not text.strip():
        return Refused.of(Code.BAD_SEARCH_TEXT, most=QUERY_CHARS)
    if handle is not None and not HANDLE_RE.match(handle):
        return Refused.of(Code.BAD_SEARCH_FROM, hint=HANDLE_HINT)
    if not 1 <= limit <= RESULTS_MOST:
        return Refused.of(Code.BAD_SEARCH_LIMIT, most=RESULTS_MOST)
    return None


async def search(hub: Hub, name: str, text: str, handle: str | None, before: str | None, limit: int,
                 seconds: float) -> Results | Refused:
    """Search the channel ``name`` for ``text`` (from ``handle``), before the cursor ``before``."""
    refused = query_problem(text, handle, limit)
    if refused is not None:
        return refused
    try:
        answer = await _scan(hub, name, text, handle, before, limit, seconds)
    except StoreError:
        log.warning("a search of %s failed", name, exc_info=True)
        return Refused.of(Code.UNAVAILABLE)
    hub.metrics.searches.labels("partial" if answer is not None and answer.partial else "done").inc()
    if answer is None:
        return Refused.of(Code.BAD_SEARCH_BEFORE)
    deleted = hub.moderator.state.deleted_in(name)
    try:
        hits = await _as_now(hub, name, answer.hits)
    except StoreError:
        log.warning("a search of %s failed", name, exc_info=True)
        return Refused.of(Code.UNAVAILABLE)
    return Results([hit for hit in hits if hit[1] not in deleted], answer.next, answer.partial)


async def _scan(hub: Hub, name: str, text: str, handle: str | None, before: str | None, limit: int,
                seconds: float) -> Found | None:
    """Scan, or wait for the same scan under way; raises StoreError."""
    key = (name, text.lower(), (handle or "").lower(), before, limit)
    running = _running.get(key)
    if running is not None:
        return await asyncio.shield(running)
    future: asyncio.Future[Found | None] = asyncio.get_running_loop().create_future()
    _running[key] = future
    try:
        async with _turns:
            answer = await hub.store.finder(name).search(Query(text, handle), before, limit, seconds)
        future.set_result(answer)
        return answer
    except asyncio.CancelledError:
        future.cancel()
        raise
    except Exception as exc:
        future.set_exception(exc)
        future.exception()  # retrieved here: the others waiting get it too
        raise
    finally:
        del _running[key]


async def _as_now(hub: Hub, name: str, hits: list[tuple[str, str]]) -> list[tuple[str, str, bool]]:
    """Return the hits as the lines read now (edits applied), with the index of the channel if it is served here."""
    finder = hub.store.finder(name)
    channel = hub.channels.get(name)
    index = channel.index if channel is not None and channel.indexed else None
    if index is None:  # not served here: read the log's annotations (a search scans the log anyway)
        index = await found.index_of(finder)
    return await found.current(hits, index, finder)
