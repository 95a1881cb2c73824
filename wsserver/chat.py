"""The chat socket: join a channel under a handle, append what the client says, leave.

The handler task is the only reader of its websocket; everything the client
is sent, error frames included, goes through its :class:`~wsserver.fanout.Outbox`
so that frames keep their order and nothing here waits on a slow client.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import WebSocketError, WSCloseCode, WSMessage, WSMsgType, web

from . import protocol, security
from .app_state import STATE, State
from .channel import Channel
from .errors import JoinRefused, Refusal, TooManyChannels
from .fanout import Outbox, note_close_code, sent_close_code
from .metrics import join_reason, reason
from .protocol import (
    BadFrame,
    Chat,
    Delete,
    History,
    Keepalive,
    Moderate,
    Private,
    Typing,
    error_frame,
    parse_client_frame,
)
from .ratelimit import TokenBucket
from .store.base import StoreError

log = logging.getLogger(__name__)

# Limits
RATE_STRIKES = 3  # refusals for rate within RATE_STRIKE_WINDOW seconds that close the socket
RATE_STRIKE_WINDOW = 10.0


async def chat_socket(request: web.Request) -> web.StreamResponse:
    """Check who is asking, upgrade to the chat socket and serve it until either side closes."""
    state = request.app[STATE]
    config = state.config
    try:
        security.check_query(request)
        security.check_origin(request, config.allowed_origins)
        identity = security.token_identity(request, config.jwt_secret) if config.jwt_secret else None
        address = security.client_address(request, config.trusted_proxy)
        state.quota.take(address)
    except Refusal as refusal:
        log.warning("refused a socket from %s: %s", request.remote, refusal.sentence)
        state.metrics.joins_refused.labels(join_reason(refusal.sentence)).inc()
        return security.refusal_response(refusal)
    try:
        # Uncompressed: fan-out writes the same pre-encoded frame bytes to every socket.
        ws = web.WebSocketResponse(heartbeat=config.heartbeat, max_msg_size=config.max_frame_bytes, compress=False)
        await ws.prepare(request)
        state.sockets[ws] = request.transport
        try:
            await _join(request, ws, state, identity)
        except Exception:
            log.exception("chat socket failed")
            note_close_code(ws, protocol.CLOSE_SERVER_ERROR)
            await ws.close(code=protocol.CLOSE_SERVER_ERROR, message=protocol.SERVER_ERROR.encode())
        finally:
            state.sockets.pop(ws, None)
        return ws
    finally:
        state.quota.give_back(address)


async def _reject(ws: web.WebSocketResponse, state: State, sentence: str, why: str,
                  code: int = protocol.CLOSE_POLICY) -> None:
    log.warning("refused a join: %s", why)
    state.metrics.joins_refused.labels(join_reason(sentence)).inc()
    await ws.send_str(error_frame(sentence))
    note_close_code(ws, code)
    await ws.close(code=code, message=sentence.encode())


async def _join(request: web.Request, ws: web.WebSocketResponse, state: State,
                identity: security.Identity | None) -> None:
    name = request.query.get("channel", "")
    try:
        channel = state.hub.channel(name)
    except TooManyChannels:
        return await _reject(ws, state, protocol.TOO_MANY_CHANNELS, f"channel {name!r} would pass --max-channels")
    if channel is None:
        return await _reject(ws, state, protocol.NO_CHANNEL, f"unknown channel {name[:40]!r}")
    # With tokens, the handle is the token's subject and the parameter is ignored.
    handle = identity.handle if identity is not None else request.query.get("handle", "")
    operator = identity is not None and identity.operator
    outbox = Outbox(ws, state.config.send_queue, f"{handle}@{name}", request.transport, state.metrics.stalled.inc)
    # Its own token for reconnects: the site's may expire long before the conversation does.
    first = [resume_frame(state, handle, name, operator)] if identity is not None else []
    try:
        seat = await state.membership.join(channel, handle, outbox, state.config.history, request.query.get("since"),
                                           first)
    except JoinRefused as refused:
        return await _reject(ws, state, refused.sentence, refused.why, refused.code)
    if identity is not None:
        state.resumable[outbox] = (handle, name, operator)
    ended: WSMessage | None = None
    try:
        ended = await _converse(ws, state, channel, handle, outbox, operator)
    finally:
        state.resumable.pop(outbox, None)
        await seat.leave()
        log.info("%s left (%s)", seat.who, _how_closed(ws, ended))


def _how_closed(ws: web.WebSocketResponse, ended: WSMessage | None) -> str:
    """Say who closed the socket, and with which code: the one this server sent, if it sent one."""
    sent = sent_close_code(ws)
    if sent is not None:
        return f"close code {sent}, sent by the server"
    if ended is not None and ended.type == WSMsgType.ERROR:
        if isinstance(ended.data, WebSocketError):  # aiohttp closed it: a frame too big, a protocol error
            return f"close code {ended.data.code}, sent by the server"
        return f"close code {WSCloseCode.ABNORMAL_CLOSURE}, connection lost: {ended.data}"
    if ws.close_code is None or ws.close_code == WSCloseCode.ABNORMAL_CLOSURE:
        return f"close code {WSCloseCode.ABNORMAL_CLOSURE}, connection lost"
    # A close frame without a status code reaches aiohttp as 0; RFC 6455 names that 1005, no status received.
    code = ws.close_code or protocol.CloseCode.NO_STATUS
    return f"close code {int(code)}, sent by the client"


def resume_frame(state: State, handle: str, channel: str, operator: bool) -> str:
    """Return a ``token`` event: a resume token for ``handle`` in ``channel``, valid ``--resume-ttl`` seconds."""
    assert state.config.jwt_secret is not None
    token, expires = security.resume_token(state.config.jwt_secret, handle, channel, state.config.resume_ttl,
                                           operator)
    return protocol.event_frame("token", {"channel": channel, "token": token, "expires": expires})


async def renew_resume_tokens(state: State) -> None:
    """Send every connection joined with a token a fresh resume token at half its lifetime, until cancelled."""
    while True:
        await asyncio.sleep(state.config.resume_ttl / 2)
        for outbox, (handle, channel, operator) in list(state.resumable.items()):
            outbox.put(resume_frame(state, handle, channel, operator))


async def _converse(
    ws: web.WebSocketResponse, state: State, channel: Channel, handle: str, outbox: Outbox, operator: bool = False,
) -> WSMessage | None:
    """Serve the client's frames until the socket ends; return the message that ended it (None: the loop ran out)."""
    config = state.config

    def refuse(sentence: str) -> None:
        state.metrics.refused.labels(reason(sentence)).inc()
        outbox.put(error_frame(sentence))

    def store_failed(what: str) -> None:
        log.warning("%s for %s@%s: the store failed", what, handle, channel.name, exc_info=True)
        refuse(protocol.UNAVAILABLE)

    bucket = TokenBucket(config.rate_limit, config.rate_burst)
    strikes: list[float] = []  # times of recent refusals for rate (a list: most sockets never get one)
    closing = False
    # Typing has a bucket of its own so that a person's typing indicator
    # never uses up the messages it announces.
    typing_bucket = TokenBucket(config.rate_limit, config.rate_burst)
    async for message in ws:
        if message.type == WSMsgType.BINARY:
            refuse(protocol.BINARY_FRAME)
            continue
        if message.type != WSMsgType.TEXT:
            return message
        if closing:
            continue  # told and being closed: read on only until the close completes
        log.debug("frame from %s@%s: %.200r", handle, channel.name, message.data)
        try:
            request = parse_client_frame(message.data, config.max_message_chars)
        except BadFrame as exc:
            refuse(str(exc))
            continue
        if isinstance(request, Keepalive):
            continue
        if isinstance(request, Typing):
            # Repeats of the same state only refresh its expiry and cost nothing.
            # A change is broadcast, so it is rate limited; typing is best
            # effort, and a change over the limit is dropped without a word.
            if request.typing == channel.is_typing(outbox) or typing_bucket.allow():
                channel.set_typing(outbox, handle, request.typing)
            continue
        if isinstance(request, History):
            try:
                if request.around is None and request.at is None and request.after is None:
                    page = await channel.page(request.before, request.limit)
                else:
                    page = await channel.jump(request.around, request.at, request.after, request.limit)
            except StoreError:
                store_failed("history")
                continue
            if page is None:
                refuse(protocol.BAD_AROUND if request.around is not None else
                       protocol.BAD_AFTER if request.after is not None else protocol.BAD_CURSOR)
            else:
                outbox.put(page)
            continue
        if not bucket.allow():
            refuse(protocol.RATE_LIMITED)
            # Told, and still flooding: a connection that keeps at it is closed.
            now = time.monotonic()
            strikes[:] = [t for t in strikes if now - t <= RATE_STRIKE_WINDOW] + [now]
            if len(strikes) >= RATE_STRIKES:
                log.warning("closing %s@%s: kept exceeding the rate limit", handle, channel.name)
                outbox.close_after(protocol.CLOSE_POLICY, protocol.RATE_LIMITED)
                closing = True
            continue
        if isinstance(request, Moderate | Delete):
            refusal = await state.moderator.handle(channel, handle, operator, request)
            if refusal is not None:
                refuse(refusal)
            continue
        if state.moderation.muted(channel.name, handle):
            refuse(protocol.MUTED)
            continue
        if isinstance(request, Chat):
            saved = await state.hub.say(channel, handle, request.text)
        else:
            assert isinstance(request, Private)
            try:
                recipient = await state.membership.find(channel.name, request.to)
            except StoreError:
                store_failed("recipient lookup")
                continue
            if recipient is None:
                refuse(protocol.USER_NOT_FOUND)
                continue
            saved = await state.hub.say(channel, handle, request.text, to=recipient)
        if saved:
            state.metrics.messages.labels("chat" if isinstance(request, Chat) else "private").inc()
        else:
            refuse(protocol.NOT_SAVED)
    return None
