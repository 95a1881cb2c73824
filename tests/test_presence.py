"""Presence at scale: quiet join and leave lines above --announce-limit, and users lists sent as deltas."""

from __future__ import annotations

import json
import random
import signal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsserver import protocol
from wsserver.channels.presence import DELTAS_KEPT, PresenceList, sort_handles
from wsserver.store.finding import Lines

from .support import Client, Server, joined
from .support.clients import version_of

NAMES = ["Ann", "ben", "Cid", "dee", "Eve", "fay", "Gus", "hal", "Ivy", "jo_1", "Kim", "lee"]


def said(client: Client) -> list[str]:
    """The lines a client received, without their time stamps."""
    return [line[22:] for line in client.lines]


async def test_above_the_announce_limit_join_and_leave_lines_are_written_but_not_sent_live(
        start_server: Any, connect: Any) -> None:
    """With --announce-limit 3 the 4th user's join and the leave that starts from 4 are quiet; the joiner gets its own."""
    server = await start_server("--rate-limit", "0", "--announce-limit", "3")
    watcher = await joined(await connect(server, "Watcher"), "Watcher")
    ann = await joined(await connect(server, "Ann"), "Ann")
    await watcher.users_become(["Ann", "Watcher"])
    ben = await joined(await connect(server, "Ben"), "Ben")  # 3 users: at the limit, announced
    await watcher.until_line("System: Ben has joined the chat")
    await watcher.users_become(["Ann", "Ben", "Watcher"])
    cid = await joined(await connect(server, "Cid"), "Cid")  # 4 users: quiet for the others
    assert said(cid)[-1] == "System: Cid has joined the chat"  # its own, where its live lines begin
    await watcher.users_become(["Ann", "Ben", "Cid", "Watcher"])
    await ben.ws.close()  # counted before it goes: 4, quiet
    await watcher.users_become(["Ann", "Cid", "Watcher"])
    await cid.ws.close()  # 3: announced again
    await watcher.until_line("System: Cid has left the chat")
    await ann.ws.close()
    await watcher.until_line("System: Ann has left the chat")
    await watcher.ws.send_str(json.dumps({"type": "chat", "message": "after"}))
    await watcher.until_line("Watcher: after")
    live = [line for line in said(watcher) if "System:" in line]
    assert "System: Cid has joined the chat" not in live and "System: Ben has left the chat" not in live
    assert live[-3:] == ["System: Ben has joined the chat", "System: Cid has left the chat",
                         "System: Ann has left the chat"]
    written = [line[22:] for line in server.file_lines("general") if "System:" in line]
    assert written == [f"System: {handle} has {verb} the chat" for handle, verb in [
        ("Watcher", "joined"), ("Ann", "joined"), ("Ben", "joined"), ("Cid", "joined"), ("Ben", "left"),
        ("Cid", "left"), ("Ann", "left")]]
    # History (and so paging and resume) returns every line, quiet ones included.
    late = await connect(server, "Late")
    history = await late.frame()
    assert "System: Cid has joined the chat" in history["data"]["message"]
    assert "System: Ben has left the chat" in history["data"]["message"]


async def test_an_announce_limit_of_zero_announces_every_join(start_server: Any, connect: Any) -> None:
    """--announce-limit 0 sends every join and leave line live, however large the channel."""
    server = await start_server("--rate-limit", "0", "--announce-limit", "0")
    watcher = await joined(await connect(server, "Watcher"), "Watcher")
    for handle in ("Ann", "Ben", "Cid"):
        await joined(await connect(server, handle), handle)
        await watcher.until_line(f"System: {handle} has joined the chat")


# ---------------------------------------------------------------- deltas


async def random_presence(start: Any, connect: Any, seed: int) -> None:
    """Joins, leaves, a kill and a restart in random order on two servers; a watcher's list always follows.

    ``start(name)`` starts a server (or node) by name on a shared store. The
    watcher's client applies every presence event as a client must and fails
    on a delta that does not fit the list it has (tests/support/clients.py).
    """
    rng = random.Random(seed)
    servers = {"a": await start("a"), "b": await start("b")}
    watcher = await joined(await connect(servers["a"], "Watcher"), "Watcher")
    online: dict[str, tuple[str, Client]] = {}  # handle -> (server name, client)
    count = 0
    kill_at = rng.randrange(10, 30)
    for step in range(40):
        roll = rng.random()
        if step == kill_at:
            # b is killed outright: its users drop out of everyone's list when the registry says so.
            servers["b"].process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
            await servers["b"].process.wait()  # type: ignore[union-attr]
            online = {handle: (where, client) for handle, (where, client) in online.items() if where != "b"}
            del servers["b"]
            await watcher.users_become(sort_handles(["Watcher", *online]), timeout=30)
            servers["b2"] = await start("b2")  # and a server takes its place
        elif roll < 0.6 or not online:
            count += 1
            handle, where = f"user{count}", rng.choice(sorted(servers))
            online[handle] = (where, await joined(await connect(servers[where], handle), handle))
        else:
            handle = rng.choice(sorted(online))
            await online.pop(handle)[1].ws.close()
        if rng.random() < 0.5:
            await watcher.users_become(sort_handles(["Watcher", *online]), timeout=30)
    await watcher.users_become(sort_handles(["Watcher", *online]), timeout=30)


