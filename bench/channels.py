"""Workload C, many channels on two nodes: Redis connections, and a line crossing nodes in every channel.

Two wsserver nodes share one Redis (``--allow-new-channels``); for each of N channels one client
joins on each node. Measured: the Redis connections of the two nodes (``CLIENT LIST``, by the
names the nodes give their connections), then one line sent in every channel at once on the
first node and received on the second: how many arrived, and the time from the send to the
last arrival. ``C1k`` and ``C10k`` (1,000 and 10,000 channels); ``C-tiny`` (20) runs in the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import statistics
import sys
import time
from typing import Any

import aiohttp
from servers import Server

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


async def _drain(ws: Any, wanted: str | None, arrived: list[float], expected: int, all_in: asyncio.Event) -> None:
    """Read the socket until it closes (a socket nobody reads misses the server's pings and is dropped)."""
    async for message in ws:
        if wanted is not None and wanted in message.data:
            arrived.append(time.time())  # wall clock: the sender is another process
            wanted = None
            if len(arrived) >= expected:
                all_in.set()


async def _side(role: str, base: str, channels: int, conn: Any) -> None:
    """One side in a process of its own (20,000 sockets do not fit one process's descriptors here).

    ``senders`` join ``ua<i>`` in every channel and, told ``go``, send one line in each and report
    when (wall clock); ``receivers`` join ``ub<i>`` and report when each line arrived.
    """
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONCURRENCY)
    arrived: list[float] = []
    all_in = asyncio.Event()  # every line arrived on this side
    readers: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def join(i: int) -> Any:
            handle = ("ua" if role == "senders" else "ub") + str(i)
            ws = await _open(session, f"{base}/ws?channel=c{i}&handle={handle}", gate)
            wanted = None if role == "senders" else f"ua{i}: crossing {i}"
            readers.append(asyncio.create_task(_drain(ws, wanted, arrived, channels, all_in)))
            return ws

        sockets = await asyncio.gather(*(join(i) for i in range(channels)))
        conn.send("joined")
        await loop.run_in_executor(None, conn.recv)  # go
        if role == "senders":
            sent = time.time()
            await asyncio.gather(*(ws.send_str(json.dumps({"type": "chat", "message": f"crossing {i}"}))
                                   for i, ws in enumerate(sockets)))
            conn.send(sent)
        else:
            with contextlib.suppress(TimeoutError):  # what did not arrive in 30 s is reported as lost
                await asyncio.wait_for(all_in.wait(), 30)
            conn.send(arrived)
        await loop.run_in_executor(None, conn.recv)  # close
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)


def _run_side(role: str, base: str, channels: int, conn: Any) -> None:
    asyncio.run(_side(role, base, channels, conn))


def _measure(server: Server, channels: int) -> dict[str, Any]:
    assert server.redis is not None
    first, second = (url.replace("/ws", "") for url in server.urls)
    context = multiprocessing.get_context("spawn")
    sides = {}
    began = time.perf_counter()
    for role, base in (("senders", first), ("receivers", second)):
        parent, child = context.Pipe()
        process = context.Process(target=_run_side, args=(role, base, channels, child), daemon=True)
        process.start()
        if not parent.poll(600):
            raise RuntimeError(f"the {role} did not join in 10 minutes")
        parent.recv()
        sides[role] = (process, parent)
    joined_s = time.perf_counter() - began
    from redis import Redis as Client

    client = Client(port=server.redis.port)
    names = [entry.get("name", "") for entry in client.client_list()]
    ours = sum(1 for name in names if name.startswith("wsserver-"))
    client.close()
    sides["receivers"][1].send("go")
    sides["senders"][1].send("go")
    sent = sides["senders"][1].recv()
    arrived = sides["receivers"][1].recv()
    for process, pipe in sides.values():
        pipe.send("close")
        process.join(60)
    delays = sorted(t - sent for t in arrived)
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
        return _measure(server, channels)
    finally:
        server.stop()


if __name__ == "__main__":
    print(json.dumps(run_channels(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)))
