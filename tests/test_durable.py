"""--fsync: when an append is on the disk before its ok (group commit for batch)."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from wsserver.store.base import AppendError
from wsserver.store.files import durable
from wsserver.store.files.durable import Flusher

from .support import joined
from .support.cli import run_cli


def counting(monkeypatch: Any) -> list[tuple[int, float]]:
    """Replace os.fdatasync with one that records (fd, when)."""
    calls: list[tuple[int, float]] = []

    def fdatasync(fd: int) -> None:
        calls.append((fd, time.monotonic()))

    monkeypatch.setattr(durable.os, "fdatasync", fdatasync)
    return calls


async def flush_rounds(server: Any) -> float:
    """The server's flush rounds so far, from /metrics."""
    async with aiohttp.ClientSession() as session, session.get(server.url + "/metrics") as response:
        text = await response.text()
    found = re.search(r'^wsserver_log_flushes_total\{result="done"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def flushed(flusher: Flusher, fd: int) -> None:
    """Write-and-wait as an explicit ok does: mark ``fd`` written, then wait for the round that covers it."""
    await flusher.appended(fd)
    await flusher.settled()


def opened(tmp_path: Path, name: str) -> int:
    return os.open(tmp_path / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


async def test_batch_flushes_the_appends_of_an_interval_once(monkeypatch: Any, tmp_path: Path) -> None:
    calls = counting(monkeypatch)
    flusher = Flusher("batch", interval=0.05)
    first, second = opened(tmp_path, "a.log"), opened(tmp_path, "b.log")
    await asyncio.gather(*(flushed(flusher, fd) for fd in [first] * 20 + [second] * 5))
    assert flusher.rounds == 1 and sorted(fd for fd, _ in calls) == sorted([first, second])
    await flushed(flusher, first)  # the next round: not sooner than the interval after the first
    assert flusher.rounds == 2 and calls[-1][1] - calls[0][1] >= 0.045


async def test_an_append_during_a_flush_waits_for_the_next_one(monkeypatch: Any, tmp_path: Path) -> None:
    """A write made while a round is flushing may not be covered by it: its ok waits for the next round."""
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def fdatasync(fd: int) -> None:
        calls.append(fd)
        started.set()
        release.wait(10)

    monkeypatch.setattr(durable.os, "fdatasync", fdatasync)
    flusher = Flusher("batch", interval=0.0)
    fd = opened(tmp_path, "a.log")
    early = asyncio.create_task(flushed(flusher, fd))
    assert await asyncio.to_thread(started.wait, 10)  # the first round is in its fdatasync
    late = asyncio.create_task(flushed(flusher, fd))
    await asyncio.sleep(0)  # one turn of the loop: the late append is made (not a wait on time)
    release.set()
    await early
    await late
    assert flusher.rounds == 2 and calls == [fd, fd]


@pytest.mark.parametrize(("mode", "expected"), [("always", 3), ("off", 0)])
async def test_always_flushes_each_append_and_off_none(monkeypatch: Any, tmp_path: Path, mode: str,
                                                       expected: int) -> None:
    calls = counting(monkeypatch)
    flusher = Flusher(mode)
    fd = opened(tmp_path, "a.log")
    for _ in range(3):
        await flusher.appended(fd)
    assert len(calls) == expected


async def test_batch_appends_do_not_wait_and_a_round_follows_within_the_interval(monkeypatch: Any,
                                                                                tmp_path: Path) -> None:
    """An append under batch returns at once (a socket's next frame is not held up); the round comes after."""
    calls = counting(monkeypatch)
    flusher = Flusher("batch", interval=0.05)
    fd = opened(tmp_path, "a.log")
    for _ in range(100):
        await flusher.appended(fd)
    assert calls == [] and flusher.rounds == 0  # no append waited: the round is scheduled, not run
    await flusher.settled()
    assert [called for called, _ in calls] == [fd] and flusher.rounds == 1
    await flusher.settled()  # nothing written since: nothing to wait for
    assert flusher.rounds == 1


async def test_a_failed_flush_is_logged_and_fails_the_explicit_ok(monkeypatch: Any, tmp_path: Path,
                                                                  caplog: Any) -> None:
    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(durable.os, "fdatasync", broken)
    fd = opened(tmp_path, "a.log")
    always = Flusher("always")
    await always.appended(fd)  # written and delivered already: logged, counted, not raised
    assert always.failures == 1
    batch = Flusher("batch")
    await batch.appended(fd)
    with pytest.raises(AppendError, match="flushing to disk failed: Input/output error"):
        await batch.settled()
    assert batch.failures == 1
    assert "flushing the logs to disk failed: Input/output error" in caplog.text


@pytest.mark.parametrize("mode", ["always", "batch", "off"])
async def test_each_mode_serves_the_chat(start_server: Any, connect: Any, mode: str) -> None:
    """A burst from one socket is not held to the flush rounds (200 lines well within a round's pace)."""
    server = await start_server("--fsync", mode, "--rate-limit", "0")
    alice = await joined(await connect(server, "Alice"), "Alice")
    for i in range(200):
        await alice.chat(f"kept with {mode} {i}")
    await alice.until_line(f"Alice: kept with {mode} 199")
    assert server.file_lines("general")[-1].endswith(f"] Alice: kept with {mode} 199")
    rounds = await flush_rounds(server)
    assert rounds == 0 if mode == "off" else rounds >= 1


async def test_a_bad_mode_is_named() -> None:
    result = await run_cli("--fsync", "sometimes")
    assert result.returncode == 2
    assert result.stderr == "wsserver: invalid --fsync value 'sometimes': must be one of always, batch, off\n"


async def test_a_bots_post_is_answered_once_its_line_is_flushed(start_server: Any, session: Any) -> None:
    """The 201 of an HTTP post is an explicit ok: under batch it waits for the round that covers the line."""
    server = await start_server("--accounts", "--sign-up", "open", "--fsync", "batch")
    made = await run_cli("accounts", "add-bot", "deploybot", "--data-dir", str(server.data_dir))
    bearer = {"Authorization": f"Bearer {made.stdout.strip()}"}
    for i in range(3):
        async with session.post(f"{server.url}/api/channels/general/messages", json={"text": f"deployed {i}"},
                                headers=bearer) as response:
            assert response.status == 201, await response.text()
        assert await flush_rounds(server) >= i + 1, "answered before its round"
