"""Moderation: kick, ban, mute and delete, by the operator's commands and by channel operators in the chat.

Real processes: two servers sharing a data dir, or two nodes sharing Redis; the moderation log
and the channel logs are read as files (or streams) after each action.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from .support import SECRET, Server, joined, run_cli, token, two_processes


async def sent_with_cursor(client: Any, text: str) -> tuple[str, str]:
    """Chat ``text``; return its line and its own cursor, from the frame that carries it."""
    await client.chat(text)
    while True:
        frame = await client.frame()
        data = frame["data"]
        lines = data["message"].split("\n")
        assert len(data["cursors"]) == len(lines) and data["cursors"][-1] == data["cursor"]
        for line, cursor in zip(lines, data["cursors"], strict=True):
            if line.endswith(f": {text}"):
                return line, cursor


async def error(client: Any) -> dict[str, Any]:
    """Return the next error frame, reading past the lines that come before it."""
    while True:
        frame = await client.frame()
        if frame["success"] is False:
            return frame


def system_lines(server: Server, needle: str) -> list[str]:
    return [line for line in server.file_lines("general") if "] System: " in line and needle in line]


async def cli(server: Server, *args: str) -> tuple[int, str, str]:
    return await run_cli(*args, "--data-dir", str(server.data_dir))


async def test_a_kick_closes_the_socket_on_another_process(start_server: Any, connect: Any, tmp_path: Path) -> None:
    first, second = await two_processes(start_server, tmp_path / "data")
    alice = await joined(await connect(second, "Alice"), "Alice")
    bob = await joined(await connect(first, "Bob"), "Bob")
    assert await cli(first, "kick", "general", "alice", "--reason", "spam") == (
        0, "Alice was removed by the operator (spam)\n", "")
    assert await error(alice) == {"success": False, "message": "You were removed from the channel: spam"}
    assert await alice.closed() == (1008, "You were removed from the channel: spam")
    await bob.until_line("System: Alice was removed by the operator (spam)")
    await bob.until_line("System: Alice has left the chat")
    await joined(await connect(first, "Alice"), "Alice")  # a kick is not a ban
    assert await cli(first, "kick", "general", "Nobody") == (2, "", "wsserver: Nobody is not in general\n")


async def test_a_ban_refuses_joins_survives_a_restart_and_ends_on_time(
    start_server: Any, connect: Any, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = await start_server("--rate-limit", "0", data_dir=data)
    bob = await joined(await connect(server, "Bob"), "Bob")
    status, out, _ = await cli(server, "ban", "general", "Bob", "--for", "4s", "--reason", "flooding")
    assert (status, out) == (0, "Bob was banned by the operator for 4s (flooding)\n")
    assert await error(bob) == {"success": False, "message": "You are banned from this channel: flooding"}
    assert (await bob.closed())[0] == 1008
    refused = await connect(server, "BOB")  # handles are the same without regard to case
    assert await error(refused) == {"success": False, "message": "You are banned from this channel"}
    assert await refused.closed() == (1008, "You are banned from this channel")
    status, out, _ = await cli(server, "bans")
    assert status == 0 and out.startswith("general\tBob\tban\t") and out.endswith("\tthe operator\tflooding\n")
    await server.stop()
    server = await start_server("--rate-limit", "0", data_dir=data)
    again = await connect(server, "Bob")
    assert await error(again) == {"success": False, "message": "You are banned from this channel"}
    ban = json.loads((data / "moderation.log").read_text().splitlines()[0])
    await asyncio.sleep(max(0.0, ban["until"] - time.time()) + 0.1)  # the ban's own end; nothing to wait on
    await joined(await connect(server, "Bob"), "Bob")
    assert await cli(server, "bans") == (0, "", "")
    assert await cli(server, "unban", "general", "Bob") == (2, "", "wsserver: Bob is not banned in general\n")


async def test_unban_lets_the_handle_back_at_once(server: Server, connect: Any) -> None:
    assert (await cli(server, "ban", "general", "Carol"))[:2] == (0, "Carol was banned by the operator until unbanned\n")
    refused = await connect(server, "carol")
    assert await error(refused) == {"success": False, "message": "You are banned from this channel"}
    assert (await cli(server, "unban", "general", "CAROL"))[:2] == (0, "CAROL was unbanned by the operator\n")
    await joined(await connect(server, "Carol"), "Carol")


async def test_a_muted_user_reads_but_writes_nothing(server: Server, connect: Any) -> None:
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    assert (await cli(server, "mute", "general", "Alice", "--for", "1h"))[:2] == (
        0, "Alice was muted by the operator for 1h\n")
    await alice.until_line("System: Alice was muted by the operator for 1h")
    before = server.log_path("general").read_bytes()
    await alice.chat("let me speak")
    assert await error(alice) == {"success": False, "message": "You are muted in this channel"}
    await alice.send({"type": "private", "to": "Bob", "message": "psst"})
    assert await error(alice) == {"success": False, "message": "You are muted in this channel"}
    await bob.chat("still here")
    await alice.until_line("Bob: still here")  # Alice still reads
    assert server.log_path("general").read_bytes()[: len(before)] == before
    assert not any("Alice: " in line for line in server.file_lines("general"))
    assert (server.data_dir / "private_general.log").read_text() == ""
    assert (await cli(server, "unmute", "general", "alice"))[:2] == (0, "Alice was unmuted by the operator\n")
    line, _ = await sent_with_cursor(alice, "thanks")
    assert line.endswith("Alice: thanks")


async def test_a_deleted_line_is_hidden_live_in_history_paging_search_and_after_a_reconnect(
    server: Server, connect: Any, session: Any
) -> None:
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    line, cursor = await sent_with_cursor(alice, "oops, my password")
    await bob.until_line("Alice: oops, my password")
    resume_from = bob.frames[-1]["data"]["cursor"]
    await bob.send({"type": "delete", "cursor": cursor})  # not Bob's line
    assert await error(bob) == {"success": False,
                                 "message": "You may only delete your own lines, within 15 minutes of sending them"}
    await alice.send({"type": "delete", "cursor": cursor})
    deleted = {"success": True, "event": "deleted", "data": {"channel": "general", "cursor": cursor}}
    assert await alice.event("deleted") == deleted
    assert await bob.event("deleted") == deleted
    stamp = line[1:20]
    await bob.until_line(f"System: the message of Alice at {stamp} was deleted by Alice")
    await alice.send({"type": "delete", "cursor": cursor})
    assert await error(alice) == {"success": False, "message": "That line is already deleted"}
    # A new joiner's history: the line is there, its text is not.
    carol = await connect(server, "Carol")
    backlog = (await carol.frame())["data"]
    shown = backlog["message"].split("\n")
    index = backlog["cursors"].index(cursor)
    assert shown[index] == f"[{stamp}] Alice: " and backlog["deleted"] == [index]
    assert "oops" not in backlog["message"]
    # Paging and jumps say the same.
    await carol.send({"type": "history", "limit": 50})
    page = (await carol.event("history"))["data"]
    assert "oops" not in page["message"] and page["cursors"][page["deleted"][0]] == cursor
    await carol.send({"type": "history", "around": cursor, "limit": 3})
    jump = (await carol.event("history"))["data"]
    assert jump["message"].split("\n")[jump["mark"]] == f"[{stamp}] Alice: " and jump["deleted"] == [jump["mark"]]
    # Search never finds it.
    async with session.get(f"{server.url}/api/channels/general/search", params={"q": "password"}) as response:
        assert (await response.json())["results"] == []
    # A client that was away while it was deleted is told to hide it.
    away = await connect(server, "Dave", since=resume_from)
    assert (await away.event("resumed"))["data"]["recovered"] is True
    assert await away.event("deleted") == deleted
    assert "oops" not in "\n".join(away.lines)
    # The log keeps the line (nothing is silently changed) and says who deleted it.
    assert line in server.file_lines("general")
    actions = [json.loads(raw) for raw in (server.data_dir / "moderation.log").read_text().splitlines()]
    assert [(a["action"], a["cursor"], a["by"], a["handle"]) for a in actions] == [("delete", cursor, "Alice", "Alice")]


async def test_erase_overwrites_the_text_in_place_and_every_cursor_stays_valid(server: Server, connect: Any) -> None:
    alice = await joined(await connect(server, "Alice"), "Alice")
    line, cursor = await sent_with_cursor(alice, "my address is 1 Main Street")
    after, after_cursor = await sent_with_cursor(alice, "the next line")
    path = server.log_path("general")
    size, lines = path.stat().st_size, server.file_lines("general")
    status, out, err = await cli(server, "delete", "general", cursor, "--erase")
    assert (status, err) == (0, "") and out == f"the message of Alice at {line[1:20]} was erased by the operator\n"
    await alice.event("deleted")
    await alice.until_line("was erased by the operator")
    now = server.file_lines("general")
    erased = f"{line[:line.index('Alice: ') + 7]}{'*' * len('my address is 1 Main Street')}"
    assert now[: len(lines)] == [erased if old == line else old for old in lines]
    assert path.read_bytes()[:size].count(b"\n") == len(lines) and len(path.read_bytes()[:size]) == size
    assert (await cli(server, "check"))[0] == 0
    await alice.send({"type": "history", "around": after_cursor, "limit": 1})
    assert (await alice.event("history"))["data"]["message"] == after
    assert await cli(server, "delete", "general", "nonsense") == (
        2, "", "wsserver: cannot delete at cursor 'nonsense' in general: No line at that cursor\n")


async def test_channel_operators_moderate_from_the_chat_and_others_cannot(
    start_server: Any, connect: Any, tmp_path: Path
) -> None:
    server = await start_server("--jwt-secret", SECRET, "--rate-limit", "0")
    op = await joined(await connect(server, None, token=token("Olga", ops=["general"])), "Olga")
    bob = await joined(await connect(server, None, token=token("Bob")), "Bob")
    eve = await joined(await connect(server, None, token=token("Eve", ops=["tech"])), "Eve")  # an operator elsewhere
    await eve.send({"type": "moderate", "action": "kick", "handle": "Bob"})
    assert await error(eve) == {"success": False, "message": "Only channel operators may do that"}
    assert not (server.data_dir / "moderation.log").exists()
    for request, sentence in [
        ({"action": "explode", "handle": "Bob"}, "action must be one of kick, ban, unban, mute, unmute"),
        ({"action": "ban", "handle": "-"}, "handle must be a handle (3 to 16 letters, digits, underscores or dashes, not starting with a dash)"),
        ({"action": "ban", "handle": "Bob", "for": "soon"}, "for must be a duration such as 30m, 2h, 7d or 1h30m"),
        ({"action": "kick", "handle": "Bob", "for": "1h"}, "for applies to ban and mute only"),
        ({"action": "kick", "handle": "Bob", "reason": "x" * 201}, "reason must be one line of at most 200 characters"),
    ]:
        await op.send({"type": "moderate", **request})
        assert await error(op) == {"success": False, "message": f"Invalid moderate request: {sentence}"}
    await op.send({"type": "moderate", "action": "mute", "handle": "bob", "for": "10m"})
    await bob.until_line("System: Bob was muted by Olga for 10m")
    await bob.chat("hello?")
    assert await error(bob) == {"success": False, "message": "You are muted in this channel"}
    await op.send({"type": "moderate", "action": "ban", "handle": "Bob", "reason": "spam"})
    assert await error(bob) == {"success": False, "message": "You are banned from this channel: spam"}
    assert (await bob.closed())[0] == 1008
    await op.until_line("System: Bob was banned by Olga until unbanned (spam)")
    again = await connect(server, None, token=token("Bob"))
    assert await error(again) == {"success": False, "message": "You are banned from this channel"}
    await op.send({"type": "moderate", "action": "kick", "handle": "Nobody"})
    assert await error(op) == {"success": False, "message": "User not found"}
    # An operator deletes anyone's line; the resume token keeps the operator an operator.
    _, cursor = await sent_with_cursor(eve, "a line Olga removes")
    await op.send({"type": "delete", "cursor": cursor})
    await eve.event("deleted", cursor=cursor)
    resume = (await op.event("token"))["data"]["token"]
    assert jwt.decode(resume, options={"verify_signature": False})["op"] is True
    assert "op" not in jwt.decode((await eve.event("token"))["data"]["token"], options={"verify_signature": False})


async def test_without_tokens_nobody_moderates_from_the_chat(server: Server, connect: Any) -> None:
    alice = await joined(await connect(server, "Alice"), "Alice")
    await joined(await connect(server, "Bob"), "Bob")
    await alice.send({"type": "moderate", "action": "ban", "handle": "Bob"})
    assert await error(alice) == {"success": False, "message": "Only channel operators may do that"}
    assert not (server.data_dir / "moderation.log").exists()


async def test_moderation_crosses_nodes_on_redis(nodes: Any, connect: Any, redis_server: Any) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await joined(await connect(a, "Alice"), "Alice")
    bob = await joined(await connect(b, "Bob"), "Bob")
    _, cursor = await sent_with_cursor(alice, "to be deleted")
    await bob.until_line("Alice: to be deleted")
    status, out, _ = await run_cli("delete", "general", cursor, "--store", redis_server.url)
    assert status == 0 and out.endswith("was deleted by the operator\n")
    assert await bob.event("deleted") == {"success": True, "event": "deleted",
                                          "data": {"channel": "general", "cursor": cursor}}
    status, out, _ = await run_cli("ban", "general", "Alice", "--store", redis_server.url)
    assert (status, out) == (0, "Alice was banned by the operator until unbanned\n")
    assert await error(alice) == {"success": False, "message": "You are banned from this channel"}
    refused = await connect(b, "alice")
    assert await error(refused) == {"success": False, "message": "You are banned from this channel"}
    await bob.until_line("System: Alice was banned by the operator until unbanned")
    status, out, _ = await run_cli("bans", "--store", redis_server.url)
    assert (status, out) == (0, "general\tAlice\tban\tuntil lifted\tthe operator\t\n")
    c = await nodes("c")  # a node started later folds the stream
    refused = await connect(c, "Alice")
    assert await error(refused) == {"success": False, "message": "You are banned from this channel"}
    carol = await connect(c, "Carol")
    backlog = (await carol.frame())["data"]
    assert "to be deleted" not in backlog["message"] and backlog["deleted"]


@pytest.mark.parametrize("bad", [["kick", "general", "-"], ["ban", "general", "Bob", "--for", "ever"],
                                 ["mute", "nowhere", "Bob"], ["bans", "Nope!"]])
async def test_bad_moderation_commands_exit_2_naming_the_value(server: Server, bad: list[str]) -> None:
    status, out, err = await cli(server, *bad)
    assert status == 2 and out == "" and err.startswith("wsserver: ") and err.count("\n") == 1
    assert not (server.data_dir / "moderation.log").exists()


async def test_check_reports_a_line_of_the_moderation_log_that_is_not_an_action(server: Server, connect: Any) -> None:
    assert (await cli(server, "ban", "general", "Mallory"))[0] == 0
    with (server.data_dir / "moderation.log").open("a") as log:
        log.write('{"action": "explode"}\n')
    status, out, _ = await cli(server, "check")
    assert status == 1
    assert f"{server.data_dir / 'moderation.log'}:2: not a moderation action (JSON with action, channel, by)" in out
    refused = await connect(server, "Mallory")  # the server skipped the bad line and kept the ban
    assert await error(refused) == {"success": False, "message": "You are banned from this channel"}
    await server.wait_for_log("skipping a line of .*moderation.log that is not an action")
