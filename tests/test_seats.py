"""The users file's seats, held by several processes for one token identity, against a plain model (hypothesis)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsserver.store.base import Claim
from wsserver.store.files.handles import FileHandles
from wsserver.store.files.userlines import Entry, Owner, _start_time

OPERATIONS = st.lists(st.tuples(st.sampled_from(["claim", "share", "release"]), st.integers(0, 1),
                                st.sampled_from(["Alice", "alice", "Bob"])), max_size=25)


@pytest.fixture(scope="module")
def other_owner() -> Iterator[Owner]:
    """A second live process to hold handles as (a real one: the users file checks that its holders live)."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        yield Owner(Owner.current().host, sleeper.pid, _start_time(sleeper.pid) or "")
    finally:
        sleeper.kill()
        sleeper.wait()


def _expected(holders: dict[int, bool], shared: bool) -> Claim:
    if not holders:
        return Claim.TAKEN
    return Claim.SHARED if shared and all(holders.values()) else Claim.HELD


@settings(max_examples=60, deadline=None)
@given(ops=OPERATIONS)
def test_seats_follow_the_model(tmp_path_factory: Any, other_owner: Owner, ops: list[tuple[str, int, str]]) -> None:
    """Claims, shared claims and releases from two processes: every answer, the file and the seats match the model."""
    data_dir: Path = tmp_path_factory.mktemp("seats")
    processes = [FileHandles(data_dir), FileHandles(data_dir)]
    processes[1].owner = other_owner
    model: dict[str, dict[int, bool]] = {}  # lower handle -> {process: whether its claim was shared}

    async def run() -> None:
        for kind, who, handle in ops:
            holders = model.setdefault(handle.lower(), {})
            if kind == "release":
                last = await processes[who].release(handle, "general")
                holders.pop(who, None)
                assert last == (not holders), (kind, who, handle, model)
                continue
            got = await processes[who].claim(handle, "general", kind == "share")
            assert got is _expected(holders, kind == "share"), (kind, who, handle, got, model)
            if got is not Claim.HELD:
                holders.setdefault(who, kind == "share")
        path = data_dir / "registered_users.log"
        entries = [Entry.parse(line) for line in path.read_text().splitlines()] if path.exists() else []
        held = sorted((e.key[0], e.owner == other_owner) for e in entries if e is not None)
        assert held == sorted((key, who == 1) for key, holders in model.items() for who in holders)
        seats = await processes[0].users("general")  # a seat held by both processes is listed once
        assert sorted(h.handle.lower() for h in seats) == sorted(key for key, holders in model.items() if holders)

    asyncio.run(run())


async def test_another_processs_appends_are_read_on_and_a_rewrite_read_whole(tmp_path: Path,
                                                                            other_owner: Owner) -> None:
    """A process reads on from where it read the users file: appended lines (claims) alone, a half-written
    line not until it is whole, a rewrite (a release: a new file) whole again, and the same entries as a fresh
    read every time."""
    mine, theirs = FileHandles(tmp_path), FileHandles(tmp_path)
    theirs.owner = other_owner

    async def seen() -> list[tuple[str, str]]:
        fresh = FileHandles(tmp_path)
        held = sorted((h.handle, h.channel) for h in await mine.users())
        assert held == sorted((h.handle, h.channel) for h in await fresh.users())
        return held

    assert await mine.claim("Alice", "general") == Claim.TAKEN
    assert await seen() == [("Alice", "general")]
    read_before = mine._cache
    for handle in ("Bob", "Carol"):
        assert await theirs.claim(handle, "general") == Claim.TAKEN
    assert await seen() == [("Alice", "general"), ("Bob", "general"), ("Carol", "general")]
    assert mine._cache is not None and read_before is not None and mine._cache.entries[:1] == read_before.entries
    with (tmp_path / "registered_users.log").open("a") as users:  # a line half written, as a reader may see it
        users.write("Dave|gen")
    assert await seen() == [("Alice", "general"), ("Bob", "general"), ("Carol", "general")]
    with (tmp_path / "registered_users.log").open("a") as users:
        users.write(f"eral|{other_owner.host}|{other_owner.pid}|{other_owner.start}\n")
    assert await seen() == [("Alice", "general"), ("Bob", "general"), ("Carol", "general"), ("Dave", "general")]
    assert await theirs.release("Bob", "general")  # rewritten: a new file
    assert await seen() == [("Alice", "general"), ("Carol", "general"), ("Dave", "general")]
    assert await mine.claim("Erin", "tech") == Claim.TAKEN
    assert await seen() == [("Alice", "general"), ("Carol", "general"), ("Dave", "general"), ("Erin", "tech")]
