"""``GET /api/channels/<name>/search``: find lines in a channel's history, newest first.

The same access rules as the chat socket (allowed origins; with
``--jwt-secret``, a valid token in ``?token=`` or ``Authorization: Bearer``).
Every bad value gets 400 and ``{"error": SENTENCE}`` naming it.

The scan runs in a thread over the store (:class:`~wsserver.store.base.Finder`),
never on the event loop.  Identical searches that arrive while one runs share
its answer instead of scanning again, and at most :data:`SCANS` scans run at
once (the others wait their turn); a scan stops after ``--search-seconds``
with ``"partial": true`` and a ``next`` cursor to go on from.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from typing import Any

from aiohttp import web

from . import security
from .annotations import found
from .app_state import STATE, State
from .config import CHANNEL_RE, HANDLE_HINT
from .errors import Refusal
from .protocol import HANDLE_RE, UNAVAILABLE
from .query import QUERY_CHARS, Query
from .store.base import Found, StoreError

log = logging.getLogger(__name__)

ENCRYPTED_NOTE = "This channel takes only end-to-end encrypted lines: their text cannot be searched on the server"

# Limits
RESULTS_DEFAULT = 50
RESULTS_MOST = 100
SCANS = 2  # searches scanning at once in this process

_running: dict[tuple[Any, ...], asyncio.Future[Found | None]] = {}
_turns = asyncio.Semaphore(SCANS)


def _error(status: int, sentence: str) -> web.Response:
    return web.json_response({"error": sentence}, status=status)


def _parse(query: Any) -> tuple[str, str | None, str | None, int]:
    """Return (text, handle, before, limit) from the query string; raises ValueError with the sentence."""
    text = query.get("q", "")
    if not 1 <= len(text) <= QUERY_CHARS or not text.strip():
        raise ValueError(f"q must be 1 to {QUERY_CHARS} characters of text to find")
    handle = query.get("from")
    if handle is not None and not HANDLE_RE.match(handle):
        raise ValueError(f"from must be a handle: {HANDLE_HINT}")
    raw_limit = query.get("limit", str(RESULTS_DEFAULT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= RESULTS_MOST:
        raise ValueError(f"limit must be a whole number from 1 to {RESULTS_MOST}")
    before = query.get("before") or None
    return text, handle, before, int(raw_limit)


async def _as_now(state: State, name: str, hits: list[tuple[str, str]]) -> list[tuple[str, str, bool]]:
    """Return the hits as the lines read now (edits applied), with the index of the channel if it is served here."""
    finder = state.store.finder(name)
    channel = state.hub.channels.get(name)
    index = channel.index if channel is not None and channel.indexed else None
    if index is None:  # not served here: read the log's annotations (a search scans the log anyway)
        index = await found.index_of(finder)
    return await found.current(hits, index, finder)


async def search(request: web.Request) -> web.Response:
    """Answer ``{"channel", "results": [{"line", "cursor"}], "next", "partial"}``, newest first."""
    state = request.app[STATE]
    config = state.config
    name = request.match_info["name"]
    try:
        security.check_query(request)
        security.check_origin(request, config.allowed_origins)
        if config.jwt_secret:
            security.token_handle(request, config.jwt_secret, channel=name)
    except Refusal as refusal:
        return _error(refusal.status, refusal.sentence)
    if not CHANNEL_RE.match(name) or name not in state.hub.known_channels():
        return _error(404, f"Unknown channel: {name[:40]}")
    try:
        text, handle, before, limit = _parse(request.query)
    except ValueError as exc:
        return _error(400, str(exc))
    key = (name, text.lower(), (handle or "").lower(), before, limit)
    running = _running.get(key)
    try:
        if running is not None:
            found = await asyncio.shield(running)
        else:
            future: asyncio.Future[Found | None] = asyncio.get_running_loop().create_future()
            _running[key] = future
            try:
                async with _turns:
                    finder = state.store.finder(name)
                    found = await finder.search(Query(text, handle), before, limit, config.search_seconds)
                future.set_result(found)
            except asyncio.CancelledError:
                future.cancel()
                raise
            except Exception as exc:
                future.set_exception(exc)
                future.exception()  # retrieved here: the others waiting get it too
                raise
            finally:
                del _running[key]
    except StoreError:
        log.warning("a search of %s failed", name, exc_info=True)
        return _error(503, UNAVAILABLE)
    state.metrics.searches.labels("partial" if found is not None and found.partial else "done").inc()
    if found is None:
        return _error(400, "before is not a cursor of this channel's log (it may have been rotated)")
    deleted = state.moderation.deleted_in(name)
    try:
        hits = await _as_now(state, name, found.hits)
    except StoreError:
        log.warning("a search of %s failed", name, exc_info=True)
        return _error(503, UNAVAILABLE)
    encrypted = {"encrypted": True, "note": ENCRYPTED_NOTE} if name in config.encrypted_channels else {}
    return web.json_response({
        **encrypted,
        "channel": name,
        "results": [{"line": line, "cursor": cursor, **({"edited": True} if edited else {})}
                    for line, cursor, edited in hits if cursor not in deleted],
        "next": found.next,
        "partial": found.partial,
    }, dumps=functools.partial(json.dumps, ensure_ascii=False))
