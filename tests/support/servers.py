"""Real wsserver processes on free ports, with their stderr collected line by line, and what tests do to them."""

from __future__ import annotations

import asyncio
import os
import re
import resource
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
LISTENING = re.compile(r"listening on (http://[^/\s]+)/")
TIMEOUT = 10.0


class Server:
    """A ``wsserver`` process started for one test, with its stderr collected line by line."""

    def __init__(
        self, data_dir: Path, args: list[str], env: dict[str, str] | None = None, file_size_limit: int | None = None,
        umask: int = -1,
    ) -> None:
        self.data_dir = data_dir
        self.file_size_limit = file_size_limit
        self.umask = umask  # -1: the test's own
        self.args = args
        self.env = env or {}
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WSSERVER_")}
        env["WSSERVER_CONFIG"] = ""  # no /etc/wsserver/wsserver.toml of the machine's: a test names its own
        env.update(self.env)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wsserver", "--port", "0", "--data-dir", str(self.data_dir), *self.args,
            stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, env=env, cwd=str(REPO),
            preexec_fn=self._limit_file_size if self.file_size_limit is not None else None, umask=self.umask,
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
