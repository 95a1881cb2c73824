"""Hand one serialized frame to many connections without ever waiting on any of them.

A frame is encoded once into its WebSocket bytes (:class:`Wire`) and the
same bytes go to every connection.  Each connection has an :class:`Outbox`:
while the connection keeps up (nothing queued, little unsent in its
transport) the bytes are written to the transport at once; otherwise they
wait in a bounded queue that a writer task drains.  Nothing here waits on a
client: one that stops reading fills its queue, and its outbox closes it
with 1008 and ``Too slow`` (:class:`~wsserver.protocol.Code`).  (Sockets are uncompressed, so the bytes are the
frame as sent.)
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:  # the sockets are aiohttp's, but nothing here needs aiohttp loaded: the hub runs without it
    from aiohttp import web

from ..background import cancel_and_wait
from ..protocol import CLOSE_POLICY, Code

log = logging.getLogger("wsserver.fanout")  # the name operators know from the log (docs/operations.md)

# Timeouts
CLOSE_TIMEOUT = 5.0  # a stalled reader that does not take our close frame is cut off
# Limits
DIRECT_LIMIT = 64 * 1024  # unsent bytes in a transport past which frames queue instead


class Opcode(enum.IntEnum):
    """The WebSocket opcodes a :class:`Wire` is sent with (RFC 6455 section 5.2; aiohttp's WSMsgType has the same)."""

    TEXT = 0x1
    PING = 0x9


class Wire:
    """One text frame, encoded once: its bytes on the wire (unmasked, final), and its payload as a view of them.

    One copy of the frame, not two: tracemalloc showed a restart storm without
    the grace holding 288 MB of frames, half of them as a second copy of the payload.
    """

    __slots__ = ("opcode", "payload", "wire")

    def __init__(self, text: str, opcode: Opcode = Opcode.TEXT) -> None:
        self._build([text.encode("utf-8")], opcode)  # the encoded text is freed once the frame is built

    @classmethod
    def of_parts(cls, parts: list[bytes | memoryview], opcode: Opcode = Opcode.TEXT) -> Wire:
        """Return the frame whose payload is ``parts`` (UTF-8) one after the other: one copy of them, into the frame."""
        wire = cls.__new__(cls)
        wire._build(parts, opcode)
        return wire

    def _build(self, parts: list[bytes | memoryview], opcode: Opcode) -> None:
        size = sum(map(len, parts))  # views are of bytes: their len is in bytes
        first = 0x80 | int(opcode)  # final frame
        if size < 126:
            header = bytes((first, size))
        elif size < 65536:
            header = bytes((first, 126)) + size.to_bytes(2, "big")
        else:
            header = bytes((first, 127)) + size.to_bytes(8, "big")
        self.opcode = opcode
        self.wire = b"".join([header, *parts])
        self.payload = memoryview(self.wire)[len(header) :]


PING = Wire("", Opcode.PING)  # the heartbeat's ping (wsserver.heartbeat), queued like any frame


class PresenceSource(Protocol):
    """A channel's users list in versions (:class:`wsserver.presence.PresenceList`), as an outbox reads it."""

    version: int

    def with_joiner(self, handle: str) -> tuple[Wire, str | None]:
        """Return the whole list with ``handle`` in it, and ``handle`` if the current version lacks it."""

    def tag_with(self, handle: str) -> str:
        """Return the version (the member set's) of the whole list with ``handle`` in it."""

    def since(self, version: int, extra: str | None = None) -> Wire | None:
        """Return what a connection at ``version`` (plus ``extra``) needs now; None if nothing."""


class Outbox:
    """Send frames to one websocket in order, straight out or through a writer task when it is behind.

    The writer task only exists while frames wait: most connections keep up
    most of the time, and a task per idle connection costs memory at 10,000.
    """

    __slots__ = (
        "_close_with",
        "_frames",
        "_limit",
        "_name",
        "_on_stall",
        "_presence",
        "_presence_due",
        "_presence_extra",
        "_presence_version",
        "_started",
        "_task",
        "_transport",
        "_ws",
        "heard",
        "pinged",
        "stalled",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        limit: int,
        name: str,
        transport: asyncio.Transport | None = None,
        on_stall: Callable[[], None] | None = None,
    ) -> None:
        self._ws = ws
        self._on_stall = on_stall
        self._transport = transport
        self._limit = limit
        self._name = name
        # Made when a first frame must wait, and dropped when drained: an empty deque is 600 bytes,
        # and most connections keep up most of the time (tracemalloc: 760 B of 19.7 KB per socket).
        self._frames: deque[Wire] | None = None
        self._started = False
        self._task: asyncio.Task[None] | None = None  # the writer, while frames wait; or the close of a stalled one
        # Presence: the list this connection has is version _presence_version of _presence (plus
        # _presence_extra, a joiner spliced into the list it got first); _presence_due says a newer
        # version waits for the queue to drain (then it gets one delta for all it missed).
        self._presence: PresenceSource | None = None
        self._presence_version = 0
        self._presence_extra: str | None = None
        self._presence_due = False
        self._close_with: tuple[int, str] | None = None
        self.stalled = False
        # For the heartbeat (wsserver.heartbeat): when the client was last heard from, and when it was
        # sent a ping it has not answered yet (0: none). Kept here, not in dicts: 10,000 sockets.
        self.heard = 0.0
        self.pinged = 0.0

    def start(self) -> None:
        """Start sending; frames put before this are sent first, in order."""
        self._started = True
        self._wake_writer()

    def _wake_writer(self) -> None:
        if self._started and self._task is None and not self.stalled:
            self._task = asyncio.get_running_loop().create_task(self._send_all(), name=f"send to {self._name}")

    def put(self, frame: str | Wire) -> None:
        """Send ``frame`` now if the connection keeps up, else queue it; a full queue closes a stalled reader."""
        if self.stalled or self._ws.closed:
            return
        wire = frame if isinstance(frame, Wire) else Wire(frame)
        transport = self._transport
        if (
            self._started
            and self._task is None  # nothing queued, nothing being sent
            and self._close_with is None
            and transport is not None
            and not transport.is_closing()
            and transport.get_write_buffer_size() < DIRECT_LIMIT
        ):
            transport.write(wire.wire)
            return
        if self._frames is None:
            self._frames = deque()
        if len(self._frames) < self._limit:
            self._frames.append(wire)
            self._wake_writer()
            return
        log.warning("closing %s: stalled reader (%d frames queued)", self._name, self._limit)
        self.stalled = True
        self._frames = None
        self._presence_due = False
        if self._on_stall is not None:
            self._on_stall()
        # The writer is most likely stuck waiting for the socket to drain:
        # stop it, and close from a task of our own.
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(
            close_with_cutoff(self._ws, self._transport, CLOSE_POLICY, Code.TOO_SLOW.sentence),
            name=f"drop {self._name}",
        )

    @property
    def name(self) -> str:
        """Return who the outbox sends to, for logs: ``handle@channel``."""
        return self._name

    @property
    def ws(self) -> web.WebSocketResponse:
        """Return the socket this outbox sends to."""
        return self._ws

    @property
    def transport(self) -> asyncio.Transport | None:
        """Return the socket's transport (to cut it off)."""
        return self._transport

    def heard_from(self, now: float) -> None:
        """The client sent something at ``now``: it is alive, and owes no pong."""
        self.heard = now
        self.pinged = 0.0

    def close_after(self, code: int, reason: str) -> None:
        """Close the socket once everything queued so far is sent (so the client reads why)."""
        self._close_with = (code, reason)
        self._wake_writer()

    def put_first(self, frames: list[Wire]) -> None:
        """Queue ``frames`` ahead of everything queued so far (the backlog before live lines)."""
        if self._frames is None:
            self._frames = deque()
        self._frames.extendleft(reversed(frames))
        self._wake_writer()

    def put_presence(self, presence: PresenceSource, handle: str, known: str | None = None) -> None:
        """Send the whole users list of ``presence``, with ``handle`` (the joiner) in it: the first list, in order.

        ``known``: the version of the list the client says it has (a resume's ``presence=``); when it is that
        list's, nothing is sent, and the deltas go on from it.
        """
        frame, self._presence_extra = presence.with_joiner(handle)
        self._presence, self._presence_version = presence, presence.version
        if known is None or known != presence.tag_with(handle):
            self.put(frame)

    def presence_changed(self) -> None:
        """Send the connection what changed in its channel's users list: a delta now, or once its queue drains.

        Presence is a state, not a stream: a connection that is behind gets one
        delta for everything it missed when it has caught up.
        """
        if self.stalled or self._presence is None:
            return
        if not self._started or self._task is not None:
            self._presence_due = True
            self._wake_writer()
            return
        frame = self._take_presence()
        if frame is not None:
            self.put(frame)

    def _take_presence(self) -> Wire | None:
        """Bring the connection's list to the current version: return the frame that does it (None: no change)."""
        presence = self._presence
        assert presence is not None
        self._presence_due = False
        frame = presence.since(self._presence_version, self._presence_extra)
        self._presence_version, self._presence_extra = presence.version, None
        return frame

    async def stop(self) -> None:
        """Stop the writer task; frames still queued are dropped, but a close under way is let finish.

        A close this server began (:meth:`close_after`, a stalled reader) is
        what ends the handler's read loop, so the handler comes here while the
        close is still going on: cancelling it then cut the connection with the
        client's unread frames in our receive buffer, the kernel answered with
        a reset, and the client lost what was sent before the close frame and
        the close frame itself (1006 instead of 1008 and its reason, under
        load).  The close reads on to the client's close frame and is bounded
        by :data:`CLOSE_TIMEOUT`.
        """
        self._started = False
        task, self._task = self._task, None
        if task is not None and (self._close_with is not None or self.stalled):
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                await task
            return
        await cancel_and_wait([task])

    async def _send_all(self) -> None:
        ws = self._ws
        try:
            while self._frames or self._presence_due:
                if self._frames:
                    wire = self._frames.popleft()
                    if not self._frames:
                        self._frames = None
                else:
                    due = self._take_presence()
                    if due is None:
                        continue
                    wire = due
                # aiohttp writes header + payload: any bytes-like payload works, a view copies nothing more.
                await ws.send_frame(cast(bytes, wire.payload), wire.opcode)  # type: ignore[arg-type]  # WSMsgType's values
                del wire  # not kept while waiting: a joiner's presence list is large
            if self._close_with is not None:
                await close_with_cutoff(ws, self._transport, *self._close_with)
        except (ConnectionError, RuntimeError):
            # The peer went away; the handler notices and cleans up.
            pass
        finally:
            if self._task is asyncio.current_task():
                self._task = None  # drained: later frames go straight out again


_sent_codes: weakref.WeakKeyDictionary[web.WebSocketResponse, int] = weakref.WeakKeyDictionary()


def sent_close_code(ws: web.WebSocketResponse) -> int | None:
    """Return the close code this server sent on ``ws`` (None if it sent none)."""
    return _sent_codes.get(ws)


def note_close_code(ws: web.WebSocketResponse, code: int) -> None:
    """Remember the close code about to be sent on ``ws`` (the first one counts), for the leave log line."""
    _sent_codes.setdefault(ws, int(code))


async def close_with_cutoff(
    ws: web.WebSocketResponse, transport: asyncio.Transport | None, code: int, reason: str
) -> None:
    """Close ``ws`` with ``code`` and ``reason``; cut the connection if that has not happened in time.

    The close frame queues behind everything the client has not taken, and
    waiting for it to drain cannot be cancelled reliably; so the cut-off is a
    timer of its own (harmless if the close went through).
    """
    if not ws.closed:
        note_close_code(ws, code)
    if transport is not None:
        asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, _cut_off, transport, code)
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.close(code=code, message=reason.encode())


def _cut_off(transport: asyncio.Transport, code: int) -> None:
    if not transport.is_closing():  # said, so that a client that lost its close frame can be traced here
        log.warning("cut off a connection: its close (%d) did not complete within %.0f s", code, CLOSE_TIMEOUT)
    transport.abort()


def broadcast(outboxes: Iterable[Outbox], frame: str) -> None:
    """Encode ``frame`` once and put it on every outbox; never awaits."""
    wire = Wire(frame)
    for outbox in outboxes:
        outbox.put(wire)
