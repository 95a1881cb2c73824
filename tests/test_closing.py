"""Every close tells why: what was queued before a server-initiated close reaches the client, then the close frame."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from .support import Server, joined

RATE_LIMITED = {"success": False, "message": "Rate limit exceeded"}
# Two CPU-bound neighbours, as on a busy machine; each stops by itself after a minute.
BUSY = "import time\nend = time.monotonic() + 60\nwhile time.monotonic() < end:\n    pass\n"


@pytest.fixture
def busy_machine() -> Iterator[None]:
    """Keep both cores busy beside the server for the test."""
    neighbours = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        yield
    finally:
        for neighbour in neighbours:
            neighbour.kill()
            neighbour.wait()


@pytest.mark.usefixtures("busy_machine")
async def test_a_flood_under_load_gets_its_three_warnings_then_1008(start_server: Any, connect: Any) -> None:
    """200 chat frames in one burst on a busy machine: three 'Rate limit exceeded' frames, then 1008 with the reason."""
    server = await start_server("--rate-limit", "0.1", "--rate-burst", "2")
    for attempt in range(4):
        handle = f"Flood{attempt}"
        client = await joined(await connect(server, handle), handle)
        for i in range(200):
            try:
                await client.chat(f"flood {i}")
            except ConnectionResetError:
                break  # closed after the third warning: the rest of the burst has nowhere to go
        assert await client.closed() == (1008, "Rate limit exceeded"), f"attempt {attempt}"
        assert sum(frame == RATE_LIMITED for frame in client.frames) == 3, f"attempt {attempt}: {client.frames[-5:]}"
        await server.wait_for_log(rf"{handle}@general left \(close code 1008, sent by the server\)")


async def test_a_close_frame_without_a_code_is_logged_as_1005(server: Server, connect: Any) -> None:
    """A client close frame with no status code is 'close code 1005' in the leave log line, not 0."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    writer: Any = alice.ws._writer  # the public close() always sends a code; browsers may not
    await writer.send_frame(b"", aiohttp.WSMsgType.CLOSE)
    await server.wait_for_log(r"Alice@general left \(close code 1005, sent by the client\)")
