"""WeeChat (Debian's weechat-headless) as a test client: commands through its FIFO, what it shows read from its logs."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from . import missing


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


@asynccontextmanager
async def weechat_starter(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
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


