"""How the HTTP API answers a refusal: ``{"error": SENTENCE}`` with one status per code, for every route.

The routes (search, uploads, accounts, passkeys, bots' posts) share this table, so that one refusal
gets one status wherever it is met; a code not in it is a bad value of the request: 400.  Reading a
JSON object from a request's body is here too, with the one sentence that names a bad one.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ..errors import Refusal
from ..protocol import PROBLEM_BODY, Code, Refused

STATUS = {
    # the store, the proxy, the origin
    Code.UNAVAILABLE: 503, Code.NOT_SAVED: 503, Code.QUERY_TOO_LONG: 414, Code.ORIGIN_REFUSED: 403,
    Code.UNKNOWN_CHANNEL: 404,
    # who may
    Code.AUTH_FAILED: 401, Code.WRONG_PASSWORD: 401, Code.PASSKEY_REFUSED: 401, Code.BAD_INVITE: 403,
    Code.SIGN_UP_CLOSED: 403, Code.ACCOUNT_DISABLED: 403, Code.WRONG_CURRENT_PASSWORD: 403,
    Code.NOT_ALLOWED_HERE: 403, Code.NOT_ALLOWED_IN: 403,
    Code.BANNED: 403, Code.MUTED: 403, Code.PLAIN_ONLY: 403, Code.HANDLE_IN_USE: 409,
    Code.TOO_MANY_ATTEMPTS: 429, Code.RATE_LIMITED: 429, Code.NO_SUCH_PASSKEY: 404,
    # files
    Code.NO_TICKET: 404, Code.TOO_LARGE: 413, Code.TOO_MANY_PIXELS: 422, Code.NOT_AN_IMAGE: 415, Code.NO_ROOM: 507,
    Code.GONE: 410, Code.NO_FILE: 404,
}


def refused(refusal: Refused | Code, status: int | None = None, headers: dict[str, str] | None = None,
            **values: object) -> web.Response:
    """Answer ``{"error": SENTENCE}`` with the refusal's status (``status``: another, as a Refusal carries)."""
    said = refusal if isinstance(refusal, Refused) else Refused.of(refusal, **values)
    return web.json_response({"error": said.sentence}, status=status or STATUS.get(said.code, 400), headers=headers)


async def json_object(request: web.Request, fields: tuple[str, ...]) -> dict[str, Any]:
    """Return the request's JSON object, which must hold ``fields``; raises Refusal (400) naming them."""
    try:
        body = await request.json(loads=lambda text: json.loads(text, parse_constant=_no_constant))
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or not all(field in body for field in fields):
        raise bad_body(fields)
    return body


def bad_body(fields: tuple[str, ...]) -> Refusal:
    """Return the refusal (400) of a body that is not a JSON object with ``fields`` as asked."""
    return Refusal(400, Refused.of(Code.BAD_ACCOUNT_REQUEST, problem=PROBLEM_BODY.format(fields=" and ".join(fields))))


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON
