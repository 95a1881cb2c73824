"""GET /metrics: the Prometheus text format with the server's counters."""

from __future__ import annotations

from typing import Any

import aiohttp

from .support import joined


async def scrape(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    async with session.get(url + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


async def test_metrics_count_what_happened(start_server: Any, connect: Any, session: aiohttp.ClientSession) -> None:
    """Connections, accepted and refused messages, refused joins, fan-out, history reads and tail lag."""
    server = await start_server("--rate-limit", "0.01", "--rate-burst", "2")
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await alice.until_line("Bob has joined")
    refused = await connect(server, "Bob")
    await refused.closed()
    await alice.chat("one")
    await bob.until_line("Alice: one")
    await alice.send({"type": "private", "to": "Bob", "message": "psst"})
    await bob.event("private")
    await alice.send("junk")
    while (frame := await alice.frame()).get("success"):
        pass
    assert frame == {"success": False, "message": "Invalid message format"}
    await alice.chat("three")  # the burst of 2 is used up: refused
    while (frame := await alice.frame()).get("success"):
        pass
    assert frame == {"success": False, "message": "Rate limit exceeded"}
    samples = await scrape(session, server.url)
    assert samples['wsserver_connections{channel="general"}'] == 2.0
    assert samples['wsserver_messages_accepted_total{kind="chat"}'] == 1.0
    assert samples['wsserver_messages_accepted_total{kind="private"}'] == 1.0
    assert samples['wsserver_messages_refused_total{reason="invalid_format"}'] == 1.0
    assert samples['wsserver_messages_refused_total{reason="rate_limited"}'] == 1.0
    assert samples['wsserver_joins_refused_total{reason="handle_taken"}'] == 1.0
    assert samples['wsserver_history_reads_total{kind="join"}'] == 2.0
    # Alice's join (1 receiver), Bob's join (2), "one" (2).
    assert samples["wsserver_lines_fanned_out_total"] == 5.0
    assert samples['wsserver_tail_lag_bytes{file="channel_general.log"}'] == 0.0
    assert samples["wsserver_stalled_readers_dropped_total"] == 0.0
