"""A restart is not a leave: users of a stopped server are away for --rejoin-grace seconds, not gone."""

from __future__ import annotations

import signal
from typing import Any

import aiohttp

from .support import Server, free_port, joined


def logged(server: Server, channel: str) -> list[str]:
    """Return the channel's log lines without their time stamps."""
    return [line[22:] for line in server.file_lines(channel)]


async def test_sigterm_writes_one_restart_line_and_no_leave_lines(start_server: Any, connect: Any) -> None:
    """SIGTERM closes with 1001, writes one restart line per channel, no leave line, and keeps the seats away."""
    server = await start_server()
    alice = await joined(await connect(server, "Alice"), "Alice")
    carol = await joined(await connect(server, "Carol"), "Carol")
    bob = await joined(await connect(server, "Bob", "tech"), "Bob")
    assert await server.stop(signal.SIGTERM) == 0
    for client in (alice, bob, carol):
        assert await client.closed() == (1001, "Server shutting down")
    assert logged(server, "general") == ["System: Alice has joined the chat", "System: Carol has joined the chat",
                                       "System: The server is restarting"]
    assert logged(server, "tech") == ["System: Bob has joined the chat", "System: The server is restarting"]
    users = (server.data_dir / "registered_users.log").read_text().splitlines()
    assert sorted(line.split("|")[0] for line in users) == ["Alice", "Bob", "Carol"]
    assert all(len(line.split("|")) == 7 and line.endswith("|0") for line in users)  # away until ..., not announced


async def test_back_within_the_grace_is_silent_and_a_fresh_join_is_not(start_server: Any, connect: Any) -> None:
    """After a restart: since= takes the seat back with no join line; without since the seat is left, then joined."""
    port = str(free_port())
    first = await start_server("--port", port)
    alice = await joined(await connect(first, "Alice"), "Alice")
    await joined(await connect(first, "Bob"), "Bob")
    await alice.chat("before")
    await alice.until_line("Alice: before")
    cursor = alice.frames[-1]["data"]["cursor"]
    await first.stop(signal.SIGTERM)
    second = await start_server("--port", port, data_dir=first.data_dir)
    back = await connect(second, "Alice", since=cursor)
    assert (await back.any_frame())["data"] == {"channel": "general", "recovered": True}
    assert (await back.frame())["data"]["message"].endswith("] System: The server is back")
    fresh = await joined(await connect(second, "Bob"), "Bob")
    await fresh.chat("after")
    await back.until_line("Bob: after")
    assert logged(second, "general")[-6:] == [
        "Alice: before", "System: The server is restarting", "System: The server is back",
        "System: Bob has left the chat", "System: Bob has joined the chat", "Bob: after",
    ]
    await second.wait_for_log("Alice@general came back")
    users = (second.data_dir / "registered_users.log").read_text().splitlines()
    assert sorted(line.split("|")[0] for line in users) == ["Alice", "Bob"]
    assert all(len(line.split("|")) == 5 for line in users)  # both held again, nobody away


async def test_not_back_in_time_gets_the_leave_line_from_another_process(start_server: Any, connect: Any,
                                                                         session: aiohttp.ClientSession) -> None:
    """Two processes on one data dir: the one still running writes the leave line, once, when the grace ends."""
    stopping = await start_server("--rejoin-grace", "1")
    staying = await start_server("--rejoin-grace", "1", data_dir=stopping.data_dir)
    watcher = await joined(await connect(staying, "Watcher"), "Watcher")
    await joined(await connect(stopping, "Carol"), "Carol")
    await watcher.until_line("Carol has joined the chat")
    await stopping.stop(signal.SIGTERM)
    await watcher.until_line("System: The server is restarting")
    # Carol stays in the users list during the grace, then the leave line comes (within a presence poll).
    async with session.get(staying.url + "/api/channels/general/users") as response:
        assert (await response.json())["users"] == ["Carol", "Watcher"]
    await watcher.until_line("System: Carol has left the chat", timeout=15)
    await watcher.users_become(["Watcher"])
    await watcher.chat("marker")
    await watcher.until_line("Watcher: marker")
    assert logged(staying, "general").count("System: Carol has left the chat") == 1
    assert logged(staying, "general").count("System: The server is restarting") == 1
    assert "Carol" not in (staying.data_dir / "registered_users.log").read_text()


async def test_a_fresh_join_always_gets_its_join_line(server: Server, connect: Any) -> None:
    """A join without since, with nothing away, writes its join line as always."""
    alice = await connect(server, "Alice")
    assert (await alice.frame())["data"]["message"].endswith("] System: Alice has joined the chat")


async def test_the_grace_on_the_redis_store(nodes: Any, connect: Any, redis_server: Any) -> None:
    """On Redis: one restart line, a silent return on the restarted node, one leave line for who did not return."""
    port = str(free_port())
    a = await nodes("a", "--port", port, "--rejoin-grace", "3")
    b = await nodes("b", "--rejoin-grace", "3")
    watcher = await joined(await connect(b, "Watcher"), "Watcher")
    alice = await joined(await connect(a, "Alice"), "Alice")
    await joined(await connect(a, "Carol"), "Carol")
    cursor = alice.frames[-1]["data"]["cursor"]
    await watcher.until_line("Carol has joined the chat")
    await a.stop(signal.SIGTERM)
    await watcher.until_line("System: The server is restarting")
    again = await nodes("a", "--port", port, "--rejoin-grace", "3")
    back = await connect(again, "Alice", since=cursor)
    assert (await back.any_frame())["data"] == {"channel": "general", "recovered": True}
    await watcher.until_line("System: The server is back")
    await watcher.until_line("System: Carol has left the chat", timeout=15)
    await back.chat("still here")
    await watcher.until_line("Alice: still here")
    lines = [fields[b"line"].decode()[22:] for _, fields in redis_server.client().xrange("wsserver:channel:general")]
    assert lines[-5:] == ["System: Carol has joined the chat", "System: The server is restarting",
                          "System: The server is back", "System: Carol has left the chat", "Alice: still here"]
    assert "System: Alice has left the chat" not in lines
    assert lines.count("System: Alice has joined the chat") == 1
    await watcher.users_become(["Alice", "Watcher"])
