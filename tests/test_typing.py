"""Typing crosses processes (--workers, or servers sharing a data dir) and nodes (Redis), and is never logged."""

from __future__ import annotations

from typing import Any

from .support import eventually, free_port, joined, two_processes
from .test_workers import spread, worker_pids


async def typing_crosses(alice: Any, bob: Any, handle: str = "Alice") -> None:
    """Alice's typing reaches Bob on another process: on, a refresh that says nothing, off."""
    await alice.send({"type": "typing", "typing": True})
    on = await bob.event("typing")
    assert on == {"success": True, "event": "typing", "data": {"channel": "general", "handle": handle, "typing": True}}
    await alice.send({"type": "typing", "typing": True})  # a refresh: nothing new for Bob
    await alice.send({"type": "typing", "typing": False})
    assert (await bob.event("typing"))["data"] == {"channel": "general", "handle": handle, "typing": False}
    await alice.chat("marker")
    await bob.until_line(f"{handle}: marker")
    assert [e for e in bob.events if e["event"] == "typing"] == []


async def test_typing_crosses_two_servers_on_one_data_dir(start_server: Any, connect: Any, tmp_path: Any) -> None:
    data = tmp_path / "data"
    first, second = await two_processes(start_server, data)
    alice = await joined(await connect(first, "Alice"), "Alice")
    bob = await joined(await connect(second, "Bob"), "Bob")
    await typing_crosses(alice, bob)
    await typing_crosses(bob, alice, "Bob")
    assert [line[22:] for line in first.file_lines("general")] == [  # typing is never written
        "System: Alice has joined the chat", "System: Bob has joined the chat", "Alice: marker", "Bob: marker"]
    assert sorted(p.name.split("-")[-1] for p in (data / ".events").iterdir()) == sorted(
        f"{s.process.pid}.sock" for s in (first, second) if s.process is not None)


async def test_typing_crosses_workers(start_server: Any, connect: Any) -> None:
    server = await start_server("--workers", "2", "--port", str(free_port()), "--rate-limit", "0")
    await eventually(lambda: len(worker_pids(server)) == 2)
    by_pid = await spread(server, connect)
    (_, on_a), (_, on_b) = sorted(by_pid.items())
    (handle_a, client_a), (_, client_b) = on_a[0], on_b[0]
    await typing_crosses(client_a, client_b, handle_a)


async def test_typing_of_a_process_that_died_expires(start_server: Any, connect: Any, tmp_path: Any) -> None:
    """A typing: true from a process killed outright is turned off by the others after 6 s; its socket is dropped."""
    data = tmp_path / "data"
    first, second = await two_processes(start_server, data)
    alice = await joined(await connect(first, "Alice"), "Alice")
    bob = await joined(await connect(second, "Bob"), "Bob")
    await alice.send({"type": "typing", "typing": True})
    await bob.event("typing", typing=True)
    assert first.process is not None
    first.process.kill()
    await bob.event("typing", timeout=9, typing=False)
    await bob.send({"type": "typing", "typing": True})  # sending to the dead one's socket removes it
    await eventually(lambda: len(list((data / ".events").iterdir())) == 1)


async def test_typing_crosses_nodes_on_redis(nodes: Any, connect: Any) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await joined(await connect(a, "Alice"), "Alice")
    bob = await joined(await connect(b, "Bob"), "Bob")
    await typing_crosses(alice, bob)
    await typing_crosses(bob, alice, "Bob")
