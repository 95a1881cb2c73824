"""A real IRC client: WeeChat (Debian's weechat-headless) in the same channel as a page's socket."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from .support import eventually, joined, missing
from .support.irc import irc_port


class WeeChat:
    """weechat-headless with a directory of its own: commands through its FIFO, what it shows in its logs."""

    def __init__(self, home: Path, process: asyncio.subprocess.Process) -> None:
        self.home = home
        self.process = process

    def command(self, buffer: str, text: str) -> None:
        """Send ``text`` (a line, or a /command) to ``buffer`` (``irc.ws.#general``) through the FIFO."""
        fifo = next(self.home.glob("weechat_fifo_*"))
        with fifo.open("w") as pipe:
            pipe.write(f"{buffer} *{text}\n")

    def log(self, buffer: str) -> str:
        """Return what WeeChat has shown in ``buffer`` (its logger's file; empty until it has one)."""
        path = self.home / "logs" / f"{buffer}.weechatlog"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
async def weechat(tmp_path: Path) -> AsyncIterator[Any]:
    """Start WeeChat on a server's IRC port: ``await weechat(port)``; stopped after the test."""
    binary = shutil.which("weechat-headless")
    if binary is None:
        missing("this test needs weechat-headless (apt-get install weechat-headless)")
    started: list[asyncio.subprocess.Process] = []

    async def start(port: int, nick: str = "weeuser") -> WeeChat:
        home = tmp_path / "weechat"
        home.mkdir()
        setup = ";".join([
            "/set fifo.file.enabled on", "/set logger.file.flush_delay 0", f"/set irc.server_default.nicks {nick}",
            f"/server add ws 127.0.0.1/{port} -notls", "/set irc.server.ws.autojoin #general",
            "/set irc.server.ws.capabilities message-tags,server-time", "/connect ws",  # 3.8: no echo-message
        ])
        process = await asyncio.create_subprocess_exec(str(binary), "--dir", str(home), "--run-command", setup,
                                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(process)
        return WeeChat(home, process)

    yield start
    for process in started:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_weechat_and_a_page_socket_see_each_others_lines(start_server: Any, connect: Any, weechat: Any) -> None:
    """WeeChat joins #general beside a socket: each sees the other's lines, an action, and the join, in order."""
    server = await start_server("--irc-port", "0", "--rate-limit", "0")
    client = await weechat(await irc_port(server))
    web = await joined(await connect(server, "Webby"), "Webby")
    await web.until_line("System: weeuser has joined the chat")
    await eventually(lambda: "Channel #general: 2 nicks" in client.log("irc.ws.#general"))  # its NAMES: the page
    await web.chat("hello weechat")
    await eventually(lambda: "Webby\thello weechat" in client.log("irc.ws.#general"))
    client.command("irc.ws.#general", "hello from weechat")
    await web.until_line("weeuser: hello from weechat")
    client.command("irc.ws.#general", "/me waves")
    await web.until_line("weeuser: /me waves")
    await eventually(lambda: "weeuser waves" in client.log("irc.ws.#general"))
    shown = [line.split("\t", 1)[1] for line in client.log("irc.ws.#general").splitlines()
             if "\thello" in line]
    assert shown == ["Webby\thello weechat", "weeuser\thello from weechat"], shown
    await asyncio.sleep(0)
