"""The Redis store: two nodes, each with its own data dir and port, on one real redis-server."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from wsserver import protocol

from .support import RedisServer, becomes, eventually, free_port, joined
from .support.redis import REDIS


async def test_a_line_crosses_nodes_both_ways(nodes: Any, connect: Any) -> None:
    """A line said on node A reaches a client on node B, and back."""
    a, b = await nodes("a"), await nodes("b")
    alice = await joined(await connect(a, "Alice"), "Alice")
    bob = await joined(await connect(b, "Bob"), "Bob")
    await alice.until_line("System: Bob has joined the chat")
    await alice.chat("hello from A")
    assert (await bob.until_line(lambda line: "hello from A" in line)).endswith("] Alice: hello from A")
    await bob.chat("hello from B")
    assert (await alice.until_line(lambda line: "hello from B" in line)).endswith("] Bob: hello from B")
    await alice.users_become(["Alice", "Bob"])
    assert not list(a.data_dir.glob("channel_*.log")), "a Redis node writes no channel files (without --mirror-dir)"


async def test_a_handle_held_on_one_node_is_refused_on_another(nodes: Any, connect: Any) -> None:
    """One handle per channel across all nodes, without regard to case."""
    a, b = await nodes("a"), await nodes("b")
    await joined(await connect(a, "Alice"), "Alice")
    again = await connect(b, "alice")
    assert await again.frame() == {"success": False, "message": protocol.Code.HANDLE_TAKEN.sentence}
    assert await again.closed() == (protocol.CLOSE_POLICY, protocol.Code.HANDLE_TAKEN.sentence)


async def test_history_and_resume_across_nodes(nodes: Any, connect: Any) -> None:
    """A joiner on B gets the lines said on A as history; it resumes on A from a cursor B gave it."""
    a, b = await nodes("a", "--history", "3"), await nodes("b", "--history", "3")
    # B's own reader must have read line 4 before Carol joins there: a backlog ends where B's live
    # lines begin, so an earlier join gets lines 1-3 as history and line 4 live (right, but not this test).
    observer = await joined(await connect(b, "Observer"), "Observer")
    alice = await joined(await connect(a, "Alice"), "Alice")
    for n in range(5):
        await alice.chat(f"line {n}")
    await alice.until_line(lambda line: line.endswith("Alice: line 4"))
    await observer.until_line(lambda line: line.endswith("Alice: line 4"))
    carol = await connect(b, "Carol")
    history = await carol.frame()
    assert [line.split("] ", 1)[1] for line in history["data"]["message"].split("\n")] == [
        "Alice: line 2", "Alice: line 3", "Alice: line 4"
    ]
    joined_line = await carol.frame()
    assert joined_line["data"]["message"].endswith("System: Carol has joined the chat")
    cursor = joined_line["data"]["cursor"]
    await carol.ws.close()
    await alice.until_line("System: Carol has left the chat")
    await alice.chat("missed 1")
    await alice.until_line(lambda line: line.endswith("Alice: missed 1"))
    back = await connect(a, "Carol", since=cursor)
    assert await back.any_frame() == {
        "success": True, "event": "resumed", "data": {"channel": "general", "recovered": True}
    }
    replay = [line.split("] ", 1)[1] for line in (await back.frame())["data"]["message"].split("\n")]
    assert replay == ["System: Carol has left the chat", "Alice: missed 1"]
    stale = await connect(b, "Dave", since="0123abcd:1-0")
    assert (await stale.any_frame())["data"] == {"channel": "general", "recovered": False}


async def test_the_first_line_of_a_new_stream_has_a_cursor_that_resumes(nodes: Any, connect: Any) -> None:
    """The very first frame of a new stream carries the stream's epoch, so resuming from it is exact."""
    a = await nodes("a")
    alice = await connect(a, "Alice")
    first = await alice.frame()  # the join line that created the stream
    assert first["data"]["message"].endswith("System: Alice has joined the chat")
    assert first["data"]["start"] == first["data"]["start"].split(":")[0] + ":0-0"
    await alice.chat("next")
    await alice.until_line(lambda line: line.endswith("Alice: next"))
    back = await connect(a, "Bobby", since=first["data"]["cursor"])
    assert (await back.any_frame())["data"] == {"channel": "general", "recovered": True}
    assert [line.split("] ", 1)[1] for line in (await back.frame())["data"]["message"].split("\n")] == ["Alice: next"]


