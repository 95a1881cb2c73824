"""Joining a channel: every rejection with its sentence and close code, history, the users file."""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Any

import pytest

from .support import Client, Server, eventually, joined, seed_log

STAMP = r"\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\]"


async def expect_rejection(client: Client, sentence: str) -> None:
    assert await client.frame() == {"success": False, "message": sentence}
    assert await client.closed() == (1008, sentence)


@pytest.mark.parametrize(
    ("channel", "handle", "sentence"),
    [
        (None, "Alice", "No valid channel provided"),
        ("", "Alice", "No valid channel provided"),
        ("random", "Alice", "No valid channel provided"),
        ("../etc", "Alice", "No valid channel provided"),
        ("general", None, "No valid handle provided"),
        ("general", "", "No valid handle provided"),
        ("general", "Al", "No valid handle provided"),
        ("general", "A" * 17, "No valid handle provided"),
        ("general", "Al ice", "No valid handle provided"),
        ("general", "Alice!", "No valid handle provided"),
        ("general", "Élise", "No valid handle provided"),
        ("general", "System", "No valid handle provided"),
        ("general", "sYsTeM", "No valid handle provided"),
        ("general", "-dash", "No valid handle provided"),
    ],
)
async def test_join_rejections(server: Server, connect: Any, channel: str | None, handle: str | None, sentence: str) -> None:
    """A bad channel or handle gets its exact sentence, then close 1008."""
    await expect_rejection(await connect(server, handle, channel), sentence)


async def test_a_handle_may_hold_dashes_as_irc_nicks_do(server: Server, connect: Any) -> None:
    """``bar-1a2b`` joins, chats and leaves: its lines are read back, in the log's grammar, by every reader."""
    first = await joined(await connect(server, "bar-1a2b"), "bar-1a2b")
    other = await joined(await connect(server, "Alice"), "Alice")
    await first.send({"type": "private", "to": "Alice", "message": "psst"})
    assert (await other.event("private"))["data"]["from"] == "bar-1a2b"
    await first.chat("hi from a dashed handle")
    await other.until_line("bar-1a2b: hi from a dashed handle")
    await first.ws.close()
    await other.until_line("System: bar-1a2b has left the chat")


async def test_taken_handle_is_refused_in_any_case(server: Server, connect: Any) -> None:
    """A handle held in a channel is refused there, whatever its case, and free in another channel."""
    await joined(await connect(server, "Alice"), "Alice")
    await expect_rejection(await connect(server, "Alice"), "User already registered")
    await expect_rejection(await connect(server, "ALICE"), "User already registered")
    await joined(await connect(server, "Alice", "tech"), "Alice")


async def test_join_and_leave_lines(server: Server, connect: Any) -> None:
    """Joining and leaving write System lines that the others receive."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    assert re.fullmatch(STAMP + r" System: Bob has joined the chat", await alice.until_line("Bob has joined"))
    await bob.ws.close()
    assert re.fullmatch(STAMP + r" System: Bob has left the chat", await alice.until_line("Bob has left"))
    assert [line[22:] for line in server.file_lines("general")] == [
        "System: Alice has joined the chat",
        "System: Bob has joined the chat",
        "System: Bob has left the chat",
    ]


async def test_history_is_the_last_lines_in_order(start_server: Any, connect: Any, tmp_path: Any) -> None:
    """A joiner gets exactly the last --history lines, oldest first, in one frame, then its own join."""
    old = [f"[2026-11-22 10:00:00] Old{i % 7}: message {i}" for i in range(150)]
    seed_log(tmp_path / "data", "general", old)
    server = await start_server("--history", "20")
    alice = await connect(server, "Alice")
    first = await alice.frame()
    assert first["success"] is True
    assert first["data"]["channel"] == "general"
    assert first["data"]["message"].split("\n") == old[-20:]
    assert isinstance(first["data"]["cursor"], str) and first["data"]["cursor"]
    second = await alice.frame()
    assert re.fullmatch(STAMP + " System: Alice has joined the chat", second["data"]["message"])
    assert second["data"]["cursor"] != first["data"]["cursor"]


async def test_history_zero_and_empty_log(start_server: Any, connect: Any) -> None:
    """With --history 0 (or an empty log) the first frame is the joiner's own join line."""
    server = await start_server("--history", "0")
    await joined(await connect(server, "Alice"), "Alice")
    bob = await connect(server, "Bob")
    first = await bob.frame()
    assert first["data"]["message"].endswith("System: Bob has joined the chat")
    assert "\n" not in first["data"]["message"]


