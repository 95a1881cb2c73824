"""More than one Redis: a real local Redis Cluster (3 masters, a replica each) and two independent shards.

Two nodes on each layout: lines, handles, history, resume, paging, presence
and typing in channels spread over every master or shard; a master failover
while chatting; ``wsserver check`` on both layouts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from wsserver import protocol
from wsserver.store.redis.keys import Keys, shard_of

from .support import RedisServer, joined, run_cli
from .test_typing import typing_crosses

ROOMS = ["general", *(f"room{i}" for i in range(1, 8))]


@dataclass
class Layout:
    kind: str
    url: str
    servers: list[RedisServer]
    cluster: Any = None

    def holder(self, channel: str) -> int:
        """Return the port of the Redis that holds ``channel``'s stream now."""
        if self.cluster is not None:
            return self.cluster.master_of(Keys(tagged=True).stream(channel)).port
        return self.servers[shard_of(channel, len(self.servers))].port

    def stream(self, channel: str) -> list[str]:
        """Return the lines of ``channel``'s stream as Redis holds them."""
        if self.cluster is not None:
            client: Any = self.cluster.client()
            key = Keys(tagged=True).stream(channel)
        else:
            client = redis.Redis(port=self.holder(channel))
            key = Keys().stream(channel)
        return [fields[b"line"].decode() for _, fields in client.xrange(key)]


@pytest.fixture(params=["cluster", "shards"])
def layout(request: Any, tmp_path: Path) -> Any:
    if request.param == "cluster":
        cluster = request.getfixturevalue("redis_cluster")
        yield Layout("cluster", cluster.url, cluster.servers, cluster)
        return
    request.getfixturevalue("redis_server")  # skips (or fails in CI) without redis-server
    servers = []
    for index in range(2):
        (tmp_path / f"shard{index}").mkdir()
        servers.append(RedisServer(tmp_path / f"shard{index}"))
        servers[-1].start()
    try:
        yield Layout("shards", "redis+shards://" + ",".join(f"127.0.0.1:{s.port}" for s in servers) + "/0", servers)
    finally:
        for server in servers:
            server.stop()


def received(client: Any) -> list[str]:
    return [line.split("] ", 1)[1] for line in client.lines]


async def test_two_nodes_chat_in_channels_spread_over_every_shard(nodes: Any, connect: Any, layout: Layout) -> None:
    """Lines cross nodes in every channel, handles are refused across nodes, presence is shared."""
    a = await nodes("a", "--allow-new-channels", store=layout.url)
    b = await nodes("b", "--allow-new-channels", store=layout.url)
    assert len({layout.holder(room) for room in ROOMS}) >= 2, "the rooms should land on more than one Redis"
    pairs = []
    for room in ROOMS:
        alice = await joined(await connect(a, "Alice", room), "Alice")
        bob = await joined(await connect(b, "Bob", room), "Bob")
        pairs.append((room, alice, bob))
    for room, alice, bob in pairs:
        await alice.chat(f"hello {room}")
        await bob.until_line(f"Alice: hello {room}")
        await bob.chat(f"back in {room}")
        await alice.until_line(f"Bob: back in {room}")
        await alice.users_become(["Alice", "Bob"])
        taken = await connect(b, "ALICE", room)
        assert await taken.frame() == {"success": False, "message": protocol.Code.HANDLE_TAKEN.sentence}
    for room, alice, bob in pairs:
        assert layout.stream(room)[-2:] == [line for line in alice.lines if "hello" in line or "back in" in line]
        assert received(bob).count(f"Alice: hello {room}") == 1


async def test_history_resume_paging_and_typing_across_nodes(nodes: Any, connect: Any, layout: Layout) -> None:
    a = await nodes("a", "--history", "3", "--allow-new-channels", store=layout.url)
    b = await nodes("b", "--history", "3", "--allow-new-channels", store=layout.url)
    for room in ("general", next(r for r in ROOMS if layout.holder(r) != layout.holder("general"))):
        observer = await joined(await connect(b, "Observer", room), "Observer")
        alice = await joined(await connect(a, "Alice", room), "Alice")
        for n in range(6):
            await alice.chat(f"line {n}")
        await observer.until_line("Alice: line 5")
        carol = await connect(b, "Carol", room)
        history = await carol.frame()
        assert [line.split("] ", 1)[1] for line in history["data"]["message"].split("\n")] == [
            "Alice: line 3", "Alice: line 4", "Alice: line 5"]
        # Paging back from the backlog's start to the first line.
        await carol.send({"type": "history", "before": history["data"]["start"], "limit": 10})
        page = (await carol.event("history"))["data"]
        assert [line.split("] ", 1)[1] for line in page["message"].split("\n")] == [
            "System: Observer has joined the chat", "System: Alice has joined the chat",
            "Alice: line 0", "Alice: line 1", "Alice: line 2"]
        cursor = (await carol.frame())["data"]["cursor"]  # Carol's join line
        await carol.ws.close()
        await alice.until_line("System: Carol has left the chat")
        await alice.chat("missed")
        await alice.until_line("Alice: missed")
        back = await connect(a, "Carol", room, since=cursor)
        assert await back.any_frame() == {
            "success": True, "event": "resumed", "data": {"channel": room, "recovered": True}}
        replay = [line.split("] ", 1)[1] for line in (await back.frame())["data"]["message"].split("\n")]
        assert replay == ["System: Carol has left the chat", "Alice: missed"]
    alice = await joined(await connect(a, "Alice2"), "Alice2")
    bob = await joined(await connect(b, "Bob2"), "Bob2")
    await typing_crosses(alice, bob, "Alice2")
    await typing_crosses(bob, alice, "Bob2")


