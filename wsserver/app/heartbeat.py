"""One heartbeat for every socket of the process: ping the quiet ones, cut those that stopped answering.

aiohttp's own heartbeat keeps two timers per socket (a ping timer and a pong
timer, rescheduled on traffic): at 10,000 sockets that is 20,000 timer
handles in the loop's heap and about 1.2 KB a socket (tracemalloc during W4).
Here one task sweeps every socket each half heartbeat instead: a socket that
has been quiet for ``--heartbeat`` seconds is sent a ping (through its
outbox, in order with its frames), and one that has not been heard from for
half a heartbeat after that ping is cut without a close frame, as aiohttp
did: the client sees 1006, and the leave line says ``connection lost: No PONG
received after N seconds``.  Anything received counts as a sign of life.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any

from ..channels.fanout import PING, Outbox

log = logging.getLogger("wsserver.heartbeat")  # the name operators know from the log (docs/operations.md)


class Heartbeat:
    """The liveness of every chat socket of this process, swept by one task."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._watched: set[Outbox] = set()  # each keeps when it was heard from and pinged
        self._lost: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    def watch(self, outbox: Outbox) -> None:
        """Start watching the socket of ``outbox`` (its frames, the pings included, go through it)."""
        outbox.heard_from(time.monotonic())
        self._watched.add(outbox)

    @staticmethod
    def heard(outbox: Outbox) -> None:
        """The socket of ``outbox`` sent something: it is alive."""
        outbox.heard_from(time.monotonic())

    def forget(self, outbox: Outbox) -> None:
        """Stop watching (its handler ends)."""
        self._watched.discard(outbox)

    def lost(self, ws: Any) -> str | None:
        """Return why ``ws`` was cut for not answering, or None."""
        return self._lost.get(ws)

    async def run(self) -> None:
        """Sweep every half heartbeat, until cancelled."""
        while True:
            await asyncio.sleep(self.interval / 2)
            self.sweep(time.monotonic())

    def sweep(self, now: float) -> None:
        """Ping the sockets quiet for a heartbeat; cut those that did not answer a ping within half of one."""
        answer_within = self.interval / 2
        for outbox in list(self._watched):
            if outbox.pinged:
                if now - outbox.pinged >= answer_within:
                    self._cut(outbox, answer_within)
            elif now - outbox.heard >= self.interval:
                outbox.pinged = now
                outbox.put(PING)

    def _cut(self, outbox: Outbox, waited: float) -> None:
        self.forget(outbox)
        self._lost[outbox.ws] = f"No PONG received after {waited:g} seconds"
        if outbox.transport is not None:
            outbox.transport.abort()
