"""Presence, typing, private messages, resume by cursor, history paging, rooms on demand."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from .support import Server, joined, seed_log
from .support.clients import version_of


def presence(users: list[str], channel: str = "general") -> dict[str, Any]:
    return {"success": True, "event": "presence",
            "data": {"channel": channel, "users": users, "version": version_of(users)}}


def delta(now: list[str], joined: list[str] | None = None, left: list[str] | None = None,
          channel: str = "general") -> dict[str, Any]:
    """The delta that leaves the users list ``now``."""
    data = {"channel": channel, "joined": joined or [], "left": left or [], "version": version_of(now)}
    return {"success": True, "event": "presence", "data": data}


async def test_presence_after_history_then_deltas_on_every_join_and_leave(server: Server, connect: Any) -> None:
    """A joiner gets the whole user list right after its history; then everyone gets what changed, as a delta."""
    alice = await connect(server, "Alice")
    assert await alice.any_frame() == presence(["Alice"])  # empty log: no history frame first
    bob = await connect(server, "bob")
    history = await bob.any_frame()
    assert history["data"]["message"].endswith("System: Alice has joined the chat")
    assert await bob.any_frame() == presence(["Alice", "bob"])
    assert await alice.event("presence") == delta(["Alice", "bob"], joined=["bob"])
    await bob.ws.close()
    assert await alice.event("presence") == delta(["Alice"], left=["bob"])
    assert alice.users == ["Alice"]


async def test_joiners_list_has_the_joiner_in_sorted_place(server: Server, connect: Any) -> None:
    """A joiner's first list is the last list sent with the joiner spliced in, sorted without regard to case."""
    alice = await connect(server, "alice")
    carol = await connect(server, "Carol")
    await alice.users_become(["alice", "Carol"])
    await carol.users_become(["alice", "Carol"])
    bea = await connect(server, "Bea")
    assert await bea.event("presence") == presence(["alice", "Bea", "Carol"])
    await alice.users_become(["alice", "Bea", "Carol"])


async def test_presence_counts_users_of_other_processes(start_server: Any, connect: Any, session: Any) -> None:
    """The users file is the truth: users on another process on the same data dir are listed and counted."""
    first = await start_server()
    second = await start_server(data_dir=first.data_dir)
    alice = await joined(await connect(first, "Alice"), "Alice")
    bob = await joined(await connect(second, "Bob"), "Bob")
    await alice.users_become(["Alice", "Bob"])
    async with session.get(first.url + "/api/channels/general/users") as response:
        assert await response.json() == {"channel": "general", "users": ["Alice", "Bob"]}
    async with session.get(first.url + "/api/channels") as response:
        assert (await response.json())[0] == {"name": "general", "users": 2}
    await bob.ws.close()
    await alice.users_become(["Alice"])


async def test_unknown_channel_users_is_404(server: Server, session: aiohttp.ClientSession) -> None:
    """/api/channels/<name>/users answers 404 with a JSON error for an unknown channel."""
    async with session.get(server.url + "/api/channels/nope/users") as response:
        assert response.status == 404
        assert await response.json() == {"error": "Unknown channel: nope"}


async def test_typing_reaches_the_others_and_writes_nothing(server: Server, connect: Any) -> None:
    """Typing on and off reaches the others, not the sender; repeats are not re-sent; nothing is logged."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    before = server.log_path("general").read_bytes()
    await alice.send({"type": "typing", "typing": True})
    await alice.send({"type": "typing", "typing": True})
    await alice.send({"type": "typing", "typing": False})
    expected = {"success": True, "event": "typing", "data": {"channel": "general", "handle": "Alice", "typing": True}}
    assert await bob.event("typing") == expected
    assert (await bob.event("typing"))["data"]["typing"] is False
    await alice.chat("marker")
    await bob.until_line("Alice: marker")
    await alice.until_line("Alice: marker")
    assert [e for e in bob.events if e["event"] == "typing"] == []
    assert [e for e in alice.events if e["event"] == "typing"] == []
    after = server.log_path("general").read_bytes()
    assert after.startswith(before)
    assert [line[22:] for line in after[len(before):].decode().splitlines()] == ["Alice: marker"]


async def test_typing_expires_after_six_seconds(server: Server, connect: Any) -> None:
    """A typing: true that is not refreshed is turned off for the others after 6 s."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await alice.send({"type": "typing", "typing": True})
    await bob.event("typing", typing=True)
    await bob.event("typing", timeout=9, typing=False)


