"""Real servers on free ports, real websocket clients, real files in temporary directories."""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis

REPO = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"listening on (http://[^/\s]+)/")
TIMEOUT = 10.0


class Server:
    """A ``wsserver`` process started for one test, with its stderr collected line by line."""

    def __init__(
        self, data_dir: Path, args: list[str], env: dict[str, str] | None = None, file_size_limit: int | None = None
    ) -> None:
        self.data_dir = data_dir
        self.file_size_limit = file_size_limit
        self.args = args
        self.env = env or {}
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WSSERVER_")}
        env.update(self.env)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wsserver", "--port", "0", "--data-dir", str(self.data_dir), *self.args,
            stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, env=env, cwd=str(REPO),
            preexec_fn=self._limit_file_size if self.file_size_limit is not None else None,
        )
        self._reader = asyncio.get_running_loop().create_task(self._read())
        match = await self.wait_for_log(LISTENING)
        self.url = match.group(1)
        return self

    def _limit_file_size(self) -> None:
        # Writes past the limit fail with EFBIG, as on a full disk (Python ignores SIGXFSZ).
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.file_size_limit, self.file_size_limit))

    async def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        async for raw in self.process.stderr:
            async with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_log(self, pattern: re.Pattern[str] | str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Wait until a stderr line matches ``pattern``; fail with the log if the server exits first."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern

        def found() -> re.Match[str] | None:
            for line in self.lines:
                match = regex.search(line)
                if match:
                    return match
            return None

        async def wait() -> re.Match[str]:
            async with self._changed:
                while True:
                    match = found()
                    if match:
                        return match
                    if self._reader is not None and self._reader.done():
                        raise AssertionError("server exited; its log:\n" + "\n".join(self.lines))
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"no log line matching {regex.pattern!r}; log:\n" + "\n".join(self.lines)) from None

    def ws_url(self, **query: str) -> str:
        from urllib.parse import urlencode

        return self.url.replace("http", "ws", 1) + "/ws?" + urlencode(query)

    async def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum`` and return the exit status."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signum)
        code = await asyncio.wait_for(self.process.wait(), TIMEOUT)
        if self._reader is not None:
            await self._reader
        return code

    def log_path(self, channel: str) -> Path:
        return self.data_dir / f"channel_{channel}.log"

    def file_lines(self, channel: str) -> list[str]:
        path = self.log_path(channel)
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


class Client:
    """A websocket client that, like a browser, reads all the time; tests take frames from its inbox."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.lines: list[str] = []
        self.frames: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
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
        if "event" not in frame:
            self.frames.append(frame)
            if frame.get("success") and "message" in frame.get("data", {}):
                self.lines.extend(frame["data"]["message"].split("\n"))
        return frame

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
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                return self.ws.close_code, message.extra or ""
            if message.type == aiohttp.WSMsgType.TEXT:
                frame = json.loads(message.data)
                (self.events if "event" in frame else self.frames).append(frame)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client_session:
        yield client_session


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start servers for a test (``await start_server("--history", "5")``); all are stopped after it."""
    servers: list[Server] = []

    async def start(
        *args: str, data_dir: Path | None = None, env: dict[str, str] | None = None, file_size_limit: int | None = None
    ) -> Server:
        server = Server(data_dir or tmp_path / "data", list(args), env, file_size_limit)
        servers.append(server)
        return await server.start()

    yield start
    for server in servers:
        if server.process is not None and server.process.returncode is None:
            server.process.kill()
            await server.process.wait()


@pytest.fixture
async def server(start_server: Callable[..., Any]) -> Server:
    """A server with the defaults but no rate limit."""
    return await start_server("--rate-limit", "0")


