"""Workload SA, search every channel: 1 GiB of logs in 100 channels (generated), searched through GET /api/search.

Measured side by side in one run on the same files (in the page cache: they were just written):
a word in 10 lines of 10 channels (every log scanned to its start, following ``next`` while an
answer is ``partial``) against ``grep -rF`` of GNU grep over the same directory (a case-sensitive
fixed string: grep's fastest path; the server's search ignores case), before and after the
server's rounds; and the first page (50 hits) of a word in the last lines of every channel.
``SA-tiny`` (100 channels of 20 KB) checks the answers only.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from search import HANDLES, START, WORDS, first_page, median_ms, pages, stamp
from servers import REPO, Server

RARE = "zanzibar"  # in 10 lines: one in each of 10 channels, at different depths
COMMON = "deploy"  # in every 10th line of the last 2,000 lines of every channel
CHANNELS = 100


def generate(data: Path, size: int, channels: int = CHANNELS) -> dict[str, Any]:
    """Write ``channels`` logs of about ``size`` bytes in all; return the line count and what was planted."""
    rng = random.Random(35)
    bodies = [" ".join(rng.choices(WORDS, k=rng.randint(6, 22))) for _ in range(20_000)]
    average = 22 + 8 + sum(len(b) for b in bodies) / len(bodies) + 1
    per_channel = int(size / channels / average)
    rare_channels = {channels * k // 10 + 3: k for k in range(10)}  # channel -> how deep (tenths of the log)
    lines = 0
    for c in range(channels):
        rare_at = per_channel * (rare_channels[c] * 2 + 1) // 20 if c in rare_channels else -1
        chunk = []
        with (data / f"channel_c{c:03d}.log").open("w", encoding="utf-8") as out:
            for i in range(per_channel):
                body = bodies[(i * 7919 + c * 104_729) % len(bodies)]
                if i == rare_at:
                    body = f"{body} {RARE} is where the old backups went"
                elif i >= per_channel - 2000 and i % 10 == 0:
                    body = f"{body} {COMMON}"
                second = START + i * (40 * 24 * 3600) // max(per_channel, 1)  # 40 days in each channel
                chunk.append(f"[{stamp(second)}] {HANDLES[(i + c) % len(HANDLES)]}: {body}\n")
                if len(chunk) == 50_000:
                    out.write("".join(chunk))
                    chunk = []
            out.write("".join(chunk))
        lines += per_channel
    return {"lines": lines, "bytes": sum(p.stat().st_size for p in data.glob("channel_*.log"))}


async def follow(session: aiohttp.ClientSession, url: str, query: str) -> tuple[list[tuple[str, str]], int, int]:
    """Follow ``next`` to the end; return (channel, line) of every hit, the requests, and the partial answers."""
    answers = [body async for body in pages(session, url, query)]
    found = [(result["channel"], result["line"]) for body in answers for result in body["results"]]
    return found, len(answers), sum(bool(body["partial"]) for body in answers)


async def measure(server: Server, rounds: int) -> dict[str, Any]:
    url = f"http://127.0.0.1:{server.port}/api/search"
    row: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        body, row["common_first_page_ms"] = await first_page(session, url, COMMON, rounds)
        stamps = [result["line"][1:20] for result in body["results"]]
        row["common_hits"] = len(body["results"])
        row["common_channels"] = len({result["channel"] for result in body["results"]})
        row["common_newest_first"] = stamps == sorted(stamps, reverse=True)
        times, found, requests, partial = [], [], 0, 0
        for _ in range(rounds):
            began = time.perf_counter()
            found, requests, partial = await follow(session, url, RARE)
            times.append(time.perf_counter() - began)
        row["rare_hits"] = len(found)
        row["rare_channels"] = len({channel for channel, _ in found})
        row["rare_requests"] = requests
        row["rare_partial_answers"] = partial
        row["rare_scan_ms"] = median_ms(times)
    return row


def grep_ms(data: Path, rounds: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(rounds):
        began = time.perf_counter()
        done = subprocess.run(["grep", "-rF", RARE, str(data)], capture_output=True, text=True)
        times.append(time.perf_counter() - began)
        count = len(done.stdout.splitlines())
    return median_ms(times), count


def run_search_channels(size: int = 1 << 30, rounds: int = 5) -> dict[str, Any]:
    """Run SA on ``size`` bytes of logs in 100 channels; return its row."""
    names = ",".join(f"c{c:03d}" for c in range(CHANNELS))
    server = Server("wsserver", extra=("--history", "0", "--channels", names))
    server.data.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    info = generate(server.data, size)
    generated = time.perf_counter() - began
    server.start()
    try:
        row: dict[str, Any] = {"server": "wsserver", "workload": "SA search every channel", "channels": CHANNELS,
                               "log_bytes": info["bytes"], "log_lines": info["lines"],
                               "generate_s": round(generated, 1)}
        grep_first, grep_count = grep_ms(server.data, rounds)
        row.update(asyncio.run(measure(server, rounds)))
        grep_after, _ = grep_ms(server.data, rounds)
        row["grep_ms"] = round(statistics.median([grep_first, grep_after]), 1)
        row["grep_count"] = grep_count
        row["rare_vs_grep"] = round(row["rare_scan_ms"] / row["grep_ms"], 2) if row["grep_ms"] else None
        return row
    finally:
        server.stop()
        for path in server.data.glob("channel_*.log"):
            path.unlink()


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "bench"))
    print(json.dumps(run_search_channels(int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 30)))