async def test_no_line_twice_or_missing_at_the_history_boundary(start_server: Any, connect: Any) -> None:
    """Clients joining while lines pour in see one unbroken run of the file: no gap, no duplicate."""
    server = await start_server("--rate-limit", "0", "--history", "5")
    writer = await joined(await connect(server, "Writer"), "Writer")

    async def pour() -> None:
        for i in range(300):
            await writer.chat(f"n{i}")
            if i % 5 == 0:
                await asyncio.sleep(0.002)  # pacing, so that joins land in the middle of the flow

    pouring = asyncio.get_running_loop().create_task(pour())
    readers = [await connect(server, f"Reader{i}") for i in range(8)]
    await pouring
    await writer.chat("done")
    file_lines: list[str] = []
    for reader in readers:
        await reader.until_line(lambda line: line.endswith("Writer: done"))
        file_lines = file_lines or server.file_lines("general")
        start = file_lines.index(reader.lines[0])
        assert reader.lines == file_lines[start : start + len(reader.lines)], "lines missing or repeated"
    assert sum(1 for line in file_lines if ": n" in line) == 300


async def test_two_hundred_joins_then_leaves_free_every_handle(start_server: Any, connect: Any, session: Any) -> None:
    """200 simultaneous joins all succeed; after 200 simultaneous leaves no handle is held."""
    server = await start_server("--rate-limit", "0", "--announce-limit", "0")  # every leave line sent, to watch
    watcher = await joined(await connect(server, "Watcher"), "Watcher")
    handles = [f"user{i:03d}" for i in range(200)]
    clients = await asyncio.gather(*(connect(server, h) for h in handles))
    await asyncio.gather(*(joined(c, h) for c, h in zip(clients, handles, strict=True)))
    async with session.get(server.url + "/api/channels") as response:
        assert await response.json() == [{"name": "general", "users": 201}, {"name": "tech", "users": 0}]
    await asyncio.gather(*(c.ws.close() for c in clients))
    for handle in handles:
        await watcher.until_line(f"System: {handle} has left the chat")
    await eventually(lambda: users_in(server) == [["Watcher", "general"]])
    again = await asyncio.gather(*(connect(server, h) for h in handles))
    await asyncio.gather(*(joined(c, h) for c, h in zip(again, handles, strict=True)))


def users_in(server: Server) -> list[list[str]]:
    path = server.data_dir / "registered_users.log"
    return [line.split("|")[:2] for line in path.read_text().splitlines()] if path.exists() else []


async def test_users_file_format(server: Server, connect: Any) -> None:
    """The users file holds handle|channel then the owning process, one line per user."""
    await joined(await connect(server, "Alice"), "Alice")
    await joined(await connect(server, "Bob", "tech"), "Bob")
    rows = [line.split("|") for line in (server.data_dir / "registered_users.log").read_text().splitlines()]
    assert [row[:2] for row in rows] == [["Alice", "general"], ["Bob", "tech"]]
    assert all(row[3] == str(server.process.pid) for row in rows)  # type: ignore[union-attr]


async def test_stale_registrations_are_reclaimed(tmp_path: Any, start_server: Any, connect: Any) -> None:
    """Entries of a process that is gone do not block a join, at start-up or later."""
    data = tmp_path / "data"
    data.mkdir()
    host = socket.gethostname()
    (data / "registered_users.log").write_text(f"Alice|general|{host}|999999999|1\nBob|general\n")
    server = await start_server()
    assert (data / "registered_users.log").read_text() == ""
    (data / "registered_users.log").write_text(f"Carol|general|{host}|999999999|1\n")
    await joined(await connect(server, "Carol"), "Carol")
