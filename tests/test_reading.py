"""Read positions: ``read`` moves an identity's position forward, durably, on both stores and across processes."""

from __future__ import annotations

from typing import Any

from wsserver import protocol

from .support import Client, joined, two_processes
from .support.browser import ChatStore


async def _lines_with_cursors(client: Client, count: int) -> list[tuple[str, str]]:
    """Read lines frames until ``count`` chat lines (not System) came; return each with its cursor."""
    found: list[tuple[str, str]] = []
    while len(found) < count:
        frame = await client.frame()
        data = frame["data"]
        for line, cursor in zip(data["message"].split("\n"), data["cursors"], strict=True):
            if "] System: " not in line:
                found.append((line, cursor))
    return found


async def _said(alice: Client, bob: Client, *texts: str) -> list[str]:
    """Bob says ``texts``; return their cursors as Alice saw them."""
    for text in texts:
        await bob.chat(text)
    seen = await _lines_with_cursors(alice, len(texts))
    assert [line.split(": ", 1)[1] for line, _ in seen] == list(texts)
    return [cursor for _, cursor in seen]


async def test_read_moves_forward_only_and_is_told_after_the_backlog(chat_store: ChatStore, connect: Any) -> None:
    """A read event answers each move; an earlier cursor changes nothing; a rejoin gets the position after its backlog."""
    server = await chat_store.start("--rate-limit", "0")
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    cursors = await _said(alice, bob, "one", "two", "three")
    await alice.send({"type": "read", "cursor": cursors[1]})
    assert (await alice.event("read"))["data"] == {"channel": "general", "cursor": cursors[1]}
    await alice.send({"type": "read", "cursor": cursors[0]})  # behind the stored position: nothing moves
    await alice.send({"type": "read", "cursor": cursors[1]})  # at it: nothing moves either
    await alice.send({"type": "read", "cursor": cursors[2]})
    assert (await alice.event("read"))["data"]["cursor"] == cursors[2], "the first read event after [1] is [2]"
    assert not any(e.get("event") == "read" for e in bob.events), "a read position is told to its identity only"

    await alice.ws.close()
    await server.wait_for_log("Alice@general left")
    again = await connect(server, "Alice")
    frames = [await again.any_frame() for _ in range(3)]
    assert "message" in frames[0]["data"] and frames[1]["event"] == "presence"
    assert frames[2] == {"success": True, "event": "read", "data": {"channel": "general", "cursor": cursors[2]}}


async def test_read_refuses_what_is_no_cursor_and_keeps_the_position(chat_store: ChatStore, connect: Any) -> None:
    """A string naming no line: No line at that cursor; not a string: the read request sentence; position kept."""
    server = await chat_store.start("--rate-limit", "0")
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    [cursor] = await _said(alice, bob, "hello")
    await alice.send({"type": "read", "cursor": cursor})
    await alice.event("read")
    for bad, sentence in [("nonsense", protocol.Code.BAD_AROUND.sentence), ("0-0-0", protocol.Code.BAD_AROUND.sentence),
                          (cursor + "9", protocol.Code.BAD_AROUND.sentence), (5, protocol.Code.BAD_READ.sentence), (None, protocol.Code.BAD_READ.sentence)]:
        await alice.send({"type": "read", "cursor": bad})
        assert await alice.frame() == {"success": False, "message": sentence}
    await alice.send({"type": "read"})
    assert await alice.frame() == {"success": False, "message": protocol.Code.BAD_READ.sentence}
    await alice.ws.close()
    await server.wait_for_log("Alice@general left")
    await server.stop()
    server = await chat_store.start("--rate-limit", "0")  # and across a restart of the server
    again = await connect(server, "alice")  # the position is the handle's, whatever its case
    assert (await again.event("read"))["data"]["cursor"] == cursor


async def _read_on_one_join_on_the_other(first: Any, second: Any, connect: Any) -> None:
    """Alice reads on ``first`` and leaves; joined on ``second`` she gets that position; an older cursor moves nothing."""
    alice = await joined(await connect(first, "Alice"), "Alice")
    bob = await joined(await connect(second, "Bob"), "Bob")
    cursors = await _said(alice, bob, "one", "two")
    await alice.send({"type": "read", "cursor": cursors[1]})
    await alice.event("read")
    await alice.ws.close()
    await first.wait_for_log("Alice@general left")
    on_second = await connect(second, "Alice")
    assert (await on_second.event("read"))["data"]["cursor"] == cursors[1]
    await on_second.send({"type": "read", "cursor": cursors[0]})  # an older one, from another process: kept
    await on_second.send({"type": "history", "limit": 1})
    await on_second.event("history")
    assert not any(e.get("event") == "read" for e in on_second.events), "an older cursor moves nothing"


async def test_a_position_read_on_one_process_is_the_position_on_another(start_server: Any, connect: Any,
                                                                         tmp_path: Any) -> None:
    """Two processes on one data dir."""
    await _read_on_one_join_on_the_other(*await two_processes(start_server, tmp_path / "data"), connect)


async def test_positions_on_redis_nodes_are_shared(nodes: Any, connect: Any) -> None:
    """Two nodes on one Redis."""
    await _read_on_one_join_on_the_other(await nodes("a"), await nodes("b"), connect)
