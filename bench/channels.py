"""Workload C, many channels on two nodes: Redis connections, and a line crossing nodes in every channel.

Two wsserver nodes share one Redis (``--allow-new-channels``); for each of N channels one client
joins on each node. Measured: the Redis connections of the two nodes (``CLIENT LIST``, by the
names the nodes give their connections), then one line sent in every channel at once on the
first node and received on the second: how many arrived, and the time from the send to the
last arrival. ``C1k`` and ``C10k`` (1,000 and 10,000 channels); ``C-tiny`` (20) runs in the suite.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any

import aiohttp

from run import Server

CONCURRENCY = 50  # sockets being opened at once


async def _open(session: aiohttp.ClientSession, url: str, gate: asyncio.Semaphore) -> Any:
    async with gate:
        ws = await session.ws_connect(url, max_msg_size=0)
        async for message in ws:  # the first frame that is not a refusal: the join was accepted
            frame = json.loads(message.data)
            if frame.get("success") is False:
                raise RuntimeError(f"refused: {frame['message']} ({url})")
            return ws
        raise RuntimeError(f"closed before joining: {url}")


async def _drain(ws: Any, wanted: str | None, arrived: list[float]) -> None:
    """Read the socket until it closes (a socket nobody reads misses the server's pings and is dropped)."""
    async for message in ws:
        if wanted is not None and wanted in message.data:
            arrived.append(time.perf_counter())
            wanted = None


async def _measure(server: Server, channels: int) -> dict[str, Any]:
    assert server.redis is not None
    first, second = (url.replace("/ws", "") for url in server.urls)
    gate = asyncio.Semaphore(CONCURRENCY)
    arrived: list[float] = []
    readers: list[asyncio.Task[None]] = []

    async def join(url: str, wanted: str | None) -> Any:
        ws = await _open(session, url, gate)
        readers.append(asyncio.create_task(_drain(ws, wanted, arrived)))
        return ws

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        began = time.perf_counter()
        senders = await asyncio.gather(*(join(f"{first}/ws?channel=c{i}&handle=ua{i}", None)
                                         for i in range(channels)))
        receivers = await asyncio.gather(*(join(f"{second}/ws?channel=c{i}&handle=ub{i}", f"ua{i}: crossing {i}")
                                           for i in range(channels)))
        joined_s = time.perf_counter() - began
        from redis import Redis as Client

        client = Client(port=server.redis.port)
        names = [entry.get("name", "") for entry in client.client_list()]
        ours = sum(1 for name in names if name.startswith("wsserver-"))
        client.close()
        sent = time.perf_counter()
        await asyncio.gather(*(ws.send_str(json.dumps({"type": "chat", "message": f"crossing {i}"}))
                               for i, ws in enumerate(senders)))
        deadline = sent + 30
        while len(arrived) < channels and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        delays = sorted(t - sent for t in arrived)
        for ws in (*senders, *receivers):
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)
    return {
        "server": "wsserver redis x2", "workload": f"C {channels} channels", "channels": channels,
        "sockets": 2 * channels, "join_s": round(joined_s, 2), "redis_connections": ours,
        "redis_clients_total": len(names) - 1, "lines_sent": channels, "lines_crossed": len(arrived),
        "last_crossed_s": round(delays[-1], 3) if delays else None,
        "median_crossed_s": round(statistics.median(delays), 3) if delays else None,
    }


def run_channels(channels: int) -> dict[str, Any]:
    """Run C with ``channels`` channels on two nodes sharing one Redis; return its row."""
    server = Server("wsserver", nodes=2, extra=("--allow-new-channels", "--max-channels", str(channels + 10),
                                                "--history", "0"))
    server.start()
    try:
        return asyncio.run(_measure(server, channels))
    finally:
        server.stop()


if __name__ == "__main__":
    print(json.dumps(run_channels(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)))
