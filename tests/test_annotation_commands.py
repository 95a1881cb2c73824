"""What operators and search see of annotations: deletion and erase, search of edits, export --json."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp

from wsserver import protocol

from .support import run_cli
from .test_annotations import history, pair, said, tell_story, until_event


async def search(session: aiohttp.ClientSession, server: Any, **query: str) -> dict[str, Any]:
    async with session.get(f"{server.url}/api/channels/general/search", params=query) as response:
        assert response.status == 200
        return dict(await response.json())


async def test_a_deleted_line_loses_its_reactions_and_edit_and_erase_removes_the_edit(
        start_server: Any, connect: Any) -> None:
    """Delete: no reactions or edit in any answer; the operator's erase overwrites the edit's text in the file too."""
    server = await start_server("--rate-limit", "0")
    alice, bob = await pair(server, connect)
    story = await tell_story(alice, bob)
    await bob.send({"type": "react", "cursor": story["second"], "emoji": "🎉"})
    await until_event(alice, "reactions", lambda data: data["cursor"] == story["second"])
    status, _, err = await run_cli("delete", "general", story["second"], "--erase", "--data-dir", str(server.data_dir))
    assert (status, err) == (0, ""), err
    await alice.event("deleted")
    page = await history(alice, limit=20)
    at = str(page["cursors"].index(story["second"]))
    assert at in [str(i) for i in page["deleted"]]
    assert at not in page.get("edited", {}) and at not in page.get("reactions", {})
    text = server.log_path("general").read_text(encoding="utf-8")
    assert "second, edited" not in text and "Alice: second\n" not in text
    assert re.search(r"Alice edited Alice's line of [0-9 :-]+ #[0-9]+: \*{14}\n", text), "the edit's text erased"
    await bob.until_line("was erased by the operator")
    await bob.send({"type": "react", "cursor": story["second"], "emoji": "👍"})
    assert await bob.refusal() == {"success": False, "message": protocol.Code.ALREADY_DELETED.sentence}
    assert (await run_cli("check", "--data-dir", str(server.data_dir)))[0] == 0, "annotation lines pass check"


async def test_search_finds_an_edit_as_the_edited_line_once(start_server: Any, connect: Any) -> None:
    """The API and the command find the new text as the edited line, with its cursor; the old text is not found."""
    server = await start_server("--rate-limit", "0")
    alice, bob = await pair(server, connect)
    [line] = await said(alice, "the meeting is at noon")
    await alice.send({"type": "edit", "cursor": line, "message": "the meeting is at three"})
    await bob.event("edited")
    await bob.send({"type": "react", "cursor": line, "emoji": "👍"})
    await bob.event("reactions")
    async with aiohttp.ClientSession() as session:
        for query, found in [("three", True), ("noon", False), ("meeting", True), ("reacted", False)]:
            body = await search(session, server, q=query)
            results = [r for r in body["results"] if r["cursor"] == line]
            assert len(results) == (1 if found else 0), (query, body)
            if found:
                assert results[0]["line"].endswith("Alice: the meeting is at three") and results[0]["edited"] is True
    status, out, _ = await run_cli("search", "general", "meeting", "--data-dir", str(server.data_dir))
    assert status == 0 and out.count("meeting") == 1 and out.strip().endswith("Alice: the meeting is at three")


async def test_export_json_folds_annotations_in(start_server: Any, connect: Any) -> None:
    """export --json: one object a shown line, with reactions, edit, reply and thread; no annotation lines."""
    server = await start_server("--rate-limit", "0")
    alice, bob = await pair(server, connect)
    story = await tell_story(alice, bob)
    status, out, err = await run_cli("export", "general", "--json", "--data-dir", str(server.data_dir))
    assert (status, err) == (0, "")
    records = {record["cursor"]: record for record in map(json.loads, out.splitlines())}
    assert all(r["handle"] in ("Alice", "Bob", "System") for r in records.values())
    assert records[story["first"]]["reactions"] == {"👍": ["Bob"]}
    assert records[story["first"]]["thread"] == {"replies": 1, "last": story["reply"]}
    assert records[story["reply"]]["reply_to"] == story["first"]
    assert records[story["reply"]]["text"] == "a reply"
    assert records[story["second"]]["edited"] == "second, edited"
    assert len(records) == sum(1 for line in server.file_lines("general") if "'s line of" not in line)


async def test_erase_on_redis_removes_the_edits_entries(nodes: Any, connect: Any, redis_server: Any) -> None:
    """On a Redis store the operator's erase deletes the line's entry and its edits' entries (XDEL)."""
    server = await nodes("a")
    alice, bob = await pair(server, connect)
    story = await tell_story(alice, bob)
    status, _, err = await run_cli("delete", "general", story["second"], "--erase", "--store", redis_server.url)
    assert (status, err) == (0, ""), err
    await alice.event("deleted")
    stream = [fields[b"line"].decode() for _, fields in redis_server.client().xrange("wsserver:channel:general")]
    assert not any("second, edited" in line or line.endswith("Alice: second") for line in stream)
    assert any(line.endswith("Alice: first") for line in stream)
