"""Workload S, search: a channel log of 1 GiB (generated), searched through the HTTP API and jumped into.

Measured side by side in one run on the same file (in the page cache: it was just written):
the first page (50 hits) of a common word that only the last 1% of the log holds; a word that
appears once, near the start (the whole file is scanned, following ``next`` while an answer is
``partial``) against ``grep -c -i`` of GNU grep, and a phrase of common letters in the same line
(no rare byte to look for: every block is lower-cased); ``at`` a time in the middle of the log (a history
request on the socket); the server's RSS growth during the scans; /healthz answering while a scan
runs; and two identical scans at once (they share one). ``S-tiny`` (2 MB) checks the answers only.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from servers import REPO, Server

RARE = "zanzibar"  # once, near the start
RARE_PLAIN = "the old backups went"  # in the same line: a phrase of common letters only (the slow path)
COMMON = "deploy"  # in every 20th line of the last 1 % only
WORDS = ("the a to and of is in it that for on we with this be at not you are have but so was what just can do "
         "me my if about all up out when there one get like time no he she they know good now see think "
         "people make go back new work day then well how our lunch meeting code review test build server "
         "ship fix bug release coffee later thanks yes maybe tomorrow today week log file grep tail chat").split()
HANDLES = [f"{name}{i}" for name in ("alice", "bob", "carol", "dave", "erin", "frank") for i in range(40)]
START = 1_767_225_600  # 2026-01-01 00:00:00 UTC


def stamp(second: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))


def generate(path: Path, size: int) -> dict[str, Any]:
    """Write a log of about ``size`` bytes; return its line count and the stamps to look for."""
    rng = random.Random(14)
    bodies = [" ".join(rng.choices(WORDS, k=rng.randint(6, 22))) for _ in range(20_000)]
    average = 22 + 8 + sum(len(b) for b in bodies) / len(bodies) + 1
    count = int(size / average)
    spacing = max(1, (40 * 24 * 3600) // max(count, 1))  # 40 days of lines; several a second when large
    per_second = max(1, count // (40 * 24 * 3600) + 1)
    last_percent = count - count // 100
    with path.open("w", encoding="utf-8") as out:
        chunk = []
        for i in range(count):
            second = START + (i // per_second) * (spacing if per_second == 1 else 1)
            body = bodies[(i * 7919) % len(bodies)]
            if i == count // 200:
                body = f"{body} {RARE.capitalize()} is where the old backups went"
            elif i >= last_percent and i % 20 == 0:
                body = f"{body} {COMMON}"
            chunk.append(f"[{stamp(second)}] {HANDLES[i % len(HANDLES)]}: {body}\n")
            if len(chunk) == 50_000:
                out.write("".join(chunk))
                chunk = []
        out.write("".join(chunk))
    middle = START + (count // 2 // per_second) * (spacing if per_second == 1 else 1)
    planted = sum(1 for i in range(last_percent, count) if i % 20 == 0)
    return {"lines": count, "middle": stamp(middle), "bytes": path.stat().st_size, "common_planted": planted}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """Sample the server's RSS every 20 ms in a thread; keep the largest."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def pages(session: aiohttp.ClientSession, url: str, query: str) -> AsyncIterator[dict[str, Any]]:
    """Yield each answer of a search (pages of 50), following ``next`` to the end."""
    before = None
    while True:
        params = {"q": query, "limit": "50", **({"before": before} if before else {})}
        async with session.get(url, params=params) as response:
            body = await response.json()
            assert response.status == 200, body
        yield body
        before = body["next"]
        if before is None:
            return


async def first_page(session: aiohttp.ClientSession, url: str, query: str, rounds: int) -> tuple[dict[str, Any], float]:
    """Ask for the first page of ``query`` ``rounds`` times; return the last answer and the median in ms."""
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        async with session.get(url, params={"q": query, "limit": "50"}) as response:
            body = await response.json()
        times.append(time.perf_counter() - began)
    return body, median_ms(times)


async def search_all(session: aiohttp.ClientSession, url: str, query: str) -> tuple[list[str], int]:
    """Follow ``next`` to the start of the log; return the lines found and the requests made."""
    answers = [body async for body in pages(session, url, query)]
    return [result["line"] for body in answers for result in body["results"]], len(answers)


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


