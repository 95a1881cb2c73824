"""Deleting a private line: by its sender only, told to its two ends only, on every process and node.

Real servers (two processes of one data dir, or two nodes of one Redis), real sockets of token identities;
the logs and the moderation log read back after the deletion.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wsserver.protocol import Code

from .support import SECRET, Client, joined, run_cli, token
from .test_private_history import backlog_private


async def pair(kind: str, start_server: Any, nodes: Any, tmp_path: Path) -> tuple[Any, Any]:
    """Two servers of one chat: two processes of one data dir, or two Redis nodes."""
    if kind == "files":
        first = await start_server("--jwt-secret", SECRET, "--rate-limit", "0", data_dir=tmp_path / "data")
        second = await start_server("--jwt-secret", SECRET, "--rate-limit", "0", data_dir=tmp_path / "data")
        return first, second
    return await nodes("a", "--jwt-secret", SECRET), await nodes("b", "--jwt-secret", SECRET)


async def private_line(client: Client, text: str) -> dict[str, Any]:
    """Return the data of the next private event whose line ends with ``text``."""
    while not (data := (await client.event("private"))["data"])["message"].endswith(f": {text}"):
        pass
    return data


@pytest.mark.parametrize("kind", ["files", "redis"])
async def test_the_sender_deletes_a_private_line_and_only_its_two_ends_are_told(
        kind: str, start_server: Any, nodes: Any, connect: Any, tmp_path: Path, request: Any) -> None:
    if kind == "redis":
        request.getfixturevalue("redis_server")
    first, second = await pair(kind, start_server, nodes, tmp_path)
    alice = await joined(await connect(first, None, token=token("Alice")), "Alice")
    bob = await joined(await connect(second, None, token=token("Bob")), "Bob")
    carol = await joined(await connect(second, None, token=token("Carol", op=True)), "Carol")  # an operator
    await alice.send({"type": "private", "to": "Bob", "message": "meet at 5, the code is 1234"})
    sent = (await bob.event("private"))["data"]
    cursor = sent["cursor"]
    await alice.event("private")
    resume_from = bob.frames[-1]["data"]["cursor"]

    # Neither the recipient nor a channel operator may delete it; a channel cursor is not a private one.
    for who in (bob, carol):
        await who.send({"type": "delete", "cursor": cursor, "private": True})
        assert (await who.refusal())["message"] == Code.NOT_YOURS.sentence
    await alice.send({"type": "delete", "cursor": "0-0-0", "private": True})
    assert (await alice.refusal())["message"] == Code.BAD_AROUND.sentence
    await alice.send({"type": "delete", "cursor": cursor, "private": "yes"})
    assert (await alice.refusal())["message"] == Code.INVALID_FORMAT.sentence

    await alice.send({"type": "delete", "cursor": cursor, "private": True})
    deleted = {"success": True, "event": "deleted", "data": {"channel": "general", "cursor": cursor, "private": True}}
    assert await alice.event("deleted") == deleted
    assert await bob.event("deleted") == deleted
    await alice.send({"type": "delete", "cursor": cursor, "private": True})
    assert (await alice.refusal())["message"] == Code.ALREADY_DELETED.sentence
    # Carol is told nothing, and the channel's log says nothing of it.
    await alice.chat("after the deletion")
    await carol.until_line("Alice: after the deletion")
    assert [frame for frame in carol.events if frame["event"] == "deleted"] == []
    assert "private message" not in "\n".join(carol.lines)

    # Bob's next device has its other private lines, not that one; a resume is told to hide it.
    await alice.send({"type": "private", "to": "Bob", "message": "sorry, wrong code"})
    await private_line(bob, "sorry, wrong code")  # read back on Bob's process
    assert await backlog_private(await connect(second, None, token=token("Bob"))) == ["Alice -> Bob: sorry, wrong code"]
    back = await connect(first, None, token=token("Bob"), since=resume_from)
    assert (await back.event("resumed"))["data"]["recovered"] is True
    assert await back.event("deleted") == deleted
    assert await backlog_private(back) == ["Alice -> Bob: sorry, wrong code"]
    # A history page leaves it out too.
    await back.send({"type": "history", "limit": 10})
    page = (await back.event("history"))["data"]
    assert [data["message"].split("] ", 1)[1] for data in page["private"]] == ["Alice -> Bob: sorry, wrong code"]
    if kind == "files":
        # The private log keeps the line; the moderation log says who deleted whose line to whom.
        assert sent["message"] in (first.data_dir / "private_general.log").read_text().splitlines()
        assert not [line for line in first.file_lines("general") if "private message" in line]
        actions = [json.loads(raw) for raw in (first.data_dir / "moderation.log").read_text().splitlines()]
        assert [(a["action"], a["cursor"], a["by"], a["handle"], a["to"]) for a in actions] == [
            ("delete", cursor, "Alice", "Alice", "Bob")]


async def test_a_channel_line_cursor_is_not_a_private_line(server: Any, connect: Any) -> None:
    """Open handles: a private delete of a public line's cursor names no private line; the public line stays."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    await alice.chat("public")
    frame = await alice.until_line_frame("Alice: public")
    await alice.send({"type": "delete", "cursor": frame["cursors"][-1], "private": True})
    assert (await alice.refusal())["message"] == Code.BAD_AROUND.sentence


