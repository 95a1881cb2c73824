"""A node's Redis connections do not grow with its channels; lines still cross nodes in every channel."""

from __future__ import annotations

import asyncio
from typing import Any

from wsserver.store.redis.link import POOL_SIZE

from .support import joined


def connections(redis_server: Any) -> int:
    """Clients connected to the test's Redis, not counting the one asking."""
    return len(redis_server.client().client_list()) - 1


async def test_connections_stay_constant_while_500_channels_are_created(
    nodes: Any, connect: Any, redis_server: Any, session: Any
) -> None:
    a = await nodes("a", "--allow-new-channels")
    b = await nodes("b", "--allow-new-channels")
    first = [await joined(await connect(a, "Alice", f"room{i}"), "Alice") for i in range(5)]
    await first[-1].chat("warm up")  # the command pools have connections now
    await first[-1].until_line("Alice: warm up")
    before = connections(redis_server)
    listeners = []
    for i in range(5, 500):
        alice = await connect(a, "Alice", f"room{i}")
        bob = await connect(b, "Bob", f"room{i}")
        listeners.append((i, alice, bob))
    for i, alice, bob in listeners[-50:]:
        await joined(bob, "Bob")
        await alice.chat(f"hello room{i}")
    await asyncio.gather(*(bob.until_line(f"Alice: hello room{i}") for i, _alice, bob in listeners[-50:]))
    after = connections(redis_server)
    # Per node: the command pool (at most POOL_SIZE), the streams' doorbells and their reader, one
    # follower of the moderation log, one events subscriber. Before: two a channel, 2,000 here.
    assert before <= after <= 2 * (POOL_SIZE + 4), (before, after)
    # The operator sees the same on /metrics.
    total = 0.0
    for node in (a, b):
        async with session.get(node.url + "/metrics") as response:
            text = await response.text()
        gauges = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("wsserver_redis_"))
        assert gauges["wsserver_redis_reader_connections"] == "2.0"
        assert 4 <= float(gauges["wsserver_redis_connections"]) <= POOL_SIZE + 4
        assert float(gauges["wsserver_redis_reader_lag_seconds"]) < 5
        total += float(gauges["wsserver_redis_connections"])
    assert total == connections(redis_server)


def hgetall_calls(redis_server: Any) -> int:
    stats = redis_server.client().info("commandstats")
    return int(stats.get("cmdstat_hgetall", {}).get("calls", 0))


async def test_a_join_re_reads_the_users_of_its_channel_only(nodes: Any, connect: Any, redis_server: Any) -> None:
    """Presence after a join on another node costs a few HGETALLs, not one per channel of the node."""
    a = await nodes("a", "--allow-new-channels")
    b = await nodes("b", "--allow-new-channels")
    for i in range(300):
        await joined(await connect(a, "Alice", f"room{i}"), "Alice")
    watcher = await joined(await connect(a, "Watcher"), "Watcher")
    await watcher.users_become(["Watcher"])
    before = hgetall_calls(redis_server)
    await joined(await connect(b, "Bob"), "Bob")
    await watcher.users_become(["Bob", "Watcher"])  # node a learnt it from node b's change
    # Was at least 300 (node a read every channel); now Bob's channel, and the rooms that joined
    # since node a's last look at users-version (half a second of the joins above: about 30).
    assert hgetall_calls(redis_server) - before < 100
