"""An account's always-on IRC channels change in one step of the store: concurrent JOINs and PARTs of its
sessions, on one process or several, lose none of the changes (both stores, real files and a real Redis)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from wsserver.hub.accounts import Accounts
from wsserver.store.files.accounts import FileAccounts
from wsserver.store.redis.accounts import RedisAccounts
from wsserver.store.redis.shards import Shards

CHANNELS = [f"room{number}" for number in range(12)]


@pytest.fixture(params=["files", "redis"])
def store(request: Any, tmp_path: Path) -> Any:
    if request.param == "files":
        return FileAccounts(tmp_path)
    return RedisAccounts(Shards(request.getfixturevalue("redis_server").url))


async def test_concurrent_joins_and_parts_of_one_account_keep_every_change(store: Any) -> None:
    """Twelve JOINs at once, then six PARTs at once with six JOINs again: the record holds exactly the result."""
    assert await store.create({"handle": "Alice", "created": 0.0})
    accounts = Accounts(store)
    try:
        await asyncio.gather(*(accounts.keep_irc_channel("Alice", name, True) for name in CHANNELS))
        assert await accounts.irc_channels("alice") == sorted(CHANNELS)
        await asyncio.gather(*(accounts.keep_irc_channel("Alice", name, index % 2 == 0)
                               for index, name in enumerate(CHANNELS)))
        assert await accounts.irc_channels("Alice") == sorted(CHANNELS[::2])
        await asyncio.gather(*(accounts.keep_irc_channel("Alice", name, False) for name in CHANNELS))
        assert await accounts.irc_channels("Alice") == []
        await accounts.keep_irc_channel("Nobody", "room0", True)  # no account: nothing, no error
        assert await store.get("Nobody") is None
    finally:
        accounts.close()