async def test_deltas_follow_random_joins_leaves_a_kill_and_a_restart_on_files(start_server: Any, connect: Any,
                                                                              tmp_path: Any) -> None:
    """Two processes on one data dir: the deltas a client applies always give the users the registry holds."""
    data = tmp_path / "data"

    async def start(_name: str) -> Server:
        return await start_server("--rate-limit", "0", data_dir=data)  # type: ignore[no-any-return]

    await random_presence(start, connect, seed=23)


async def test_deltas_follow_random_joins_leaves_a_kill_and_a_restart_on_redis(nodes: Any, connect: Any) -> None:
    """Two nodes on one Redis: the deltas a client applies always give the users the registry holds."""
    await random_presence(nodes, connect, seed=5)


# ---------------------------------------------------------------- the list's versions


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sets(st.sampled_from(NAMES)), min_size=1, max_size=40), st.data())
def test_since_brings_any_earlier_version_to_the_current_list(lists: list[set[str]], data: Any) -> None:
    """From any version (and a joiner spliced in), since() gives one frame that makes the list the current one."""
    presence = PresenceList("general")
    history: list[list[str]] = [[]]
    for users in lists:
        if presence.update(list(users)):  # in any order
            history.append(list(presence.users or []))
        assert presence.users == sort_handles(list(users))  # spliced or rebuilt, always the sorted list
        whole = json.loads(bytes(presence.full().payload))["data"]
        assert whole["users"] == presence.users and whole["version"] == version_of(presence.users)
    version = data.draw(st.integers(0, presence.version))
    extra = data.draw(st.sampled_from([None, "Zed", "Ann"]))
    had = set(history[version]) | ({extra} if extra else set())
    frame = presence.since(version, extra if extra not in history[version] else None)
    if frame is None:
        assert had == set(presence.users or [])
        return
    event = json.loads(bytes(frame.payload))["data"]
    assert event["version"] == version_of(presence.users or [])  # the set's version, however it was reached
    if "users" in event:
        assert event["users"] == presence.users
    else:
        assert not set(event["joined"]) & had and set(event["left"]) <= had
        assert (had - set(event["left"])) | set(event["joined"]) == set(presence.users or [])


def test_a_connection_further_behind_than_the_deltas_kept_gets_the_whole_list() -> None:
    """Past DELTAS_KEPT versions behind, since() answers with the whole list."""
    presence = PresenceList("general")
    for i in range(DELTAS_KEPT + 5):
        presence.update([f"user{i}"])
    whole = json.loads(bytes(presence.since(1).payload))["data"]  # type: ignore[union-attr]
    version = version_of([f"user{DELTAS_KEPT + 4}"])
    assert whole == {"channel": "general", "users": [f"user{DELTAS_KEPT + 4}"], "version": version}
    near = json.loads(bytes(presence.since(presence.version - 2).payload))["data"]  # type: ignore[union-attr]
    assert near == {"channel": "general", "joined": [f"user{DELTAS_KEPT + 4}"], "left": [f"user{DELTAS_KEPT + 2}"],
                    "version": version}


@pytest.mark.parametrize("extra", ["Ann", "Zed"])
def test_a_joiners_own_name_is_not_sent_back_to_it(extra: str) -> None:
    """A joiner's first list has it spliced in: the next version that lists it is no change for it."""
    presence = PresenceList("general")
    presence.update(["Bob"])
    wire, spliced = presence.with_joiner(extra)
    first = json.loads(bytes(wire.payload))["data"]
    assert first["users"] == sort_handles(["Bob", extra]) and first["version"] == version_of(["Bob", extra])
    presence.update(sort_handles(["Bob", extra]))
    assert presence.since(presence.version - 1, spliced) is None


@given(st.lists(st.text(alphabet="aBcé_9\u00df", min_size=1, max_size=4), max_size=12, unique=True),
       st.text(alphabet="aBcé_9\u00df", min_size=1, max_size=4))
