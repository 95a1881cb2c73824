"""``GET /api/channels/<name>/search``: find lines in a channel's history, newest first.

The same access rules as the chat socket (allowed origins; with
``--accounts``, a session cookie; with ``--jwt-secret``, a valid token in
``?token=`` or ``Authorization: Bearer``).
Every bad value gets 400 and ``{"error": SENTENCE}`` naming it.

The search itself is the hub's (:mod:`wsserver.hub.searching`): scans in a
thread, shared by identical searches, cut off after ``--search-seconds``
with ``"partial": true`` and a ``next`` cursor to go on from.
"""

from __future__ import annotations

import functools
import json

from aiohttp import web

from ..config import CHANNEL_RE
from ..errors import Refusal
from ..hub.searching import RESULTS_DEFAULT
from ..hub.searching import search as find
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
    raw_limit = request.query.get("limit", str(RESULTS_DEFAULT))
    limit = int(raw_limit) if raw_limit.isdigit() else 0  # not a number: refused as out of range, after q and from
    answer = await find(state.hub, name, request.query.get("q", ""), request.query.get("from"),
                        request.query.get("before") or None, limit, config.search_seconds)
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
