"""Workload I, the IRC door: 1,000 IRC connections and 1,000 web sockets in one channel (issue 34).

Two phases in one run, each on a fresh server with ``--irc-port``: *mixed*, where N web sockets and
N IRC connections sit in general; and *web only*, where 2N web sockets do. In each, one more web
socket says a line every 100 ms for 10 s, and every receiver notes when each line reached it.
Printed and saved: the p50 and p99 of a line's latency to the web receivers and to the IRC receivers
(mixed), and to the web receivers (web only), with the ratio of the IRC p99 to the web-only p99
(the goal: within 1.5 x). ``I-tiny`` (20 + 20) checks that it all works.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import aiohttp
from servers import Server, free_port

EVERY = 0.1  # seconds between two lines
SECONDS = 10.0  # how long the talker talks
TICK = re.compile(r"talker: tick (\d+)")
IRC_TICK = re.compile(rb"^(?:@\S+ )?:talker!\S+ PRIVMSG #general :?tick (\d+)")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 1)


async def web_receiver(session: aiohttp.ClientSession, url: str, handle: str, sent: dict[int, float],
                       got: list[float], ready: asyncio.Event, done: asyncio.Event) -> None:
    async with session.ws_connect(f"{url}?channel=general&handle={handle}") as ws:
        ready.set()
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                return
            if "tick" not in message.data:
                continue
            now = time.monotonic()
            for number in TICK.findall(json.loads(message.data).get("data", {}).get("message", "")):
                if int(number) in sent:
                    got.append((now - sent[int(number)]) * 1000)
            if done.is_set():
                return


async def irc_receiver(port: int, nick: str, sent: dict[int, float], got: list[float], ready: asyncio.Event,
                       done: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(f"NICK {nick}\r\nUSER b 0 * :bench\r\nJOIN #general\r\n".encode())
    joined = False
    while not done.is_set():
        raw = await reader.readline()
        if not raw:
            return
        if not joined and b" 366 " in raw:
            joined = True
            ready.set()
            continue
        if raw.startswith(b"PING"):
            writer.write(b"PONG" + raw[4:])
            continue
        match = IRC_TICK.match(raw)
        if match is not None and int(match.group(1)) in sent:
            got.append((time.monotonic() - sent[int(match.group(1))]) * 1000)
    writer.close()


async def phase(server: Server, irc_port: int, web: int, irc: int) -> dict[str, list[float]]:
    sent: dict[int, float] = {}
    web_got: list[float] = []
    irc_got: list[float] = []
    done = asyncio.Event()
    tasks = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        for number in range(web):
            ready = asyncio.Event()
            tasks.append(asyncio.ensure_future(
                web_receiver(session, server.url, f"web{number}", sent, web_got, ready, done)))
            await ready.wait()
        for number in range(irc):
            ready = asyncio.Event()
            tasks.append(asyncio.ensure_future(irc_receiver(irc_port, f"irc{number}", sent, irc_got, ready, done)))
            await ready.wait()
        async with session.ws_connect(f"{server.url}?channel=general&handle=talker") as talker:
            await asyncio.sleep(1.0)  # the joins' lines have gone by
            web_got.clear()
            irc_got.clear()
            number = 0
            end = time.monotonic() + SECONDS
            while time.monotonic() < end:
                sent[number] = time.monotonic()
                await talker.send_str(json.dumps({"type": "chat", "message": f"tick {number}"}))
                number += 1
                await asyncio.sleep(EVERY)
            await asyncio.sleep(2.0)  # the last lines arrive
        done.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"web": web_got, "irc": irc_got}


def run_irc(connections: int = 1000) -> dict[str, Any]:
    """Run workload I with ``connections`` IRC and as many web receivers (and 2 x that, web only); return its row."""
    rows: dict[str, dict[str, list[float]]] = {}
    for name, web, irc in (("mixed", connections, connections), ("web only", 2 * connections, 0)):
        port = free_port()
        server = Server("wsserver", extra=("--irc-port", str(port), "--max-connections-per-ip", "0"))
        server.start()
        try:
            rows[name] = asyncio.run(phase(server, port, web, irc))
        finally:
            server.stop()
    mixed, alone = rows["mixed"], rows["web only"]
    irc_p99, web_only_p99 = percentile(mixed["irc"], 99), percentile(alone["web"], 99)
    return {
        "server": "wsserver", "workload": f"I {connections} IRC + {connections} web",
        "mixed_web_p50_ms": percentile(mixed["web"], 50), "mixed_web_p99_ms": percentile(mixed["web"], 99),
        "mixed_irc_p50_ms": percentile(mixed["irc"], 50), "mixed_irc_p99_ms": irc_p99,
        "web_only_p50_ms": percentile(alone["web"], 50), "web_only_p99_ms": web_only_p99,
        "irc_p99_over_web_only_p99": round(irc_p99 / web_only_p99, 2) if web_only_p99 else None,
        "deliveries": {"mixed_web": len(mixed["web"]), "mixed_irc": len(mixed["irc"]), "web_only": len(alone["web"])},
    }