async def test_typing_stops_when_the_typist_leaves(server: Server, connect: Any) -> None:
    """A typist who leaves is reported as no longer typing."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await alice.send({"type": "typing", "typing": True})
    await bob.event("typing", typing=True)
    await alice.ws.close()
    await bob.event("typing", handle="Alice", typing=False)


async def test_bad_typing_frame(server: Server, connect: Any) -> None:
    """typing must be a boolean."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    await alice.send({"type": "typing", "typing": "yes"})
    assert await alice.frame() == {"success": False, "message": "Invalid message format"}


async def test_private_message_reaches_both_ends_only(server: Server, connect: Any) -> None:
    """A private line goes to the sender and the recipient, into the private log, never the channel log."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    carol = await joined(await connect(server, "Carol"), "Carol")
    await alice.send({"type": "private", "to": "bob", "message": "psst\nsecret"})
    for client in (alice, bob):
        frame = await client.event("private")
        assert frame["data"]["from"] == "Alice" and frame["data"]["to"] == "Bob"
        assert frame["data"]["channel"] == "general"
        assert frame["data"]["message"].endswith("] Alice -> Bob: psst\\nsecret")
        assert set(frame) == {"success", "event", "data"} and frame["success"] is True
        assert set(frame["data"]) == {"channel", "from", "to", "message", "cursor"}
    await alice.chat("public marker")
    await carol.until_line("Alice: public marker")
    assert not any(e["event"] == "private" for e in carol.events)
    assert "psst" not in server.log_path("general").read_text()
    private_lines = (server.data_dir / "private_general.log").read_text().splitlines()
    assert len(private_lines) == 1 and private_lines[0].endswith("] Alice -> Bob: psst\\nsecret")


async def test_private_message_to_nobody(server: Server, connect: Any) -> None:
    """A private message to a handle not in the channel gets 'User not found' and writes nothing."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    await joined(await connect(server, "Dave", "tech"), "Dave")
    for to in ("Dave", "Nobody", "x!", "System"):
        await alice.send({"type": "private", "to": to, "message": "hello?"})
        assert await alice.frame() == {"success": False, "message": "User not found"}
    await alice.send({"type": "private", "to": 5, "message": "hello?"})
    assert await alice.frame() == {"success": False, "message": "Invalid message format"}
    await alice.send({"type": "private", "to": "Alice", "message": ""})
    assert await alice.frame() == {"success": False, "message": "Message is empty"}
    assert (server.data_dir / "private_general.log").read_text() == ""


async def test_private_message_crosses_processes(start_server: Any, connect: Any) -> None:
    """A private line written by one process reaches its recipient on another, through the private log."""
    first = await start_server()
    second = await start_server(data_dir=first.data_dir)
    alice = await joined(await connect(first, "Alice"), "Alice")
    bob = await joined(await connect(second, "Bob"), "Bob")
    await alice.users_become(["Alice", "Bob"])
    await alice.send({"type": "private", "to": "Bob", "message": "across"})
    assert (await bob.event("private"))["data"]["message"].endswith("] Alice -> Bob: across")
    assert (await alice.event("private"))["data"]["to"] == "Bob"