@pytest.fixture
async def connect(session: aiohttp.ClientSession) -> AsyncIterator[Callable[..., Any]]:
    """Open a chat socket on a server: ``await connect(server, "Alice")``; kept open until the test ends."""
    clients: list[Client] = []

    async def open_socket(server: Server, handle: str | None, channel: str | None = "general", **extra: Any) -> Client:
        autoping = extra.pop("autoping", True)
        query = {k: v for k, v in (("channel", channel), ("handle", handle)) if v is not None}
        query.update(extra)
        ws = await session.ws_connect(server.ws_url(**query), autoping=autoping)
        clients.append(Client(ws))
        return clients[-1]

    yield open_socket
    for client in clients:
        await client.ws.close()


async def joined(client: Client, handle: str) -> Client:
    """Wait for ``handle``'s own join line; return the client."""
    await client.until_line(f"] System: {handle} has joined the chat")
    return client


async def eventually(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll ``condition`` (state in files, which has no event to await) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition did not hold in time")
        await asyncio.sleep(0.02)


async def start_cli(*args: str) -> asyncio.subprocess.Process:
    """Start ``wsserver ARGS`` (an operator command) with its stdout and stderr piped, outside any WSSERVER_ env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSSERVER_")}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wsserver", *args, cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def run_cli(*args: str) -> tuple[int, str, str]:
    """Run ``wsserver ARGS`` to its end; return (exit status, stdout, stderr)."""
    process = await start_cli(*args)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def two_processes(start_server: Callable[..., Any], data_dir: Path) -> tuple[Server, Server]:
    """Start two servers on one data dir (no rate limit), as two processes of one machine."""
    first = await start_server("--rate-limit", "0", data_dir=data_dir)
    second = await start_server("--rate-limit", "0", data_dir=data_dir)
    return first, second


def seed_log(data_dir: Path, channel: str, lines: list[str]) -> Path:
    """Create ``data_dir`` with a channel log already holding ``lines``; return the data dir."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / f"channel_{channel}.log").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return data_dir


def free_port() -> int:
    """Return a TCP port free right now, for a server that must come back on the same port."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def stalled_socket(server: Server, handle: str, channel: str = "general") -> Any:
    """Join with a raw socket that never reads (a tiny receive buffer), as a client that stalls does."""
    import socket

    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
    raw.sendall(
        f"GET /ws?channel={channel}&handle={handle} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .encode()
    )
    await server.wait_for_log(f"{handle}@{channel} joined")
    return raw


def missing(reason: str) -> None:
    """A tool a test needs is absent: skip with the reason locally, fail when CI is set (.ci/run installs it)."""
    if os.environ.get("CI"):
        pytest.fail(reason + "; .ci/run installs it", pytrace=False)
    pytest.skip(reason)


# ---------------------------------------------------------------- Redis

REDIS = shutil.which("redis-server")


class RedisServer:
    """A redis-server without persistence on a free port, in a temp dir; stoppable and restartable."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.folder = folder
        self.args = args  # more redis-server options, e.g. --replicaof HOST PORT
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS is not None
        self.process = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        # redis-server says when it accepts connections; wait for that line.
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            if b"Ready to accept connections" in raw:
                threading.Thread(target=self.process.stdout.read, daemon=True).start()  # keep the pipe drained
                return
        raise RuntimeError(f"redis-server on port {self.port} exited before it was ready")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)


@pytest.fixture
def redis_server(tmp_path: Path) -> Any:
    """A fresh redis-server for the test (skipped without redis-server, failed in CI)."""
    if REDIS is None:
        missing("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def nodes(start_server: Any, redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[Any]:
    """Start a node on the Redis store: ``await nodes("a")``, each with its own data dir and port."""

    async def start(name: str, *args: str, store: str | None = None) -> Server:
        return await start_server("--store", store or redis_server.url, "--rate-limit", "0", *args,
                                  data_dir=tmp_path / name)

    yield start


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Any:
    """A fresh local Redis Cluster of 3 masters with a replica each (redis-cli --cluster create)."""
    from .redis_cluster import REDIS_CLI, RedisCluster

    if REDIS is None or REDIS_CLI is None:
        missing("redis-server and redis-cli are not installed (apt-get install redis-server)")
    cluster = RedisCluster(tmp_path / "cluster")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
