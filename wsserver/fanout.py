"""Hand one serialized frame to many connections without ever waiting on any of them.

A frame is encoded once into its WebSocket bytes (:class:`Wire`) and the
same bytes go to every connection.  Each connection has an :class:`Outbox`:
while the connection keeps up (nothing queued, little unsent in its
transport) the bytes are written to the transport at once; otherwise they
wait in a bounded queue that a writer task drains.  Nothing here waits on a
client: one that stops reading fills its queue, and its outbox closes it
with 1008 ``Too slow``.  (Sockets are uncompressed, so the bytes are the
frame as sent.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable

from aiohttp import WSMsgType, web

from .protocol import CLOSE_POLICY, TOO_SLOW

log = logging.getLogger(__name__)

# Timeouts
CLOSE_TIMEOUT = 5.0  # a stalled reader that does not take our close frame is cut off
# Limits
DIRECT_LIMIT = 64 * 1024  # unsent bytes in a transport past which frames queue instead


class Wire:
    """One text frame, encoded once: its UTF-8 payload and its bytes on the wire (unmasked, final)."""

    __slots__ = ("payload", "wire")

    def __init__(self, text: str) -> None:
        payload = text.encode("utf-8")
        size = len(payload)
        if size < 126:
            header = bytes((0x81, size))
        elif size < 65536:
            header = bytes((0x81, 126)) + size.to_bytes(2, "big")
        else:
            header = bytes((0x81, 127)) + size.to_bytes(8, "big")
        self.payload = payload
        self.wire = header + payload


class Outbox:
    """Queue frames for one websocket and send them in order from one task."""

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
        self._frames: deque[Wire] = deque()
        self._sending = False  # the writer task is inside a send
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_presence = ""
        self._close_with: tuple[int, str] | None = None
        self.stalled = False

    def start(self) -> None:
        """Start sending; frames put before this are sent first, in order."""
        self._task = asyncio.get_running_loop().create_task(self._send_all(), name=f"send to {self._name}")

    def put(self, frame: str | Wire) -> None:
        """Send ``frame`` now if the connection keeps up, else queue it; a full queue closes a stalled reader."""
        if self.stalled or self._ws.closed:
            return
        wire = frame if isinstance(frame, Wire) else Wire(frame)
        transport = self._transport
        if (
            self._task is not None
            and not self._frames
            and not self._sending
            and self._close_with is None
            and transport is not None
            and not self._ws.closed  # no data frames after our close frame
            and not transport.is_closing()
            and transport.get_write_buffer_size() < DIRECT_LIMIT
        ):
            transport.write(wire.wire)
            return
        if len(self._frames) < self._limit:
            self._frames.append(wire)
            self._ready.set()
            return
        log.warning("closing %s: stalled reader (%d frames queued)", self._name, self._limit)
        self.stalled = True
        self._frames.clear()
        if self._on_stall is not None:
            self._on_stall()
        # The writer is most likely stuck waiting for the socket to drain:
        # stop it, and close from a task of our own.
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(
            close_with_cutoff(self._ws, self._transport, CLOSE_POLICY, TOO_SLOW), name=f"drop {self._name}"
        )

    def close_after(self, code: int, reason: str) -> None:
        """Close the socket once everything queued so far is sent (so the client reads why)."""
        self._close_with = (code, reason)
        self._ready.set()

    def put_first(self, frames: list[str]) -> None:
        """Queue ``frames`` ahead of everything queued so far (the backlog before live lines)."""
        self._frames.extendleft(Wire(frame) for frame in reversed(frames))
        self._ready.set()

    def put_presence(self, frame: str) -> None:
        """Queue a presence frame unless it is the same as the last one this connection got."""
        if frame != self._last_presence:
            self._last_presence = frame
            self.put(frame)

    async def stop(self) -> None:
        """Stop the writer task; frames still queued are dropped."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _send_all(self) -> None:
        ws = self._ws
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while self._frames:
                    self._sending = True
                    try:
                        await ws.send_frame(self._frames.popleft().payload, WSMsgType.TEXT)
                    finally:
                        self._sending = False
                if self._close_with is not None:
                    await close_with_cutoff(ws, self._transport, *self._close_with)
                    return
        except (ConnectionError, RuntimeError):
            # The peer went away; the handler notices and cleans up.
            return



async def close_with_cutoff(
    ws: web.WebSocketResponse, transport: asyncio.Transport | None, code: int, reason: str
) -> None:
    """Close ``ws`` with ``code`` and ``reason``; cut the connection if that has not happened in time.

    The close frame queues behind everything the client has not taken, and
    waiting for it to drain cannot be cancelled reliably; so the cut-off is a
    timer of its own (harmless if the close went through).
    """
    if transport is not None:
        asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, transport.abort)
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.close(code=code, message=reason.encode())


def broadcast(outboxes: Iterable[Outbox], frame: str) -> None:
    """Encode ``frame`` once and put it on every outbox; never awaits."""
    wire = Wire(frame)
    for outbox in outboxes:
        outbox.put(wire)
