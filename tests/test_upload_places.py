"""Shared files across processes and nodes, on a full disk and under a quota, and what check says of them."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from .support import joined, run_cli, two_processes
from .test_uploads import ask, fetch, png_with_text, put, shared


async def _chunked(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start:start + 64 * 1024]


async def test_a_full_disk_refuses_with_507_and_keeps_nothing(start_server: Any, connect: Any,
                                                                full_disk: Path) -> None:
    """Declared too big for the disk, or filling it while streaming (no length declared): 507, no file, no line."""
    server = await start_server("--rate-limit", "0", "--files-dir", str(full_disk))
    alice = await joined(await connect(server, "Alice"), "Alice")
    written = len(server.file_lines("general"))
    body = b"x" * (2 * 1024 * 1024)
    ticket = await ask(alice, "big.bin", len(body))
    assert await put(server, ticket["url"], body) == (507, {"error": "Not enough space to store the file"})
    ticket = await ask(alice, "big.bin", len(body))
    async with aiohttp.ClientSession() as session, \
            session.put(server.url + ticket["url"], data=_chunked(body)) as response:
        assert (response.status, await response.json()) == (507, {"error": "Not enough space to store the file"})
    assert await asyncio.to_thread(lambda: [p for p in full_disk.rglob("*") if p.is_file()]) == [], "no part left"
    assert len(server.file_lines("general")) == written
    answer = await shared(server, alice, "small.txt", b"still works")  # nothing was lost, and room is back
    assert (await fetch(server, answer["url"]))[2] == b"still works"


async def test_the_files_quota_counts_every_file(start_server: Any, connect: Any) -> None:
    """--files-quota 1000: 600 bytes fit, 600 more do not (507)."""
    server = await start_server("--rate-limit", "0", "--files-quota", "1000")
    alice = await joined(await connect(server, "Alice"), "Alice")
    await shared(server, alice, "a.bin", b"a" * 600)
    ticket = await ask(alice, "b.bin", 600)
    assert await put(server, ticket["url"], b"b" * 600) == (507, {"error": "Not enough space to store the file"})


async def _across(first: Any, second: Any, connect: Any) -> None:
    """A ticket asked for on one server is used on the other; both serve the file; the line reaches both."""
    alice = await joined(await connect(first, "Alice"), "Alice")
    bob = await joined(await connect(second, "Bob"), "Bob")
    ticket = await ask(alice, "map.png", 100)
    status, answer = await put(second, ticket["url"], png_with_text())
    assert status == 201, answer
    for client in (alice, bob):
        frame = await client.until_line_frame(f"{answer['url']}")
        assert list(frame["files"].values()) == [answer]
    for server in (first, second):
        status, headers, _ = await fetch(server, answer["url"])
        assert status == 200 and headers["Content-Type"] == "image/png"
    assert (await put(first, ticket["url"], b"again"))[0] == 404, "used once, on every server"


async def test_two_processes_share_uploads(start_server: Any, connect: Any, tmp_path: Path) -> None:
    """Two processes on one data dir."""
    await _across(*await two_processes(start_server, tmp_path / "data"), connect)


async def test_two_redis_nodes_share_uploads(nodes: Any, connect: Any, tmp_path: Path) -> None:
    """Two nodes on one Redis and one files dir (a shared mount)."""
    shared_dir = str(tmp_path / "shared-files")
    await _across(await nodes("a", "--files-dir", shared_dir), await nodes("b", "--files-dir", shared_dir), connect)


async def test_check_reports_a_line_whose_file_is_missing(server: Any, connect: Any) -> None:
    """wsserver check names the line and the file, exit 1; a deleted upload's file is not missing."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    answer = await shared(server, alice, "note.txt", b"hello")
    assert (await run_cli("check", "--data-dir", str(server.data_dir)))[0] == 0
    upload = answer["url"].split("/")[2]
    shutil.rmtree(server.data_dir / "files" / "attachment" / upload)
    status, out, _ = await run_cli("check", "--data-dir", str(server.data_dir))
    assert status == 1
    assert "general: the file of the line of Alice at " in out and f"is missing: {answer['url']}" in out