async def test_resume_replays_exactly_what_was_missed(server: Server, connect: Any) -> None:
    """Reconnecting with since=CURSOR replays exactly the lines after it, then live lines."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    cursor = alice.frames[-1]["data"]["cursor"]
    await alice.ws.close()
    bob = await joined(await connect(server, "Bob"), "Bob")
    for i in range(3):
        await bob.chat(f"missed {i}")
    await bob.until_line("missed 2")
    size = server.log_path("general").stat().st_size
    back = await connect(server, "Alice", since=cursor)
    assert await back.any_frame() == {"success": True, "event": "resumed",
                                      "data": {"channel": "general", "recovered": True}}
    replay = await back.frame()
    missed = server.log_path("general").read_bytes()[:size].decode().splitlines()[1:]
    assert [line[22:] for line in missed] == ["System: Alice has left the chat", "System: Bob has joined the chat",
                                              "Bob: missed 0", "Bob: missed 1", "Bob: missed 2"]
    assert replay["data"]["message"].split("\n") == missed
    assert replay["data"]["cursor"].endswith(f"-{size}")
    await joined(back, "Alice")


async def test_resume_with_a_stale_cursor_falls_back(start_server: Any, connect: Any) -> None:
    """A cursor that does not apply gets recovered: false, then the usual last-N history."""
    server = await start_server("--history", "2")
    alice = await joined(await connect(server, "Alice"), "Alice")
    good = alice.frames[-1]["data"]["cursor"]
    dev, ino, offset = good.split("-")
    for since in ("garbage", f"{dev}-{int(ino, 16) + 1:x}-{offset}", f"{dev}-{ino}-{int(offset) - 3}",
                  f"{dev}-{ino}-999999999"):
        expected = server.file_lines("general")[-2:]
        client = await connect(server, "Bobby", since=since)
        assert await client.any_frame() == {"success": True, "event": "resumed",
                                            "data": {"channel": "general", "recovered": False}}
        history = await client.frame()
        assert history["data"]["message"].split("\n") == expected
        await joined(client, "Bobby")
        await client.ws.close()
        await alice.until_line(lambda line: line.endswith("Bobby has left the chat"), since=len(alice.lines))


async def test_history_paging_walks_back_to_the_start(start_server: Any, connect: Any, tmp_path: Any) -> None:
    """history requests page backwards without gaps or repeats, capped at 200 lines, until the start."""
    old = [f"[2026-11-22 10:00:00] Old: line {i} é" for i in range(450)]
    seed_log(tmp_path / "data", "general", old)
    server = await start_server("--history", "10")
    alice = await connect(server, "Alice")
    first = await alice.frame()
    shown = first["data"]["message"].split("\n")
    dev, ino, end = first["data"]["cursor"].split("-")
    # The frame says where its first line starts: no client computes a cursor.
    before = first["data"]["start"]
    assert before == f"{dev}-{ino}-{int(end) - sum(len(line.encode()) + 1 for line in shown)}"
    pages = []
    while True:
        await alice.send({"type": "history", "before": before, "limit": 1000})
        page = await alice.event("history")
        assert set(page["data"]) == {"channel", "message", "cursor", "start", "end", "cursors"}
        if not page["data"]["message"]:
            assert page["data"]["cursor"] == before
            break
        lines = page["data"]["message"].split("\n")
        assert len(lines) <= 200
        pages.insert(0, lines)
        before = page["data"]["cursor"]
    assert [line for page in pages for line in page] + shown == old
    assert [len(page) for page in pages] == [40, 200, 200]


async def test_history_with_a_bad_cursor(server: Server, connect: Any) -> None:
    """A history request with a cursor that does not apply, or a bad field, gets a sentence naming the problem."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    await alice.send({"type": "history", "before": "nonsense", "limit": 5})
    assert await alice.frame() == {"success": False, "message": "History is not available before that cursor"}
    bad_before = "Invalid history request: before must be a cursor from a frame (a string), or left out"
    bad_limit = "Invalid history request: limit must be a whole number from 1 to 200"
    for payload, sentence in (({"type": "history", "before": 5}, bad_before),
                              ({"type": "history", "before": "x", "limit": 0}, bad_limit),
                              ({"type": "history", "limit": True}, bad_limit),
                              ({"type": "history", "limit": "10"}, bad_limit)):
        await alice.send(json.dumps(payload))
        assert await alice.frame() == {"success": False, "message": sentence}