async def test_paging_on_a_stream_walks_back_to_the_first_line(nodes: Any, connect: Any) -> None:
    """history requests on Redis page back from the frame's start to the first entry, then answer no lines."""
    a = await nodes("a", "--history", "2")
    alice = await joined(await connect(a, "Alice"), "Alice")
    for n in range(7):
        await alice.chat(f"line {n}")
    await alice.until_line(lambda line: line.endswith("Alice: line 6"))
    bob = await connect(a, "Bob")
    backlog = await bob.frame()
    before, pages = backlog["data"]["start"], []
    while True:
        await bob.send({"type": "history", "before": before, "limit": 3})
        page = (await bob.event("history"))["data"]
        if not page["message"]:
            break
        pages.insert(0, page["message"].split("\n"))
        before = page["cursor"]
    seen = [line.split("] ", 1)[1] for page in pages for line in page]
    seen += [line.split("] ", 1)[1] for line in backlog["data"]["message"].split("\n")]
    assert seen == ["System: Alice has joined the chat", *(f"Alice: line {n}" for n in range(7))]
    assert [len(page) for page in pages] == [3, 3]


async def test_sigkill_of_a_node_frees_its_handles(nodes: Any, connect: Any) -> None:
    """The other nodes keep serving; a killed node's handles are free within the 15 s bound."""
    a, b = await nodes("a"), await nodes("b")
    await joined(await connect(a, "Alice"), "Alice")
    bob = await joined(await connect(b, "Bob"), "Bob")
    await bob.users_become(["Alice", "Bob"])
    assert a.process is not None
    a.process.send_signal(signal.SIGKILL)
    await a.process.wait()
    await bob.users_become(["Bob"], timeout=25)
    started = time.monotonic()
    while True:
        alice = await connect(b, "Alice")
        first = await alice.any_frame()
        if first.get("success"):
            break
        assert first == {"success": False, "message": protocol.Code.HANDLE_TAKEN.sentence}
        assert time.monotonic() - started < 16
        await asyncio.sleep(0.5)  # the claim itself is what is polled: a dead node's seat frees when its liveness lapses
    await bob.chat("still here")
    await bob.until_line(lambda line: line.endswith("Bob: still here"))


async def test_redis_lost_and_back_while_chatting(nodes: Any, connect: Any, session: Any,
                                                  redis_server: RedisServer) -> None:
    """Sends fail with 'Message not saved' and /healthz is 503 while Redis is down; then lines flow again, none twice."""
    a, b = await nodes("a"), await nodes("b")
    alice = await joined(await connect(a, "Alice"), "Alice")
    bob = await joined(await connect(b, "Bob"), "Bob")
    await alice.chat("before")
    await bob.until_line(lambda line: line.endswith("Alice: before"))
    redis_server.stop()
    await alice.chat("during")
    while (frame := await alice.any_frame())["success"]:
        pass  # lines from before the outage
    assert frame == {"success": False, "message": protocol.Code.NOT_SAVED.sentence}

    async def health() -> int:
        async with session.get(a.url + "/healthz") as response:
            return response.status

    assert await health() == 503
    # Joins and history reads are refused with a sentence that says to come back, not a server error.
    dave = await connect(b, "Dave")
    assert await dave.frame() == {"success": False, "message": protocol.Code.UNAVAILABLE.sentence}
    assert await dave.closed() == (protocol.CLOSE_TRY_AGAIN, protocol.Code.UNAVAILABLE.sentence)
    await bob.send({"type": "history", "before": bob.frames[-1]["data"]["cursor"], "limit": 5})
    while (frame := await bob.any_frame())["success"]:
        pass
    assert frame == {"success": False, "message": protocol.Code.UNAVAILABLE.sentence}
    redis_server.start()
    seen = len(bob.lines)
    await eventually(becomes(lambda: health(), 200), 20)
    await alice.chat("after")
    await bob.until_line(lambda line: line.endswith("Alice: after"), since=seen)
    said = [line.split("] ", 1)[1] for line in bob.lines if "] Alice: " in line]
    assert said == ["Alice: before", "Alice: after"]
    # The node holds its handles again after the empty restart: Alice is still Alice.
    refused = await connect(b, "Alice")
    assert await refused.any_frame() == {"success": False, "message": protocol.Code.HANDLE_TAKEN.sentence}


async def test_a_join_storm_waits_for_pooled_connections(nodes: Any, connect: Any) -> None:
    """300 joins at once on one node (more than its command pool) all get in: claims wait for a connection."""
    a = await nodes("a")
    clients = await asyncio.gather(*(connect(a, f"user{i}") for i in range(300)))
    firsts = await asyncio.gather(*(client.any_frame() for client in clients))
    assert [frame for frame in firsts if not frame["success"]] == []


