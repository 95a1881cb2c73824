"""``GET /api/channels/<name>/search`` and ``GET /api/search``: find lines in one channel's history, or every one's.

The same access rules as the chat socket (allowed origins; with
``--accounts``, a session cookie; with ``--jwt-secret``, a valid token in
``?token=`` or ``Authorization: Bearer``).
Every bad value gets 400 and ``{"error": SENTENCE}`` naming it.

The search itself is the hub's (:mod:`wsserver.hub.searching`): scans in a
thread, shared by identical searches, cut off after ``--search-seconds``
with ``"partial": true`` and a ``next`` cursor to go on from.  A search of
every channel the asker may read (or of those ``channels=`` names) merges
them newest first and pages with one ``next`` token over all of them.
"""

from __future__ import annotations

import functools
import json

from aiohttp import web

from ..config import CHANNEL_RE
from ..errors import Refusal
from ..hub.searching import RESULTS_DEFAULT
from ..hub.searching import search as find
from ..hub.searching import search_all as find_all
from ..protocol import ENCRYPTED_NOTE, Code, Refused
from . import accounts, answers, security
from .state import STATE


async def search(request: web.Request) -> web.Response:
    """Answer ``{"channel", "results": [{"line", "cursor"}], "next", "partial"}``, newest first."""
    state = request.app[STATE]
    config = state.config
    name = request.match_info["name"]
    try:
        security.check_query(request)
        security.check_origin(request, config.allowed_origins)
        await accounts.identity(request, name)  # a session with --accounts, a token with --jwt-secret
    except Refusal as refusal:
        return answers.refused(refusal.refused, refusal.status)
    if not CHANNEL_RE.match(name) or name not in state.hub.channels.names():
        return answers.refused(Code.UNKNOWN_CHANNEL, name=name[:40])
    answer = await find(state.hub, name, request.query.get("q", ""), request.query.get("from"),
                        request.query.get("before") or None, _limit(request), config.search_seconds)
    if isinstance(answer, Refused):
        return answers.refused(answer)
    encrypted = {"encrypted": True, "note": ENCRYPTED_NOTE} if name in config.encrypted_channels else {}
    return web.json_response({
        **encrypted,
        "channel": name,
        "results": [{"line": line, "cursor": cursor, **({"edited": True} if edited else {})}
                    for line, cursor, edited in answer.hits],
        "next": answer.next,
        "partial": answer.partial,
    }, dumps=functools.partial(json.dumps, ensure_ascii=False))


SEARCH_ALL_QUERY_BYTES = 8000  # the before token names where each channel got to (about 12 bytes a channel)


async def search_all(request: web.Request) -> web.Response:
    """Answer ``{"results": [{"channel", "line", "cursor"}], "next", "partial", "channels", "encrypted"}``."""
    state = request.app[STATE]
    config = state.config
    known = state.hub.channels.names()
    try:
        security.check_query(request, SEARCH_ALL_QUERY_BYTES)
        security.check_origin(request, config.allowed_origins)
        asked = _channels(request.query.get("channels"), known)
        allowed = await accounts.readable(request, asked if asked is not None else known)
        if asked is not None and len(allowed) < len(asked):
            raise Refusal(403, Refused.of(Code.NOT_ALLOWED_IN, name=next(n for n in asked if n not in allowed)))
    except Refusal as refusal:
        return answers.refused(refusal.refused, refusal.status)
    searched = [name for name in allowed if name not in config.encrypted_channels]
    answer = await find_all(state.hub, searched, request.query.get("q", ""), request.query.get("from"),
                            request.query.get("before") or None, _limit(request), config.search_seconds)
    if isinstance(answer, Refused):
        return answers.refused(answer)
    encrypted = [name for name in allowed if name in config.encrypted_channels]
    return web.json_response({
        "results": [{"channel": channel, "line": line, "cursor": cursor, **({"edited": True} if edited else {})}
                    for channel, line, cursor, edited in answer.hits],
        "next": answer.next,
        "partial": answer.partial,
        "channels": searched,
        "encrypted": encrypted,
        **({"note": ENCRYPTED_NOTE} if encrypted else {}),
    }, dumps=functools.partial(json.dumps, ensure_ascii=False))


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(RESULTS_DEFAULT))
    return int(raw) if raw.isdigit() else 0  # not a number: refused as out of range, after q and from


def _channels(given: str | None, known: list[str]) -> list[str] | None:
    """Return the channels ``channels=`` names (None when it is not given); raises Refusal naming a bad one."""
    if given is None:
        return None
    names = given.split(",")
    for name in names:
        if not CHANNEL_RE.match(name):
            raise Refusal(400, Refused.of(Code.BAD_SEARCH_CHANNELS, problem=f"{name[:40]!r} is not a channel name"))
        if name not in known:
            raise Refusal(404, Refused.of(Code.UNKNOWN_CHANNEL, name=name))
    return list(dict.fromkeys(names))
