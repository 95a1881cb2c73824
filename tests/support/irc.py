"""A plain IRC client for tests: a TCP connection to the server's IRC door, lines in and out, waits on lines."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from .servers import Server
from .waiting import TIMEOUT

IRC_LISTENING = re.compile(r"listening for IRC on [^\s:]+:(\d+)")


async def irc_port(server: Server) -> int:
    """Return the IRC port a server started with ``--irc-port 0`` listens on (from its log)."""
    return int((await server.wait_for_log(IRC_LISTENING)).group(1))


class Irc:
    """One IRC connection: ``send`` a line, ``expect`` the next line that matches, every line kept in ``lines``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.lines: list[str] = []
        self._seen = 0

    @classmethod
    async def connect(cls, port: int, nick: str | None = None, caps: str = "", password: str | None = None) -> Irc:
        """Connect; with ``nick``, register (CAP REQ ``caps`` first) and wait for 001."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        if nick is not None:
            if caps:
                await client.send("CAP LS 302")
                await client.send(f"CAP REQ :{caps}")
                await client.expect(r" CAP \S+ ACK ")
            if password is not None:
                await client.send(f"PASS :{password}")
            await client.send(f"NICK {nick}")
            await client.send("USER user 0 * :Real Name")
            if caps:
                await client.send("CAP END")
            await client.expect(r" 001 ")
        return client

    async def join(self, channel: str = "#general") -> None:
        """JOIN a channel and wait for the end of its NAMES."""
        await self.send(f"JOIN {channel}")
        await self.expect(r" 366 ")

    async def send(self, line: str | bytes) -> None:
        self.writer.write((line.encode() if isinstance(line, str) else line) + b"\r\n")
        await self.writer.drain()

    async def expect(self, pattern: str | Callable[[str], bool], timeout: float = TIMEOUT) -> str:
        """Return the first line after the last one expected that matches ``pattern`` (a regex searched for)."""
        matches = pattern if callable(pattern) else re.compile(pattern).search

        async def scan() -> str:
            while True:
                while self._seen < len(self.lines):
                    line = self.lines[self._seen]
                    self._seen += 1
                    if matches(line):
                        return line
                raw = await self.reader.readline()
                if not raw:
                    raise AssertionError(f"the connection closed; last lines: {self.lines[-5:]}")
                self.lines.append(raw.decode("utf-8", errors="replace").rstrip("\r\n"))

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            raise AssertionError(f"no line matching {pattern!r} in {timeout} s; last: {self.lines[-5:]}") from None

    async def closed(self, timeout: float = TIMEOUT) -> None:
        """Wait until the server closes the connection."""
        async def drain() -> None:
            while await self.reader.readline():
                pass

        await asyncio.wait_for(drain(), timeout)

    def close(self) -> None:
        self.writer.close()