async def test_mirror_dir_files_match_the_stream(nodes: Any, connect: Any, tmp_path: Path,
                                                 redis_server: RedisServer) -> None:
    """--mirror-dir keeps a greppable copy: exactly the stream's lines, in the usual file."""
    mirror = tmp_path / "mirror"
    a = await nodes("a", "--mirror-dir", str(mirror))
    b = await nodes("b")
    alice = await joined(await connect(a, "Alice"), "Alice")
    bob = await joined(await connect(b, "Bob"), "Bob")
    await bob.chat("one")
    await alice.chat("two")
    await bob.send({"type": "private", "to": "Alice", "message": "psst"})
    await alice.event("private")
    await alice.until_line(lambda line: line.endswith("Alice: two"))
    stream = [fields[b"line"].decode() for _, fields in redis_server.client().xrange("wsserver:channel:general")]
    await eventually(lambda: (mirror / "channel_general.log").read_text().splitlines() == stream)
    private = [fields[b"line"].decode() for _, fields in redis_server.client().xrange("wsserver:private:general")]
    assert (mirror / "private_general.log").read_text().splitlines() == private == [private[0]]
    assert private[0].endswith("Bob -> Alice: psst")


async def test_a_sentinel_failover_is_followed(nodes: Any, connect: Any, redis_server: RedisServer,
                                               tmp_path: Path) -> None:
    """With redis+sentinel://, a node finds the master through Sentinel and follows a failover to the replica."""
    replica_dir = tmp_path / "replica"
    replica_dir.mkdir()
    replica = RedisServer(replica_dir, "--replicaof", "127.0.0.1", str(redis_server.port))
    replica.start()
    sentinel_port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
                    f"sentinel monitor svc 127.0.0.1 {redis_server.port} 1\n"
                    "sentinel down-after-milliseconds svc 1000\nsentinel failover-timeout svc 5000\n")
    assert REDIS is not None
    sentinel = await asyncio.create_subprocess_exec(REDIS, str(conf), "--sentinel", stdout=subprocess.DEVNULL)
    try:
        ask = redis.Redis(port=sentinel_port, decode_responses=True)
        await eventually(becomes(lambda: _sentinel_sees_replica(ask), True), 20)
        await eventually(becomes(lambda: _linked(replica), True), 20)
        a = await nodes("a", store=f"redis+sentinel://127.0.0.1:{sentinel_port}/svc")
        alice = await joined(await connect(a, "Alice"), "Alice")
        bob = await joined(await connect(a, "Bob"), "Bob")
        await alice.chat("before")
        await bob.until_line(lambda line: line.endswith("Alice: before"))

        ask.execute_command("SENTINEL", "FAILOVER", "svc")
        await eventually(becomes(lambda: _master_port(ask), replica.port), 20)
        # Until Sentinel has demoted the old master it still takes writes, which the
        # resync then drops (Redis's own failover window, see docs/operations.md).
        await eventually(becomes(lambda: _role(redis_server), "slave"), 20)

        async def alice_says_after() -> bool:
            await alice.chat("after")
            while (frame := await alice.any_frame())["success"]:
                if frame["data"].get("message", "").endswith("Alice: after"):
                    return True
            assert frame == {"success": False, "message": protocol.Code.NOT_SAVED.sentence}
            return False

        await eventually(becomes(alice_says_after, True), 30)
        await bob.until_line(lambda line: line.endswith("Alice: after"))
        said = [line.split("] ", 1)[1] for line in bob.lines if "] Alice: " in line]
        assert said == ["Alice: before", "Alice: after"]
        stream = [fields[b"line"].decode() for _, fields in replica.client().xrange("wsserver:channel:general")]
        assert stream[-1].endswith("Alice: after")
    finally:
        sentinel.kill()
        await sentinel.wait()
        replica.stop()


async def _sentinel_sees_replica(ask: Any) -> bool:
    return bool(await asyncio.to_thread(ask.execute_command, "SENTINEL", "REPLICAS", "svc"))


async def _linked(replica: RedisServer) -> bool:
    info = await asyncio.to_thread(replica.client().info, "replication")
    return bool(info.get("master_link_status") == "up")


async def _role(server: RedisServer) -> str:
    info = await asyncio.to_thread(server.client().info, "replication")
    return str(info.get("role"))


async def _master_port(ask: Any) -> int:
    address = await asyncio.to_thread(ask.execute_command, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "svc")
    return int(address[1])
