"""A Python IRC library as a test client: jaraco's ``irc`` (its asyncio reactor), every event it gives kept in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import irc.client
import irc.client_aio

from .waiting import TIMEOUT


class LibraryClient:
    """One connection of the ``irc`` library: ``send`` raw lines, ``expect`` the next event that matches."""

    def __init__(self) -> None:
        self.reactor = irc.client_aio.AioReactor(loop=asyncio.get_running_loop())
        self.events: list[irc.client.Event] = []
        self._seen = 0
        self._arrived = asyncio.Event()
        self.reactor.add_global_handler("all_events", self._keep, -10)
        self.connection: Any = None

    def _keep(self, connection: Any, event: irc.client.Event) -> None:
        self.events.append(event)
        self._arrived.set()

    async def connect(self, port: int, nick: str, caps: str = "") -> None:
        """Connect and register as ``nick``; then ask for ``caps`` (CAP REQ after registration) and join nothing."""
        self.connection = await self.reactor.server().connect("127.0.0.1", port, nick, username="pyirc",
                                                              ircname="Python irc")
        await self.expect(lambda event: event.type == "welcome")
        if caps:
            self.send(f"CAP REQ :{caps}")
            await self.expect(lambda event: event.type == "cap" and "ACK" in event.arguments)

    def send(self, line: str) -> None:
        self.connection.send_raw(line)

    @staticmethod
    def tags(event: irc.client.Event) -> dict[str, str | None]:
        return {tag["key"]: tag["value"] for tag in event.tags or []}

    async def expect(self, matches: Callable[[irc.client.Event], bool], timeout: float = TIMEOUT) -> irc.client.Event:
        """Return the first event after the last one expected for which ``matches`` is true."""
        async def scan() -> irc.client.Event:
            while True:
                while self._seen < len(self.events):
                    event = self.events[self._seen]
                    self._seen += 1
                    if matches(event):
                        return event
                self._arrived.clear()
                await self._arrived.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            last = [(event.type, event.arguments) for event in self.events[-5:]]
            raise AssertionError(f"no such event in {timeout} s; last: {last}") from None

    async def message(self, text: str) -> irc.client.Event:
        """Wait for a channel message with this text (``pubmsg``)."""
        return await self.expect(lambda event: event.type == "pubmsg" and event.arguments == [text])

    def close(self) -> None:
        if self.connection is not None and self.connection.connected:
            self.connection.disconnect("bye")