@pytest.mark.parametrize("kind", ["files", "redis"])
async def test_the_operator_erases_a_private_line_on_request(kind: str, start_server: Any, nodes: Any, connect: Any,
                                                            tmp_path: Path, request: Any) -> None:
    """``wsserver delete CHANNEL CURSOR --private --erase``: its two ends are told; its text is gone from the store."""
    where: list[str]
    if kind == "redis":
        redis = request.getfixturevalue("redis_server")
        where = ["--store", redis.url]
    first, second = await pair(kind, start_server, nodes, tmp_path)
    if kind == "files":
        where = ["--data-dir", str(first.data_dir)]
    alice = await joined(await connect(first, None, token=token("Alice")), "Alice")
    bob = await joined(await connect(second, None, token=token("Bob")), "Bob")
    carol = await joined(await connect(second, None, token=token("Carol")), "Carol")
    await alice.send({"type": "private", "to": "Bob", "message": "my address is 1 Long Road"})
    sent = await private_line(bob, "my address is 1 Long Road")
    stamp = sent["message"][1:20]
    status, out, err = await run_cli("delete", "general", sent["cursor"], "--erase", *where)
    assert status == 2 and "No line at that cursor" in err, "a private cursor is no line of the channel's log"
    status, out, _ = await run_cli("delete", "general", sent["cursor"], "--private", "--erase", *where)
    assert (status, out) == (0, f"the private message of Alice to Bob at {stamp} was erased by the operator\n")
    deleted = {"success": True, "event": "deleted",
               "data": {"channel": "general", "cursor": sent["cursor"], "private": True}}
    assert await alice.event("deleted") == deleted
    assert await bob.event("deleted") == deleted
    await alice.chat("and now for something else")
    await carol.until_line("Alice: and now for something else")
    assert [frame for frame in carol.events if frame["event"] == "deleted"] == []
    status, _, err = await run_cli("delete", "general", sent["cursor"], "--private", *where)
    gone = "That line is already deleted" if kind == "files" else "No line at that cursor"  # XDEL: no entry left
    assert status == 2 and gone in err
    assert (await run_cli("check", *where)).returncode == 0
    if kind == "files":
        private = (first.data_dir / "private_general.log").read_text().splitlines()
        assert private == [f"[{stamp}] Alice -> Bob: {'*' * len('my address is 1 Long Road')}"]
        assert not [line for line in first.file_lines("general") if "private message" in line]
