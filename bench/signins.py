"""Workload A, accounts: fifty sign-ins at once beside a chatting channel (``--accounts``).

One server with ``--accounts --sign-up open``. Fifty accounts are made first. Then two signed-in
sockets chat in general, one line every 50 ms from the talker, and the listener measures each
line's latency (sent to received); after a quiet phase of 5 s, fifty sign-ins are sent at once,
each from a browser of its own, while the chat goes on. Printed and saved: the chat's p50, p99 and
max latency in the quiet phase and during the storm (until the last sign-in answered, plus 1 s),
the sign-ins' median and slowest answer, and the server's RSS before, at its peak during the storm
(sampled every 50 ms), and its VmHWM. ``A-tiny`` (five sign-ins) checks that it all works.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
from servers import Server

PASSWORD = "correct horse battery staple"
EVERY = 0.05  # seconds between two chat lines


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024, 1)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 1)


def browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def signed_up(http: str, handle: str) -> aiohttp.ClientSession:
    session = browser()
    async with session.post(http + "/api/accounts", json={"handle": handle, "password": PASSWORD}) as response:
        assert response.status == 201, await response.text()
    return session


async def measure(server: Server, signins: int) -> dict[str, Any]:
    http = server.url.replace("ws://", "http://").removesuffix("/ws")
    for number in range(signins):
        await (await signed_up(http, f"user{number}")).close()
    talker, listener = await signed_up(http, "talker"), await signed_up(http, "listener")
    sent: dict[str, float] = {}
    latencies: list[tuple[float, float]] = []  # (received at, latency ms)
    ws_talk = await talker.ws_connect(server.url + "?channel=general")
    ws_listen = await listener.ws_connect(server.url + "?channel=general")

    async def listen() -> None:
        async for message in ws_listen:
            if message.type != aiohttp.WSMsgType.TEXT:
                return
            data = json.loads(message.data).get("data", {})
            for line in str(data.get("message", "")).split("\n"):
                tag = line.rsplit("talker: tick ", 1)
                if len(tag) == 2 and tag[1] in sent:
                    now = time.monotonic()
                    latencies.append((now, (now - sent.pop(tag[1])) * 1000))

    async def talk(until: asyncio.Event) -> None:
        number = 0
        while not until.is_set():
            sent[str(number)] = time.monotonic()
            await ws_talk.send_str(json.dumps({"type": "chat", "message": f"tick {number}"}))
            number += 1
            await asyncio.sleep(EVERY)

    pid = server.process.pid if server.process is not None else 0
    samples: list[float] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            samples.append(rss_mb(pid))
            time.sleep(0.05)

    stop = asyncio.Event()
    reader = asyncio.ensure_future(listen())
    writer = asyncio.ensure_future(talk(stop))
    await asyncio.sleep(5.0)  # the quiet phase
    quiet = [ms for _, ms in latencies]
    before = rss_mb(pid)
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    storm_start = time.monotonic()

    async def sign_in(number: int) -> float:
        async with browser() as session:
            began = time.monotonic()
            async with session.post(http + "/api/session",
                                    json={"handle": f"user{number}", "password": PASSWORD}) as response:
                assert response.status == 200, await response.text()
            return (time.monotonic() - began) * 1000

    answers = await asyncio.gather(*(sign_in(number) for number in range(signins)))
    storm_end = time.monotonic() + 1.0
    await asyncio.sleep(1.0)
    sampling.set()
    thread.join()
    stop.set()
    await writer
    await ws_talk.close()
    await ws_listen.close()
    await reader
    await talker.close()
    await listener.close()
    during = [ms for at, ms in latencies if storm_start <= at <= storm_end]
    return {
        "server": server.name, "workload": f"A {signins} sign-ins",
        "signins": signins, "signin_p50_ms": round(statistics.median(answers), 1),
        "signin_max_ms": round(max(answers), 1), "storm_s": round(max(answers) / 1000, 2),
        "chat_quiet_p50_ms": percentile(quiet, 50), "chat_quiet_p99_ms": percentile(quiet, 99),
        "chat_storm_p50_ms": percentile(during, 50), "chat_storm_p99_ms": percentile(during, 99),
        "chat_storm_max_ms": percentile(during, 100), "chat_lines_during_storm": len(during),
        "rss_before_mb": before, "rss_storm_peak_mb": max(samples or [before]),
        "vm_hwm_mb": server.peak_rss_mb(),
    }


def run_signins(signins: int = 50) -> dict[str, Any]:
    """Run workload A with ``signins`` sign-ins at once; return its row."""
    server = Server("wsserver", extra=("--accounts", "--sign-up", "open"))
    server.start()
    try:
        return asyncio.run(measure(server, signins))
    finally:
        server.stop()
