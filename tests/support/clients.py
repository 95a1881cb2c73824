"""A websocket client that reads all the time, as a browser does; tests take frames from its inbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from wsserver.channels.presence import handle_hash, set_version

from .servers import TIMEOUT


def version_of(users: list[str]) -> str:
    """The version of a users list, computed from scratch (the server keeps it incrementally)."""
    digest = 0
    for handle in users:
        digest ^= handle_hash(handle)
    return set_version(len(users), digest)


class Client:
    """A websocket client that, like a browser, reads all the time; tests take frames from its inbox."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.lines: list[str] = []
        self.frames: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.users: list[str] | None = None  # the users list as presence events built it: a whole list, then deltas
        self.presence_version: str | None = None  # the version the last presence event gave that list
        self._inbox: asyncio.Queue[aiohttp.WSMessage] = asyncio.Queue()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        while True:
            message = await self.ws.receive()
            self._inbox.put_nowait(message)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                return

    async def frame(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Return the next log-line or error frame; event frames met on the way are set aside in ``events``."""

        async def next_frame() -> dict[str, Any]:
            while True:
                frame = await self.any_frame(timeout)
                if "event" not in frame:
                    return frame
                self.events.append(frame)

        try:
            return await asyncio.wait_for(next_frame(), timeout)
        except TimeoutError:
            raise AssertionError(f"no log-line or error frame in {timeout} s; events: {self.events[-5:]}") from None

    async def any_frame(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Return the next frame of any kind (not set aside); fail if the socket closes instead."""
        message = await asyncio.wait_for(self._inbox.get(), timeout)
        assert message.type == aiohttp.WSMsgType.TEXT, f"expected a text frame, got {message!r}"
        frame = json.loads(message.data)
        if frame.get("event") == "presence":
            self._apply_presence(frame["data"])
        if "event" not in frame:
            self.frames.append(frame)
            if frame.get("success") and "message" in frame.get("data", {}):
                self.lines.extend(frame["data"]["message"].split("\n"))
        return frame

    def _apply_presence(self, data: dict[str, Any]) -> None:
        """Apply a presence event as a client must: a whole list replaces, a delta changes exactly what it says;
        its version must be the version of the list it leaves (every test that reads presence checks it)."""
        self._apply_users(data)
        assert data.get("version") == version_of(self.users or []), f"a version that is not its list's: {data}"
        self.presence_version = data["version"]

    def _apply_users(self, data: dict[str, Any]) -> None:
        if "users" in data:
            self.users = list(data["users"])
            return
        assert self.users is not None, f"a presence delta before any whole list: {data}"
        joined, left = data.get("joined", []), data.get("left", [])
        current = set(self.users)
        assert not set(joined) & set(left), f"a handle both joined and left: {data}"
        assert not set(joined) & current, f"joined a handle already in the list {self.users}: {data}"
        assert set(left) <= current, f"left a handle not in the list {self.users}: {data}"
        self.users = sorted((current - set(left)) | set(joined), key=lambda handle: (handle.casefold(), handle))

    async def users_become(self, users: list[str], timeout: float = TIMEOUT) -> None:
        """Read frames until the users list built from presence events is ``users``; other events are set aside."""

        async def scan() -> None:
            while self.users != users:
                frame = await self.any_frame(timeout)
                if "event" in frame and frame["event"] != "presence":
                    self.events.append(frame)

        try:
            await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            raise AssertionError(f"the users list is {self.users}, not {users}, after {timeout} s") from None

    async def event(self, name: str, timeout: float = TIMEOUT, **data: Any) -> dict[str, Any]:
        """Return the first event ``name`` whose data has these values: one set aside earlier, or the next to come."""

        def matches(frame: dict[str, Any]) -> bool:
            return frame["event"] == name and all(frame["data"].get(k) == v for k, v in data.items())

        for frame in self.events:
            if matches(frame):
                self.events.remove(frame)
                return frame

        async def scan() -> dict[str, Any]:
            while True:
                frame = await self.any_frame(timeout)
                if "event" in frame:
                    if matches(frame):
                        return frame
                    self.events.append(frame)

        return await asyncio.wait_for(scan(), timeout)

    async def until_line(self, predicate: Callable[[str], bool] | str, timeout: float = TIMEOUT, since: int = 0) -> str:
        """Return the first log line received (from index ``since``) that matches, reading frames until one does."""
        test = (lambda line: predicate in line) if isinstance(predicate, str) else predicate
        seen = since

        async def scan() -> str:
            nonlocal seen
            while True:
                for line in self.lines[seen:]:
                    if test(line):
                        return line
                seen = len(self.lines)
                await self.frame(timeout)

        return await asyncio.wait_for(scan(), timeout)

    async def refusal(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Return the next error frame, passing the lines frames that come before it (a join line, say)."""

        async def scan() -> dict[str, Any]:
            while (frame := await self.frame(timeout))["success"]:
                pass
            return frame

        return await asyncio.wait_for(scan(), timeout)

    async def until_line_frame(self, ending: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Return the data of the next lines frame with a line ending with ``ending`` (earlier frames are passed)."""

        async def scan() -> dict[str, Any]:
            while True:
                data = (await self.frame(timeout))["data"]
                if any(line.endswith(ending) for line in data["message"].split("\n")):
                    return data

        return await asyncio.wait_for(scan(), timeout)

    async def until_lines(self, count: int, timeout: float = TIMEOUT) -> list[str]:
        """Read frames until at least ``count`` lines arrived in all; return them."""
        async def scan() -> list[str]:
            while len(self.lines) < count:
                await self.frame(timeout)
            return self.lines

        return await asyncio.wait_for(scan(), timeout)

    async def send(self, payload: Any) -> None:
        await self.ws.send_str(payload if isinstance(payload, str) else json.dumps(payload))

    async def chat(self, text: str) -> None:
        await self.send({"type": "chat", "message": text})

    async def closed(self, timeout: float = TIMEOUT) -> tuple[int | None, str]:
        """Read until the server closes; return the close code and reason."""
        while True:
            message = await asyncio.wait_for(self._inbox.get(), timeout)
            if message.type == aiohttp.WSMsgType.CLOSE:
                # The code the server's close frame carried: aiohttp sets ws.close_code to 1006 afterwards if
                # its own close reply cannot be written (a flooding test still writing when the close came).
                return int(message.data), message.extra or ""
            if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                return self.ws.close_code, message.extra or ""
            if message.type == aiohttp.WSMsgType.TEXT:
                frame = json.loads(message.data)
                if frame.get("event") == "presence":
                    self._apply_presence(frame["data"])
                (self.events if "event" in frame else self.frames).append(frame)


async def joined(client: Client, handle: str) -> Client:
    """Wait for ``handle``'s own join line; return the client."""
    await client.until_line(f"] System: {handle} has joined the chat")
    return client
