"""The annotation index is derived from the log: snapshots speed it up, and the log wins whenever they disagree."""

from __future__ import annotations

import json
import shutil
from typing import Any

from wsserver.lines.annotation import reaction_line

from .support import joined
from .test_annotations import history, pair, said, until_event


async def _stopped_after_a_reaction(start_server: Any, connect: Any, data: Any) -> Any:
    """A server on ``data``: Alice says a line, Bob reacts to it, the server stops; return the log's path."""
    server = await start_server("--rate-limit", "0", data_dir=data)
    alice, bob = await pair(server, connect)
    [line] = await said(alice, "snapshot me")
    await bob.send({"type": "react", "cursor": line, "emoji": "👍"})
    await until_event(alice, "reactions", lambda data: data["cursor"] == line)
    await server.stop()
    return server.log_path("general")


async def _reactions_after_restart(start_server: Any, connect: Any, data: Any, line_text: str) -> dict[str, Any]:
    server = await start_server("--rate-limit", "0", data_dir=data)
    dave = await joined(await connect(server, "Dave"), "Dave")
    page = await history(dave, limit=50)
    at = next(str(i) for i, line in enumerate(page["message"].split("\n")) if line.endswith(line_text))
    reactions: dict[str, Any] = page.get("reactions", {}).get(at, {})
    await server.stop()
    return reactions


async def test_a_snapshot_is_written_at_stop_and_lines_after_it_are_folded(start_server: Any, connect: Any,
                                                                           tmp_path: Any) -> None:
    """Stop writes index/general.json; a reaction appended by hand afterwards is folded at the next start."""
    data = tmp_path / "data"
    path = await _stopped_after_a_reaction(start_server, connect, data)
    snapshot_path = data / "index" / "general.json"
    snapshot = json.loads(snapshot_path.read_text())
    # Proof that a fitting snapshot is read, not the whole log: a mark only the snapshot holds shows up.
    [entry] = snapshot["lines"]
    entry[1]["🔥"] = ["Zed"]
    snapshot_path.write_text(json.dumps(snapshot))
    text = path.read_bytes()
    target = text.index(b"Alice: snapshot me\n") + len(b"Alice: snapshot me\n")  # the line's byte offset: its ref
    stamp = text[text.index(b"Alice: snapshot me") - 22:][1:20].decode()
    line = reaction_line("2026-12-01 10:00:00", "Carol", "🎉", "Alice", stamp, str(target)) + "\n"
    path.write_bytes(text + line.encode())  # an operator's append while no server runs
    assert await _reactions_after_restart(start_server, connect, data, "snapshot me") == {
        "👍": ["Bob"], "🔥": ["Zed"], "🎉": ["Carol"]}


async def test_a_snapshot_that_does_not_fit_is_rebuilt_from_the_log(start_server: Any, connect: Any,
                                                                    tmp_path: Any) -> None:
    """Garbage in the snapshot, then the log copied to a new file (a restored backup): the log's annotations hold."""
    data = tmp_path / "data"
    path = await _stopped_after_a_reaction(start_server, connect, data)
    (data / "index" / "general.json").write_text("{not json")
    assert await _reactions_after_restart(start_server, connect, data, "snapshot me") == {"👍": ["Bob"]}
    copy = path.with_suffix(".copy")
    shutil.copy(path, copy)
    copy.replace(path)  # another inode: the snapshot's log no longer exists, refs (byte offsets) still hold
    assert await _reactions_after_restart(start_server, connect, data, "snapshot me") == {"👍": ["Bob"]}
    # A log cut back by an operator: the snapshot's position is gone, the index is rebuilt without it.
    whole = path.read_bytes()
    path.write_bytes(whole[: whole.index(b"Alice: snapshot me")].rsplit(b"\n", 1)[0] + b"\n")
    server = await start_server("--rate-limit", "0", data_dir=data)
    dave = await joined(await connect(server, "Dave"), "Dave")
    page = await history(dave, limit=50)
    assert "reactions" not in page and "snapshot me" not in page["message"]


async def test_a_log_cut_back_in_place_forgets_the_annotations_of_lines_gone(start_server: Any, connect: Any) -> None:
    """copytruncate, then a line of the same length at the same offset: it does not inherit the old line's reactions."""
    server = await start_server("--rate-limit", "0")
    alice, bob = await pair(server, connect)
    [line] = await said(alice, "one")
    await bob.send({"type": "react", "cursor": line, "emoji": "👍"})
    await until_event(alice, "reactions", lambda data: data["cursor"] == line)
    path = server.log_path("general")
    text = path.read_bytes()
    kept = text[: text.index(b"Alice: one\n") + len(b"Alice: one\n")]
    path.write_bytes(b"")  # logrotate's copytruncate, then the same bytes but for one word
    path.write_bytes(kept.replace(b"Alice: one\n", b"Alice: uno\n"))
    frame = await bob.until_line_frame("Alice: uno")
    assert frame["cursors"][-1] == line, "the same position: the same cursor"
    assert "reactions" not in frame
    page = await history(bob, limit=10)
    assert "reactions" not in page
