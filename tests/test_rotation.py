"""Log rotation with clients connected and lines flowing: no accepted line lost or sent twice."""

from __future__ import annotations

import os
import signal
from typing import Any

from .support import Client, Server, joined


async def chat_numbered(sender: Client, first: int, count: int) -> None:
    for i in range(first, first + count):
        await sender.chat(f"n{i}")


def numbers(client: Client) -> list[int]:
    return [int(line.rsplit(" n", 1)[1]) for line in client.lines if "Alice: n" in line]


async def rotate_and_check(server: Server, connect: Any, rotate: Any) -> None:
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await chat_numbered(alice, 0, 50)
    await bob.until_line("Alice: n49")
    await rotate()
    await chat_numbered(alice, 50, 50)
    await bob.until_line("Alice: n99")
    await alice.until_line("Alice: n99")
    assert numbers(bob) == list(range(100))
    assert numbers(alice) == list(range(100))


async def test_rename_and_sighup(server: Server, connect: Any) -> None:
    """After rename + SIGHUP, new lines go to the new file and keep flowing, none lost or doubled."""
    path = server.log_path("general")

    async def rotate() -> None:
        os.rename(path, path.with_name(path.name + ".1"))
        assert server.process is not None
        server.process.send_signal(signal.SIGHUP)
        await server.wait_for_log("reopening the log files")

    await rotate_and_check(server, connect, rotate)
    assert server.file_lines("general")[-1].endswith("Alice: n99")
    rotated = path.with_name(path.name + ".1").read_text()
    assert "Alice: n0\n" in rotated and "Alice: n99" not in rotated


async def test_rename_without_signal(server: Server, connect: Any) -> None:
    """A log renamed away and recreated, with no signal, is noticed and followed."""
    path = server.log_path("general")

    async def rotate() -> None:
        os.rename(path, path.with_name(path.name + ".1"))
        path.write_text("")
        await server.wait_for_log("was renamed or replaced; following the new file")

    await rotate_and_check(server, connect, rotate)
    assert server.file_lines("general")[-1].endswith("Alice: n99")


async def test_copytruncate(server: Server, connect: Any) -> None:
    """A log truncated in place (copytruncate) is followed from its new start."""
    path = server.log_path("general")

    async def rotate() -> None:
        os.truncate(path, 0)
        await server.wait_for_log("was truncated; following it from its start")

    await rotate_and_check(server, connect, rotate)
    assert server.file_lines("general")[0].endswith("Alice: n50")
