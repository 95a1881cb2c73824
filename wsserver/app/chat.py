"""The chat socket: frames in, frames out.

Check who is asking, join the channel as a member (:mod:`wsserver.hub.member`),
hand each client frame to the connection's
:class:`~wsserver.app.conversation.Conversation`, and leave when the
socket ends.  The handler task is the only reader of its websocket;
everything the client is sent, error frames included, goes through its
:class:`~wsserver.fanout.Outbox` so that frames keep their order and nothing
here waits on a slow client.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WebSocketError, WSCloseCode, WSMessage, WSMsgType, web

from .. import protocol
from ..channels.fanout import Outbox, note_close_code, sent_close_code
from ..errors import BadFrame, JoinRefused, Refusal, TooManyChannels
from ..hub.member import Member
from ..protocol import Code, Refused, error_frame
from . import accounts, security
from .conversation import Conversation
from .frames import parse_client_frame
from .heartbeat import Heartbeat
from .state import STATE, State

log = logging.getLogger("wsserver.chat")  # the name operators know from the log (docs/operations.md)

async def chat_socket(request: web.Request) -> web.StreamResponse:
    """Check who is asking, upgrade to the chat socket and serve it until either side closes."""
    state = request.app[STATE]
    config = state.config
    try:
        security.check_query(request)
        security.check_origin(request, config.allowed_origins)
        identity = await accounts.identity(request, request.query.get("channel", ""))
        address = security.client_address(request, config.trusted_proxy)
        state.quota.take(address)
    except Refusal as refusal:
        log.warning("refused a socket from %s: %s", request.remote, refusal.sentence)
        state.metrics.joins_refused.labels(refusal.refused.code.label).inc()
        return security.refusal_response(refusal)
    try:
        # Uncompressed: fan-out writes the same pre-encoded frame bytes to every socket.
        # No heartbeat of aiohttp's (two timers a socket): one sweep for all (wsserver.heartbeat), which
        # sees the pongs because we answer pings ourselves.
        ws = web.WebSocketResponse(autoping=False, max_msg_size=config.max_frame_bytes, compress=False)
        await ws.prepare(request)
        state.sockets[ws] = request.transport
        try:
            # Awaited here, not inside _join: one coroutine frame less per socket for its whole life.
            conversation = await _join(request, ws, state, identity)
            if conversation is not None:
                ended: WSMessage | None = None
                state.heartbeat.watch(conversation.outbox)
                try:
                    ended = await _converse(ws, conversation)
                finally:
                    await _leave(ws, state, conversation.member, ended)
        except Exception:
            log.exception("chat socket failed")
            note_close_code(ws, protocol.CLOSE_SERVER_ERROR)
            await ws.close(code=protocol.CLOSE_SERVER_ERROR, message=protocol.Code.SERVER_ERROR.sentence.encode())
        finally:
            state.sockets.pop(ws, None)
        return ws
    finally:
        state.quota.give_back(address)


async def _reject(ws: web.WebSocketResponse, state: State, refused: Refused, why: str,
                  code: int = protocol.CLOSE_POLICY) -> None:
    log.warning("refused a join: %s", why)
    state.metrics.joins_refused.labels(refused.code.label).inc()
    await ws.send_str(error_frame(refused.sentence))
    note_close_code(ws, code)
    await ws.close(code=code, message=refused.sentence.encode())


async def _join(request: web.Request, ws: web.WebSocketResponse, state: State,
                identity: security.Identity | None) -> Conversation | None:
    """Take a seat in the channel asked for; return the conversation in it, or None (refused, told, closed)."""
    name = request.query.get("channel", "")
    try:
        channel = state.hub.channels.channel(name)
    except TooManyChannels:
        await _reject(ws, state, Refused.of(Code.TOO_MANY_CHANNELS), f"channel {name!r} would pass --max-channels")
        return None
    if channel is None:
        await _reject(ws, state, Refused.of(Code.NO_CHANNEL), f"unknown channel {name[:40]!r}")
        return None
    # With tokens or accounts, the handle is the identity's and the parameter is ignored.
    handle = identity.handle if identity is not None else request.query.get("handle", "")
    operator = identity is not None and identity.operator
    outbox = Outbox(ws, state.config.send_queue, f"{handle}@{name}", request.transport, state.metrics.count_stall)
    # Its own token for reconnects: the site's may expire long before the conversation does. (A signed-in
    # page reconnects with its cookie.)
    first = [resume_frame(state, handle, name, operator)] if identity is not None and identity.session is None \
        else []
    try:
        member = await Member.join(state.hub, channel, handle, outbox, state.limits, history=state.config.history,
                                   since=request.query.get("since"), first=first, shared=identity is not None,
                                   operator=operator, presence=request.query.get("presence", "")[:64] or None)
    except JoinRefused as refused:
        await _reject(ws, state, refused.refused, refused.why, refused.code)
        return None
    if identity is not None and identity.session is None:
        state.resumable[outbox] = (handle, name, operator)
    elif identity is not None and identity.session is not None:
        state.signed_in[outbox] = (handle, identity.session)
    return Conversation(member, state.metrics)


async def _leave(ws: web.WebSocketResponse, state: State, member: Member, ended: WSMessage | None) -> None:
    outbox = member.seat.outbox
    state.heartbeat.forget(outbox)
    state.resumable.pop(outbox, None)
    state.signed_in.pop(outbox, None)
    await member.leave()
    log.info("%s left (%s)", member.seat.who, _how_closed(ws, ended, state.heartbeat.lost(ws)))


def _how_closed(ws: web.WebSocketResponse, ended: WSMessage | None, lost: str | None = None) -> str:
    """Say who closed the socket, and with which code: the one this server sent, if it sent one."""
    if lost is not None:
        return f"close code {WSCloseCode.ABNORMAL_CLOSURE}, connection lost: {lost}"
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


async def _converse(ws: web.WebSocketResponse, conversation: Conversation) -> WSMessage | None:
    """Read the client's frames and hand each to ``conversation``; return the message that ended the socket."""
    outbox = conversation.outbox
    async for message in ws:
        Heartbeat.heard(outbox)
        if message.type == WSMsgType.PONG:
            continue
        if message.type == WSMsgType.PING:
            await ws.pong(message.data)
            continue
        if message.type == WSMsgType.BINARY:
            conversation.refuse(Code.BINARY_FRAME)
            continue
        if message.type != WSMsgType.TEXT:
            return message
        log.debug("frame from %s: %.200r", outbox.name, message.data)
        try:
            request = parse_client_frame(message.data)
        except BadFrame as exc:
            conversation.refuse(exc.refused)
            continue
        await conversation.serve(request)
        if conversation.closing:
            # Told why, and being closed: stop reading here. aiohttp's close, when another task is waiting in
            # receive(), drops the connection at once, and with the client's unread frames still in our receive
            # buffer the kernel answers with a reset that loses the refusal and the close frame on their way to
            # the client; alone, the close reads on (and discards) up to the client's close frame.
            return None
    return None
