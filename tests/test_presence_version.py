"""Presence by version: every presence frame names its member set; a resume that has the set is sent no list."""

from __future__ import annotations

from typing import Any

from .support import SECRET, joined, token
from .support.clients import version_of
from .support.servers import two_processes


async def same_version(here: Any, there: Any, connect: Any) -> None:
    """Alice on one, Bob on the other: both are told the same version, the set's."""
    alice = await joined(await connect(here, "Alice"), "Alice")
    bob = await joined(await connect(there, "Bob"), "Bob")
    for client in (alice, bob):
        await client.users_become(["Alice", "Bob"])
    assert alice.presence_version == bob.presence_version == version_of(["Alice", "Bob"])


async def test_the_same_set_has_the_same_version_on_two_processes(start_server: Any, connect: Any,
                                                                  tmp_path: Any) -> None:
    await same_version(*await two_processes(start_server, tmp_path / "shared"), connect)


async def test_the_same_set_has_the_same_version_on_two_redis_nodes(nodes: Any, connect: Any) -> None:
    await same_version(await nodes("a"), await nodes("b"), connect)


async def test_a_resume_with_the_current_version_is_sent_no_list(start_server: Any, connect: Any) -> None:
    """A second device resumes with since= and presence= the set's version: no users list, then deltas."""
    server = await start_server("--jwt-secret", SECRET, "--rate-limit", "0")
    laptop = await joined(await connect(server, None, token=token("Alice")), "Alice")
    await laptop.users_become(["Alice"])
    await laptop.chat("a line to resume after")
    line = await laptop.until_line_frame("Alice: a line to resume after")
    version = laptop.presence_version
    phone = await connect(server, None, token=token("Alice"), since=str(line["cursor"]), presence=str(version))
    phone.users = ["Alice"]  # what it held: the server sends no list, so presence deltas apply to this
    await phone.event("resumed")  # its join is answered (the list decided) before Bob comes: no race with him
    bob = await joined(await connect(server, None, token=token("Bob")), "Bob")
    delta = await phone.event("presence")
    assert delta["data"] == {"channel": "general", "joined": ["Bob"], "left": [], "version": version_of(["Alice", "Bob"])}
    assert phone.users == ["Alice", "Bob"]
    await bob.users_become(["Alice", "Bob"])


async def test_a_stale_or_garbage_version_gets_the_whole_list(start_server: Any, connect: Any) -> None:
    server = await start_server("--jwt-secret", SECRET, "--rate-limit", "0")
    laptop = await joined(await connect(server, None, token=token("Alice")), "Alice")
    await laptop.users_become(["Alice"])
    await laptop.chat("a line to resume after")
    cursor = str((await laptop.until_line_frame("Alice: a line to resume after"))["cursor"])
    for known in (version_of(["Alice", "Gone"]), "garbage", "9.zz"):
        device = await connect(server, None, token=token("Alice"), since=cursor, presence=known)
        whole = await device.event("presence")
        assert whole["data"] == {"channel": "general", "users": ["Alice"], "version": version_of(["Alice"])}