async def test_history_without_before_and_with_a_lines_own_cursor(start_server: Any, connect: Any,
                                                                  tmp_path: Any) -> None:
    """history without before pages from the newest line; a frame's cursor as before includes that frame's lines."""
    seed_log(tmp_path / "data", "general", [f"[2026-11-22 10:00:00] Old: line {i}" for i in range(5)])
    server = await start_server("--history", "2")
    alice = await connect(server, "Alice")
    backlog = await alice.frame()
    assert backlog["data"]["message"].split("\n") == [f"[2026-11-22 10:00:00] Old: line {i}" for i in (3, 4)]
    await joined(alice, "Alice")
    await alice.send({"type": "history", "limit": 3})
    page = await alice.event("history")
    assert [line[22:] for line in page["data"]["message"].split("\n")] == [
        "Old: line 3", "Old: line 4", "System: Alice has joined the chat"]
    await alice.send({"type": "history", "before": backlog["data"]["cursor"], "limit": 1})
    page = await alice.event("history")
    dev, ino, start = backlog["data"]["start"].split("-")
    line_4_start = f"{dev}-{ino}-{int(start) + len('[2026-11-22 10:00:00] Old: line 3') + 1}"
    assert page["data"] == {"channel": "general", "message": "[2026-11-22 10:00:00] Old: line 4",
                            "cursor": line_4_start, "start": line_4_start, "end": backlog["data"]["cursor"],
                            "cursors": [backlog["data"]["cursor"]]}
    await alice.send({"type": "history", "before": page["data"]["cursor"], "limit": 1})
    assert (await alice.event("history"))["data"]["message"] == "[2026-11-22 10:00:00] Old: line 3"


async def test_rooms_are_not_created_without_the_flag(server: Server, connect: Any) -> None:
    """Without --allow-new-channels only configured channels exist."""
    client = await connect(server, "Alice", "newroom")
    assert await client.frame() == {"success": False, "message": "No valid channel provided"}
    assert not (server.data_dir / "channel_newroom.log").exists()


async def test_rooms_on_demand(start_server: Any, connect: Any, session: aiohttp.ClientSession) -> None:
    """With --allow-new-channels a valid new name creates the channel; bad names are still refused."""
    server = await start_server("--allow-new-channels", "--max-channels", "3")
    alice = await joined(await connect(server, "Alice", "newroom"), "Alice")
    await alice.chat("first words")
    await alice.until_line("Alice: first words")
    assert server.file_lines("newroom")[-1].endswith("] Alice: first words")
    async with session.get(server.url + "/api/channels") as response:
        assert await response.json() == [{"name": "general", "users": 0}, {"name": "tech", "users": 0},
                                         {"name": "newroom", "users": 1}]
    for bad in ("../etc", "Upper", "a/b", "x" * 33, "-dash", "..", "channel_general.log"):
        client = await connect(server, "Bob", bad)
        assert await client.frame() == {"success": False, "message": "No valid channel provided"}
    client = await connect(server, "Bob", "another")
    assert await client.frame() == {"success": False, "message": "Too many channels"}
    assert sorted(p.name for p in server.data_dir.iterdir()) == [
        ".events", "channel_general.log", "channel_newroom.log", "channel_tech.log", "private_general.log",
        "private_newroom.log", "private_tech.log", "registered_users.lock", "registered_users.log"]


async def test_created_rooms_are_listed_by_other_processes(start_server: Any, connect: Any, session: Any) -> None:
    """A room created through one process is listed, and joinable, through another."""
    first = await start_server("--allow-new-channels")
    second = await start_server("--allow-new-channels", data_dir=first.data_dir)
    alice = await joined(await connect(first, "Alice", "party"), "Alice")
    async with session.get(second.url + "/api/channels") as response:
        assert {"name": "party", "users": 1} in await response.json()
    bob = await joined(await connect(second, "Bob", "party"), "Bob")
    await bob.chat("hi")
    await alice.until_line("Bob: hi")


async def test_users_of_a_killed_process_leave_presence(start_server: Any, connect: Any) -> None:
    """When a process is killed outright, the others drop its users from presence within seconds."""
    import signal

    first = await start_server()
    second = await start_server(data_dir=first.data_dir)
    alice = await joined(await connect(first, "Alice"), "Alice")
    await joined(await connect(second, "Bob"), "Bob")
    await alice.users_become(["Alice", "Bob"])
    alice.events.clear()  # only a list sent after the kill counts
    await second.stop(signal.SIGKILL)
    await alice.users_become(["Alice"], timeout=10)
