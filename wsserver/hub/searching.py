"""Find lines in a channel's history, or in every channel's, newest first: the search every door asks.

The scan runs in a thread over the store (:class:`~wsserver.store.base.Finder`),
never on the event loop.  Identical searches that arrive while one runs share
its answer instead of scanning again, and at most :data:`SCANS` scans run at
once (the others wait their turn); a scan stops after ``seconds`` with
``partial`` set and a ``next`` cursor to go on from.  The lines come back as
they read now (edits applied), deleted ones left out.

:func:`search_all` searches several channels as one
(:mod:`wsserver.store.merged`): the same scans, merged newest first and
paged with one ``before`` token over all of them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..annotations import found
from ..config import HANDLE_HINT, HANDLE_RE
from ..lines.query import QUERY_CHARS, Query
from ..protocol import Code, Refused
from ..store import merged
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
    try:
        hits = await _shown(hub, name, answer.hits)
    except StoreError:
        log.warning("a search of %s failed", name, exc_info=True)
        return Refused.of(Code.UNAVAILABLE)
    return Results(hits, answer.next, answer.partial)


@dataclass(frozen=True)
class AllResults:
    """What a search of several channels found: (channel, line as it reads now, cursor, edited), newest first."""

    hits: list[tuple[str, str, str, bool]]
    next: str | None  # the token to search on from (``before``), if there may be more
    partial: bool


async def search_all(hub: Hub, names: list[str], text: str, handle: str | None, before: str | None, limit: int,
                     seconds: float) -> AllResults | Refused:
    """Search the channels ``names`` for ``text`` (from ``handle``) as one, from the token ``before`` (None: the ends).

    A token's channels that are not in ``names`` (any more) are left out.
    """
    refused = query_problem(text, handle, limit)
    if refused is not None:
        return refused
    if before is None:
        positions = dict.fromkeys(names, merged.FROM_END)
    else:
        decoded = merged.decode(before)
        if decoded is None:
            return Refused.of(Code.BAD_SEARCH_PAGE)
        positions = {name: at for name, at in decoded.items() if name in names}
    try:
        answer = await merged.search({name: hub.store.finder(name) for name in positions}, positions,
                                     Query(text, handle), limit, seconds, _turns)
        # Left out: deleted lines, and edited lines found by their old text.
        hits = await found.current_merged(answer.hits, functools.partial(_shown_of, hub))
    except StoreError:
        log.warning("a search of %d channels failed", len(positions), exc_info=True)
        return Refused.of(Code.UNAVAILABLE)
    hub.metrics.searches.labels("partial" if answer.partial else "done").inc()
    return AllResults(hits, answer.next, answer.partial)


async def _shown(hub: Hub, name: str, hits: list[tuple[str, str]]) -> list[tuple[str, str, bool]]:
    """Return the hits of ``name`` as they read now, deleted lines left out; raises StoreError."""
    return [hit for _, hit in await _shown_of(hub, name, hits)]


async def _shown_of(hub: Hub, name: str, hits: list[tuple[str, str]]) -> list[tuple[int, tuple[str, str, bool]]]:
    """Return :func:`_shown`'s hits, each with the index in ``hits`` of the hit it comes from."""
    deleted = hub.moderator.state.deleted_in(name)
    return [(at, hit) for at, hit in await _as_now(hub, name, hits) if hit[1] not in deleted]


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


async def _as_now(hub: Hub, name: str, hits: list[tuple[str, str]]) -> list[tuple[int, tuple[str, str, bool]]]:
    """Return the hits as the lines read now (edits applied), with the index of the channel if it is served here."""
    finder = hub.store.finder(name)
    channel = hub.channels.get(name)
    index = channel.index if channel is not None and channel.indexed else None
    if index is None:  # not served here: read the log's annotations (a search scans the log anyway)
        index = await found.index_of(finder)
    return await found.current_of(hits, index, finder)
