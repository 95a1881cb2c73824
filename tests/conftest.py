"""Fixtures only: real servers on free ports, real websocket clients, real Redis, in temporary directories.

The helpers they use live in :mod:`tests.support`, by concern.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .support import Client, RedisServer, Server, missing
from .support.browser import ChatStore, launch_chromium
from .support.cluster import REDIS_CLI, RedisCluster
from .support.redis import REDIS
from .support.weechat import weechat_starter

# Markers put on tests by what they need (`pytest -m "not browser and not redis and not nginx and not bench"`
# runs the fast part): by the fixtures a test uses, or by its file.
MARKED_BY_FIXTURE = {"new_page": "browser", "browser": "browser", "redis_server": "redis", "nodes": "redis",
                     "redis_cluster": "redis", "nginx": "nginx"}
MARKED_BY_FILE = {"test_bench.py": "bench", "test_deploy.py": "nginx", "test_deploy_irc.py": "nginx"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test browser, redis, nginx or bench by what it needs."""
    for item in items:
        names = {MARKED_BY_FIXTURE[name] for name in getattr(item, "fixturenames", ()) if name in MARKED_BY_FIXTURE}
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("chat_store") == "redis":
            names.add("redis")
        if item.path.name in MARKED_BY_FILE:
            names.add(MARKED_BY_FILE[item.path.name])
        for name in sorted(names):
            item.add_marker(getattr(pytest.mark, name))


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client_session:
        yield client_session


@pytest.fixture
async def person() -> AsyncIterator[Callable[[], aiohttp.ClientSession]]:
    """A browser of its own (its own cookies; cookies for 127.0.0.1 kept, as a browser keeps them)."""
    sessions: list[aiohttp.ClientSession] = []

    def make() -> aiohttp.ClientSession:
        sessions.append(aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)))
        return sessions[-1]

    yield make
    for made in sessions:
        await made.close()


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start servers for a test (``await start_server("--history", "5")``); all are stopped after it."""
    servers: list[Server] = []

    async def start(
        *args: str, data_dir: Path | None = None, env: dict[str, str] | None = None, file_size_limit: int | None = None,
        umask: int = -1,
    ) -> Server:
        server = Server(data_dir or tmp_path / "data", list(args), env, file_size_limit, umask)
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


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for the test (root only): a disk that fills up for real."""
    folder = tmp_path / "small"
    folder.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
                                                         str(folder)], capture_output=True).returncode != 0:
        missing("mounting a tmpfs needs root (mount -t tmpfs)")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


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
    if REDIS is None or REDIS_CLI is None:
        missing("redis-server and redis-cli are not installed (apt-get install redis-server)")
    cluster = RedisCluster(tmp_path / "cluster")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


# ---------------------------------------------------------------- browser


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
async def new_page(browser: Any) -> AsyncIterator[Any]:
    """Open pages, each in a context of its own (as separate people would)."""
    contexts = []

    async def open_page(url: str, width: int = 1100, height: int = 800, **options: Any) -> Any:
        """Open ``url`` in a new context; ``options`` go to Playwright's new_context (color_scheme, permissions)."""
        context = await browser.new_context(viewport={"width": width, "height": height}, **options)
        contexts.append(context)
        page = await context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        await page.goto(url)
        return page

    yield open_page
    for context in contexts:
        await context.close()


@pytest.fixture
async def weechat(tmp_path: Path) -> AsyncIterator[Any]:
    """Start WeeChat on a server's IRC port: ``await weechat(port)`` (skips without weechat-headless)."""
    async with weechat_starter(tmp_path) as start:
        yield start


@pytest.fixture(params=["file", "redis"])
def chat_store(request: Any, start_server: Any, tmp_path: Path) -> ChatStore:
    """The file store, then a Redis store (its own redis-server): the page must work the same on both."""
    redis = request.getfixturevalue("redis_server") if request.param == "redis" else None
    return ChatStore(request.param, start_server, tmp_path, redis)