async def measure(server: Server, info: dict[str, Any], rounds: int) -> dict[str, Any]:
    url = f"http://127.0.0.1:{server.port}/api/channels/general/search"
    row: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        assert server.process is not None
        pid = server.process.pid
        before_rss = rss_mb(pid)
        with Sampler(pid) as sampler:
            body, row["common_first_page_ms"] = await first_page(session, url, COMMON, rounds)
            row["common_hits"] = len(body["results"])

            health: list[float] = []
            stop = asyncio.Event()

            async def probe() -> None:
                while not stop.is_set():
                    began = time.perf_counter()
                    async with session.get(f"http://127.0.0.1:{server.port}/healthz") as response:
                        await response.read()
                    health.append(time.perf_counter() - began)
                    await asyncio.sleep(0.05)

            prober = asyncio.create_task(probe())  # /healthz every 50 ms while the whole-file scans run
            for query, key in ((RARE, "rare"), (RARE_PLAIN, "rare_plain")):
                times = []
                for _ in range(rounds):
                    began = time.perf_counter()
                    found, requests = await search_all(session, url, query)
                    times.append(time.perf_counter() - began)
                row[f"{key}_hits"] = len(found)
                row[f"{key}_requests"] = requests
                row[f"{key}_scan_ms"] = median_ms(times)
            stop.set()
            await prober
            row["healthz_during_scans_max_ms"] = round(max(health) * 1000, 1) if health else None
            row["healthz_during_scans_median_ms"] = median_ms(health) if health else None

            began = time.perf_counter()
            pair = await asyncio.gather(search_all(session, url, RARE_PLAIN), search_all(session, url, RARE_PLAIN))
            row["two_identical_plain_scans_at_once_ms"] = round((time.perf_counter() - began) * 1000, 1)
            assert pair[0][0] == pair[1][0] and len(pair[0][0]) == 1
        row["rss_before_mb"] = round(before_rss, 1)
        row["rss_growth_mb"] = round(sampler.peak - before_rss, 1)

        async with session.ws_connect(f"ws://127.0.0.1:{server.port}/ws?channel=general&handle=Bench") as ws:
            async for message in ws:  # the backlog and the join line, then ask
                if "has joined the chat" in message.data:
                    break
            times = []
            for _ in range(rounds):
                began = time.perf_counter()
                await ws.send_str(json.dumps({"type": "history", "at": info["middle"], "limit": 50}))
                async for message in ws:
                    frame = json.loads(message.data)
                    if frame.get("event") == "history":
                        break
                times.append(time.perf_counter() - began)
            marked = frame["data"]["message"].split("\n")[frame["data"]["mark"]]
            row["at_ms"] = median_ms(times)
            row["at_found"] = marked[1:20] == info["middle"] and (
                frame["data"]["start"] != frame["data"]["end"])
    return row


def grep_ms(path: Path, rounds: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(rounds):
        began = time.perf_counter()
        done = subprocess.run(["grep", "-c", "-i", RARE, str(path)], capture_output=True, text=True)
        times.append(time.perf_counter() - began)
        count = int(done.stdout.strip() or 0)
    return median_ms(times), count


def run_search(size: int = 1 << 30, rounds: int = 5) -> dict[str, Any]:
    """Run S on a generated log of ``size`` bytes; return its row."""
    server = Server("wsserver", extra=("--history", "0"))
    server.data.mkdir(parents=True, exist_ok=True)
    path = server.data / "channel_general.log"
    began = time.perf_counter()
    info = generate(path, size)
    generated = time.perf_counter() - began
    server.start()
    try:
        row: dict[str, Any] = {"server": "wsserver", "workload": "S search", "log_bytes": info["bytes"],
                               "log_lines": info["lines"], "common_planted": info["common_planted"],
                               "generate_s": round(generated, 1)}
        grep_first, grep_count = grep_ms(path, rounds)
        row.update(asyncio.run(measure(server, info, rounds)))
        grep_after, _ = grep_ms(path, rounds)
        row["grep_ms"] = round(statistics.median([grep_first, grep_after]), 1)
        row["grep_count"] = grep_count
        row["rare_vs_grep"] = round(row["rare_scan_ms"] / row["grep_ms"], 2) if row["grep_ms"] else None
        row["rare_plain_vs_grep"] = round(row["rare_plain_scan_ms"] / row["grep_ms"], 2) if row["grep_ms"] else None
        return row
    finally:
        server.stop()
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "bench"))
    print(json.dumps(run_search(int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 30)))
