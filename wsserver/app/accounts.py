"""The HTTP door of accounts (``--accounts``): sign up, sign in, sign out, the session cookie, who is signed in.

* ``POST /api/accounts`` ``{"handle", "password", "invite"}``: 201 ``{"handle"}`` and the cookie;
* ``POST /api/session`` ``{"handle", "password"}``: 200 ``{"handle"}`` and the cookie;
* ``GET /api/session``: ``{"handle", "op", "ops", "passkeys"}``, or 401;
* ``DELETE /api/session``: this device signed out (its sockets close with 1008 ``Signed out``);
* ``DELETE /api/sessions``: every device of the account signed out;
* ``POST /api/account/password`` ``{"current", "new"}``: the password changed, the other devices signed out.

JSON in and out; every refusal is ``{"error": SENTENCE}``.  A request that changes anything must
come from an allowed origin (the chat socket's rule), else 403 ``Origin not allowed``.  The cookie,
``wsserver_session``, is ``HttpOnly``, ``SameSite=Strict``, ``Path=/``, and ``Secure`` whenever
the public URL is https or a trusted proxy says the request came over https.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from ..config import CHANNEL_RE
from ..errors import Refusal, StoreError
from ..hub.accounts import Account, Accounts, SignedIn, describe
from ..hub.ratelimit import TokenBucket
from ..hub.seatless import post
from ..protocol import CLOSE_POLICY, Code, Refused
from . import answers, security
from .state import STATE, State

log = logging.getLogger("wsserver.accounts")

COOKIE = "wsserver_session"
BOT_KEY_PREFIX = "wsb_"  # a bot's API key, in Authorization: Bearer (wsserver accounts add-bot)
SWEEP_SECONDS = 5.0  # how often open sockets of signed-in people are checked against their sessions


def add_routes(app: web.Application) -> None:
    """Serve the accounts API."""
    app.router.add_post("/api/accounts", sign_up)
    app.router.add_post("/api/session", sign_in)
    app.router.add_get("/api/session", who)
    app.router.add_delete("/api/session", sign_out)
    app.router.add_delete("/api/sessions", sign_out_everywhere)
    app.router.add_post("/api/account/password", change_password)
    app.router.add_post("/api/channels/{name}/messages", post_message)
    app.router.add_get("/api/bots", bots)


def _accounts(state: State) -> Accounts:
    assert state.accounts is not None, "the accounts routes are added with --accounts only"
    return state.accounts


async def _body(request: web.Request, fields: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, str]:
    """Return the JSON object's string fields; raises Refusal (400) naming what is wrong."""
    body = await answers.json_object(request, fields)
    if not all(isinstance(body[field], str) for field in fields) \
            or not all(body.get(field) is None or isinstance(body[field], str) for field in optional):
        raise answers.bad_body(fields)
    return {field: body[field] for field in (*fields, *optional) if body.get(field) is not None}


def set_cookie(request: web.Request, response: web.Response, signed: SignedIn) -> None:
    state = request.app[STATE]
    response.set_cookie(COOKIE, signed.secret, max_age=state.config.session_days * 86400, path="/",
                        httponly=True, samesite="Strict", secure=secure(request, state))


def secure(request: web.Request, state: State) -> bool:
    public = state.config.public_url
    if public is not None and public.startswith("https://"):
        return True
    forwarded = request.headers.get("X-Forwarded-Proto", "").lower() == "https" \
        and security.via_trusted_proxy(request, state.config.trusted_proxy)
    return request.secure or forwarded


async def guarded(request: web.Request, work: Coroutine[Any, Any, web.Response]) -> web.Response:
    """Run ``work`` (a coroutine making the answer): refusals as their status, a store fault as 503."""
    try:
        security.check_origin(request, request.app[STATE].config.allowed_origins)
        return await work
    except Refusal as refusal:
        return answers.refused(refusal.refused, refusal.status)
    except StoreError:
        log.warning("an accounts request failed: the store did not answer", exc_info=True)
        return answers.refused(Code.UNAVAILABLE)
    finally:
        work.close()  # never awaited when refused first: let it go quietly


async def sign_up(request: web.Request) -> web.Response:
    """Create an account (with an invitation unless sign-up is open) and sign it in."""
    return await guarded(request, _sign_up(request))


