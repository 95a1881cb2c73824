"""Hand one serialized frame to many connections without ever waiting on any of them.

Each connection has an :class:`Outbox`: a bounded queue and a writer task
that sends from it.  :func:`broadcast` only appends the same string to every
outbox, so a client that stops reading holds up nobody; when its queue is
full it is a stalled reader, and its outbox closes it with 1008 ``Too slow``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable

from aiohttp import web

from .protocol import CLOSE_POLICY, TOO_SLOW

log = logging.getLogger(__name__)

# Timeouts
CLOSE_TIMEOUT = 5.0  # a stalled reader that does not take our close frame is cut off


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
        self._frames: deque[str] = deque()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_presence = ""
        self._close_with: tuple[int, str] | None = None
        self.stalled = False

    def start(self) -> None:
        """Start sending; frames put before this are sent first, in order."""
        self._task = asyncio.get_running_loop().create_task(self._send_all(), name=f"send to {self._name}")

    def put(self, frame: str) -> None:
        """Queue ``frame``; a full queue marks the reader stalled and closes it."""
        if self.stalled:
            return
        if len(self._frames) < self._limit:
            self._frames.append(frame)
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
        self._task = asyncio.get_running_loop().create_task(self._close_stalled(), name=f"drop {self._name}")

    def close_after(self, code: int, reason: str) -> None:
        """Close the socket once everything queued so far is sent (so the client reads why)."""
        self._close_with = (code, reason)
        self._ready.set()

    def put_first(self, frames: list[str]) -> None:
        """Queue ``frames`` ahead of everything queued so far (the backlog before live lines)."""
        self._frames.extendleft(reversed(frames))
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
                    await ws.send_str(self._frames.popleft())
                if self._close_with is not None:
                    code, reason = self._close_with
                    await ws.close(code=code, message=reason.encode())
                    return
        except (ConnectionError, RuntimeError):
            # The peer went away; the handler notices and cleans up.
            return

    async def _close_stalled(self) -> None:
        # The close frame queues behind everything the reader has not taken,
        # and waiting for it to drain cannot be cancelled reliably; so the
        # cut-off is a timer of its own (harmless if the close went through).
        if self._transport is not None:
            asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self._transport.abort)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._ws.close(code=CLOSE_POLICY, message=TOO_SLOW.encode())


def broadcast(outboxes: Iterable[Outbox], frame: str) -> None:
    """Put the same ``frame`` on every outbox; never awaits."""
    for outbox in outboxes:
        outbox.put(frame)