@settings(max_examples=200, deadline=None)
def test_a_joiners_list_is_spliced_as_the_frame_that_lists_everyone(users: list[str], joiner: str) -> None:
    """The bytes spliced for a joiner (anywhere: first, between, last, into an empty list) are a whole list's frame."""
    presence = PresenceList("général")
    presence.update(users)
    wire, _ = presence.with_joiner(joiner)
    everyone = sort_handles(list({*users, joiner}))
    expected = protocol.event_frame("presence", {"channel": "général", "users": everyone,
                                                 "version": version_of(everyone)})
    assert bytes(wire.payload).decode("utf-8") == expected
    assert wire.wire[: len(wire.wire) - len(wire.payload)][0] == 0x81  # one final text frame
    assert bytes(presence.full().payload).decode("utf-8") == protocol.event_frame(
        "presence", {"channel": "général", "users": sort_handles(users), "version": version_of(users)})


@given(st.sets(st.text(alphabet="aBcé_9\u00df", min_size=1, max_size=3), max_size=8),
       st.sets(st.text(alphabet="aBcé_9\u00df", min_size=1, max_size=3), max_size=8),
       st.text(alphabet="aBcé_9\u00df", min_size=1, max_size=3), st.booleans(),
       st.sets(st.text(alphabet="aBcé_9\u00df", min_size=1, max_size=3), max_size=8))
@settings(max_examples=300, deadline=None)
def test_a_joiners_first_delta_is_the_frame_of_what_it_has_not_seen(before: set[str], after: set[str], joiner: str,
                                                                    stays: bool, between: set[str]) -> None:
    """A joiner's first delta (the shared one with its own handle cut out as bytes, wherever it stands) is the
    frame that lists what changed for it: the same bytes as built from the handles."""
    before.discard(joiner)
    presence = PresenceList("général")
    presence.update(list(before))
    _, spliced = presence.with_joiner(joiner)
    version = presence.version
    presence.update(list(between))  # deltas merged from the joiner's version on
    now = (after | {joiner}) if stays else (after - {joiner})
    presence.update(list(now))
    frame = presence.since(version, spliced)
    had = before | {joiner}
    joined, left = sort_handles(list(now - had)), sort_handles(list(had - now))
    if not joined and not left:
        assert frame is None
        return
    assert frame is not None
    assert bytes(frame.payload).decode("utf-8") == protocol.event_frame(
        "presence", {"channel": "général", "joined": joined, "left": left, "version": version_of(sort_handles(list(now)))})


def _presence_lines(*events: tuple[str, str]) -> Lines:
    """The join and leave lines of ``events`` ((handle, "joined" or "left")) as the log's tailer gives them."""
    data = "\n".join(f"[2026-12-06 18:00:00] System: {handle} has {verb} the chat" for handle, verb in events)
    return Lines(data.encode(), "0", str(len(events)), tuple(str(i + 1) for i in range(len(events))))


def test_quiet_lines_count_the_joins_and_leaves_read_since_the_list() -> None:
    """Between two reads of the users list, the log's own join and leave lines are counted: a storm's joins
    past the limit are quiet at once, not announced until the next read; a read starts the count afresh."""
    presence = PresenceList("general")
    presence.update(["Ann", "Ben"])
    # limit 3: Cid makes 3 (announced); Dot 4, Eve 5 (quiet) with no read of the list between them
    quiet = presence.quiet_lines(_presence_lines(("Cid", "joined"), ("Dot", "joined"), ("Eve", "joined")), 3)
    assert quiet == {1: ("Dot", True), 2: ("Eve", True)}
    # Eve and Dot leave: counted before each goes, 5 then 4 (quiet); Ann's leave starts from 3 (announced)
    quiet = presence.quiet_lines(_presence_lines(("Eve", "left"), ("Dot", "left"), ("Ann", "left")), 3)
    assert quiet == {0: ("Eve", False), 1: ("Dot", False)}
    # a rejoin counts once: Ann back makes 3 (Ben, Cid, Ann); the same Ann again is not one more
    assert presence.quiet_lines(_presence_lines(("Ann", "joined"), ("Ann", "joined")), 3) == {}
    presence.update(["Ann", "Ben", "Cid", "Dot"])  # the list read: its count stands alone again
    assert presence.quiet_lines(_presence_lines(("Ann", "left")), 4) == {}
    assert presence.quiet_lines(_presence_lines(("Eve", "joined")), 4) == {}  # 3 after Ann's leave, 4 with Eve
    assert presence.quiet_lines(_presence_lines(("Fay", "joined")), 4) == {0: ("Fay", True)}
    assert presence.quiet_lines(_presence_lines(("Gus", "joined")), 0) == {}  # 0: always announced