async def _sign_up(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _body(request, ("handle", "password"), ("invite",))
    address = security.client_address(request, state.config.trusted_proxy)
    done = await _accounts(state).sign_up(body["handle"], body["password"], body.get("invite"), address)
    if isinstance(done, Refused):
        return answers.refused(done)
    response = web.json_response({"handle": done.account.handle}, status=201)
    set_cookie(request, response, done)
    return response


async def sign_in(request: web.Request) -> web.Response:
    """Check a handle's password; the cookie, or the refusal (429 with Retry-After when locked out)."""
    return await guarded(request, _sign_in(request))


async def _sign_in(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _body(request, ("handle", "password"))
    address = security.client_address(request, state.config.trusted_proxy)
    done = await _accounts(state).sign_in(body["handle"], body["password"], address)
    if isinstance(done, tuple):
        refused, wait = done
        return answers.refused(refused, headers={"Retry-After": str(wait)})
    if isinstance(done, Refused):
        return answers.refused(done)
    response = web.json_response({"handle": done.account.handle})
    set_cookie(request, response, done)
    return response


async def signed_in(request: web.Request) -> tuple[Account, str] | None:
    """Return the account of the request's bot key (``Authorization: Bearer wsb_...``) or session cookie, or None.

    With it the digest of the key or session. Raises StoreError.
    """
    accounts = request.app[STATE].accounts
    if accounts is None:
        return None
    key = bot_key(request)
    return await accounts.identify(key if key is not None else request.cookies.get(COOKIE))


def bot_key(request: web.Request) -> str | None:
    """Return the bot key the request carries, if it carries one."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value.startswith(BOT_KEY_PREFIX) else None


async def identity(request: web.Request, channel: str) -> security.Identity | None:
    """Return who may use the socket, search or upload in ``channel``: None when anyone may (open handles).

    With accounts, the session cookie (or, with --jwt-secret too, a site token); with tokens alone,
    the token. Raises :class:`Refusal`: 401 for no valid one, 503 when the store does not answer.
    """
    state = request.app[STATE]
    config = state.config
    if state.accounts is None:
        return security.token_identity(request, config.jwt_secret, channel) if config.jwt_secret else None
    found = await _signed_in_or_503(request)
    if found is not None:
        account, session = found
        if not account.may_use(channel):
            raise Refusal(403, Code.NOT_ALLOWED_HERE)
        return security.Identity(account.handle, account.operates(channel), session)
    if config.jwt_secret and bot_key(request) is None:
        return security.token_identity(request, config.jwt_secret, channel)
    raise Refusal(401, Code.AUTH_FAILED)


async def _signed_in_or_503(request: web.Request) -> tuple[Account, str] | None:
    try:
        return await signed_in(request)
    except StoreError:
        log.warning("could not check a session: the store did not answer", exc_info=True)
        raise Refusal(503, Code.UNAVAILABLE) from None


async def readable(request: web.Request, names: list[str]) -> list[str]:
    """Return the channels of ``names`` the request may read (search), in order: as :func:`identity` says of each.

    Raises :class:`Refusal` as it does: 401 when no valid sign-in or token lets it read any, 503.
    """
    state = request.app[STATE]
    config = state.config
    if state.accounts is not None:
        found = await _signed_in_or_503(request)
        if found is not None:
            return [name for name in names if found[0].may_use(name)]
        if not config.jwt_secret or bot_key(request) is not None:
            raise Refusal(401, Code.AUTH_FAILED)
    elif not config.jwt_secret:
        return list(names)
    allowed = []
    for name in names:  # a site token reads every channel, a resume token its own
        try:
            security.token_identity(request, config.jwt_secret, name)
        except Refusal:
            continue
        allowed.append(name)
    if not allowed:
        raise Refusal(401, Code.AUTH_FAILED)
    return allowed


async def who(request: web.Request) -> web.Response:
    """Say who the session cookie signs in, or 401."""
    try:
        found = await signed_in(request)
    except StoreError:
        return answers.refused(Code.UNAVAILABLE)
    if found is None:
        return answers.refused(Code.AUTH_FAILED)
    account = found[0]
    try:
        record = await _accounts(request.app[STATE]).store.get(account.handle) or {}
    except StoreError:
        return answers.refused(Code.UNAVAILABLE)
    return web.json_response({"handle": account.handle, "op": account.op, "ops": list(account.ops),
                              "passkeys": [describe(key) for key in record.get("passkeys") or []]})


async def sign_out(request: web.Request) -> web.Response:
    """Sign this device out: its session ends, its sockets close, its cookie is cleared."""
    return await guarded(request, _sign_out(request, everywhere=False))


async def sign_out_everywhere(request: web.Request) -> web.Response:
    """Sign every device of the account out."""
    return await guarded(request, _sign_out(request, everywhere=True))


async def _sign_out(request: web.Request, everywhere: bool) -> web.Response:
    state = request.app[STATE]
    found = await signed_in(request)
    if found is None:
        return answers.refused(Code.AUTH_FAILED)
    account, session = found
    ended = await _accounts(state).store.drop_sessions(account.handle, only=None if everywhere else session)
    close_sessions(state, set(ended), Code.SIGNED_OUT)
    log.info("account %s signed out %s", account.handle, "everywhere" if everywhere else "one device")
    response = web.json_response({"signed_out": len(ended)})
    response.del_cookie(COOKIE, path="/")
    return response


async def change_password(request: web.Request) -> web.Response:
    """Change the password (the current one checked); the other devices are signed out."""
    return await guarded(request, _change_password(request))


async def _change_password(request: web.Request) -> web.Response:
    state = request.app[STATE]
    found = await signed_in(request)
    if found is None:
        return answers.refused(Code.AUTH_FAILED)
    body = await _body(request, ("current", "new"))
    account, session = found
    refused = await _accounts(state).change_password(account, session, body["current"], body["new"])
    if refused is not None:
        return answers.refused(refused)
    close_sessions(state, {key for _, key in state.signed_in.values() if key != session}, Code.SIGNED_OUT,
                   handle=account.handle)
    return web.json_response({"handle": account.handle})


async def bots(request: web.Request) -> web.Response:
    """Name the bots (clients mark their lines): ``{"bots": [NAME, ...]}``."""
    try:
        records = await _accounts(request.app[STATE]).store.all()
    except StoreError:
        return answers.refused(Code.UNAVAILABLE)
    names = sorted((str(r["handle"]) for r in records if r.get("bot") and not r.get("removed")), key=str.lower)
    return web.json_response({"bots": names})


async def post_message(request: web.Request) -> web.Response:
    """Append ``{"text"}`` as the signed-in account's (a bot's key) chat line: 201 ``{"cursor"}``."""
    return await guarded(request, _post_message(request))


async def _post_message(request: web.Request) -> web.Response:
    state = request.app[STATE]
    name = request.match_info["name"]
    found = await signed_in(request)
    if found is None:
        return answers.refused(Code.AUTH_FAILED)
    account = found[0]
    channel = state.hub.channels.known(name) if CHANNEL_RE.match(name) else None
    if channel is None:
        return answers.refused(Code.UNKNOWN_CHANNEL, name=name[:40])
    if not account.may_use(name):
        return answers.refused(Code.NOT_ALLOWED_HERE)
    body = await _body(request, ("text",))
    bucket = state.post_buckets.setdefault(account.handle.lower(), TokenBucket(state.limits.rate, state.limits.burst))
    posted = await post(state.hub, channel, account.handle, body["text"], state.limits, bucket)
    if isinstance(posted, Refused):
        return answers.refused(posted)
    return web.json_response({"cursor": posted}, status=201)


def close_sessions(state: State, sessions: set[str], code: Code, handle: str | None = None) -> None:
    """Close this process's sockets of ``sessions`` (of ``handle`` only, if given) with 1008 and the sentence."""
    for outbox, (who, session) in list(state.signed_in.items()):
        if session in sessions and (handle is None or who.lower() == handle.lower()):
            outbox.close_after(CLOSE_POLICY, code.sentence)


async def sweep_sessions(state: State) -> None:
    """Close the sockets whose session ended elsewhere (another process, an operator command), until cancelled."""
    accounts = _accounts(state)
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        sockets = list(state.signed_in.items())
        try:
            gone = {handle for handle in {handle.lower() for handle, _ in state.signed_in.values()}
                    if (record := await accounts.store.get(handle)) is None or record.get("disabled")
                    or record.get("removed")}
            ended = {session for session in {session for _, session in state.signed_in.values()}
                     if await accounts.store.session(session) is None}
        except StoreError:
            continue  # the store is away: look again at the next sweep
        closed: dict[str, str] = {}
        for outbox, (handle, session) in sockets:
            if handle.lower() in gone:
                outbox.close_after(CLOSE_POLICY, Code.ACCOUNT_CLOSED.sentence)
                closed[handle] = "was disabled or removed"
            elif session in ended:
                outbox.close_after(CLOSE_POLICY, Code.SIGNED_OUT.sentence)
                closed.setdefault(handle, "signed out elsewhere (a session ended)")
        for handle, why in closed.items():
            log.info("account %s %s: closing its sockets here", handle, why)