async def test_check_reads_every_shard_and_names_a_stream_on_the_wrong_one(nodes: Any, connect: Any,
                                                                           layout: Layout) -> None:
    a = await nodes("a", "--allow-new-channels", store=layout.url)
    for room in ROOMS:
        alice = await joined(await connect(a, "Alice", room), "Alice")
        await alice.chat(f"in {room}")
        await alice.until_line(f"Alice: in {room}")
    # The other operator commands find each channel where it lives.
    other = next(room for room in ROOMS if layout.holder(room) != layout.holder("general"))
    for room in ("general", other):
        assert await run_cli("say", room, f"notice for {room}", "--store", layout.url) == (0, "", "")
        code, out, err = await run_cli("tail", room, "-n", "2", "--no-follow", "--store", layout.url)
        assert (code, err) == (0, "") and [line[22:] for line in out.splitlines()] == [
            f"Alice: in {room}", f"System: notice for {room}"]
        code, out, err = await run_cli("search", room, "notice", "--store", layout.url)
        assert (code, err) == (0, "") and out.endswith(f"System: notice for {room}\n")
    code, out, err = await run_cli("users", "--store", layout.url)
    assert (code, err) == (0, "") and [line.split("\t")[:2] for line in out.splitlines()] == [
        [room, "Alice"] for room in sorted(ROOMS)]
    status, out, err = await run_cli("check", "--store", layout.url)
    assert (status, err) == (0, "")
    # Per room: the channel stream (a join line and a chat line) and the users hash (Alice);
    # and the two notices.
    assert out.strip().endswith(f"checked {2 * len(ROOMS)} key(s) in Redis at {layout.url}, "
                                f"{3 * len(ROOMS) + 2} line(s): 0 problem(s)"), out
    if layout.kind != "shards":
        return
    # A stream on a shard that is not its channel's (shards reordered): the nodes would not read it.
    stray = next(room for room in ROOMS if layout.holder(room) == layout.servers[0].port)
    redis.Redis(port=layout.servers[1].port).xadd(Keys().stream(stray), {"line": "[2026-11-30 10:00:00] X: y"})
    status, out, err = await run_cli("check", "--store", layout.url)
    assert status == 1
    assert (f"wsserver:channel:{stray}: on shard 1 (redis://127.0.0.1:{layout.servers[1].port}/0) but channel "
            f"'{stray}' belongs to shard 0") in out + err


async def test_a_master_failover_while_chatting(nodes: Any, connect: Any, redis_cluster: Any) -> None:
    """Kill the master of the channel's slot: after the replica takes over, lines flow again, none twice."""
    a = await nodes("a", store=redis_cluster.url)
    b = await nodes("b", store=redis_cluster.url)
    alice = await joined(await connect(a, "Alice"), "Alice")
    bob = await joined(await connect(b, "Bob"), "Bob")
    await alice.chat("before")
    await bob.until_line("Alice: before")
    cursor = bob.frames[-1]["data"]["cursor"]
    redis_cluster.wait_replicated()
    redis_cluster.master_of(Keys(tagged=True).stream("general")).stop()
    # Sends fail ("Message not saved") until the replica is master; then one is taken.
    attempt = 0
    while True:
        attempt += 1
        await alice.chat(f"during {attempt}")
        frame = await alice.frame()
        while frame.get("success") and f"during {attempt}" not in frame["data"]["message"]:
            frame = await alice.frame()  # a line of an earlier attempt that was taken after all
        if frame.get("success"):
            break
        assert frame == {"success": False, "message": protocol.Code.NOT_SAVED.sentence}
        await asyncio.sleep(0.2)  # a person retries a moment later
    await alice.chat("after")
    await bob.until_line("Alice: after")
    redis_cluster.wait_ok()
    stream = [line.split("] ", 1)[1] for line in Layout("cluster", "", [], redis_cluster).stream("general")]
    after_before = stream[stream.index("Alice: before") + 1 :]
    assert after_before[-2:] == [f"Alice: during {attempt}", "Alice: after"]
    # Bob got each line the stream holds once, in its order.
    assert received(bob)[received(bob).index("Alice: before") + 1 :] == after_before
    # Resume from before the failover: the line was replicated, so recovered and exact.
    carol = await connect(a, "Carol", since=cursor)
    assert (await carol.any_frame())["data"] == {"channel": "general", "recovered": True}
    await carol.until_line("Alice: after")
    assert received(carol)[: len(after_before)] == after_before
