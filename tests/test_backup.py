"""`wsserver backup DIR` while a server runs, and the backup served as a data dir: lines, files, read positions, bans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from wsserver import protocol

from .support import joined, run_cli
from .test_uploads import shared


def cursor_of(frame: dict[str, Any], ending: str) -> str:
    """Return the cursor of the line of a lines frame that ends with ``ending``."""
    lines = frame["message"].split("\n")
    return str(frame["cursors"][next(i for i, line in enumerate(lines) if line.endswith(ending))])


async def test_a_backup_taken_while_serving_comes_back_whole(start_server: Any, connect: Any, tmp_path: Path,
                                                             session: aiohttp.ClientSession) -> None:
    """Lines, a shared file, a read position, a resume cursor and a ban of the running server are in the restored one."""
    server = await start_server("--rate-limit", "0")
    alice = await joined(await connect(server, "Alice"), "Alice")
    link = await run_cli("accounts", "add", "Grace", "--data-dir", str(server.data_dir))  # an account, for later
    assert link.returncode == 0, link
    await alice.chat("before the backup")
    said = cursor_of(await alice.until_line_frame("Alice: before the backup"), "Alice: before the backup")
    await alice.send({"type": "read", "cursor": said})
    assert (await alice.event("read"))["data"]["cursor"] == said
    photo = await shared(server, alice, "notes.txt", b"kept in the backup")
    assert (await run_cli("ban", "general", "Mallory", "--data-dir", str(server.data_dir))).returncode == 0
    await alice.until_line("was banned")
    target = tmp_path / "backup"
    result = await run_cli("backup", str(target), "--data-dir", str(server.data_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("copied 4 log files and the moderation log: ")
    assert "copied 1 read positions\n" in result.stdout and result.stdout.endswith(f"backup done: {target}\n")
    await alice.chat("after the backup")
    await alice.until_line("Alice: after the backup")
    await server.stop()  # as a restore goes: the old server is gone (its seats in the copy are reclaimed)

    restored = await start_server(data_dir=target)
    bob = await joined(await connect(restored, "Bob"), "Bob")
    assert [line for line in bob.lines if "backup" in line and "Alice: " in line][-1].endswith("Alice: before the backup")
    async with session.get(restored.url + photo["url"]) as response:
        assert response.status == 200 and await response.read() == b"kept in the backup"
    # The read position, and a cursor of the old server, name the same line in the restored one.
    again = await connect(restored, "Alice")
    frame = await again.until_line_frame("Alice: before the backup")
    assert (await again.event("read"))["data"]["cursor"] == cursor_of(frame, "Alice: before the backup")
    resumed = await connect(restored, "Carol", since=said)
    assert (await resumed.event("resumed"))["data"] == {"channel": "general", "recovered": True}
    mallory = await connect(restored, "Mallory")
    assert await mallory.refusal() == {"success": False, "message": protocol.Code.BANNED.sentence}
    listed = await run_cli("accounts", "list", "--data-dir", str(target))
    assert [row.split("\t")[0] for row in listed.stdout.splitlines()] == ["handle", "Grace"]


async def test_a_backup_goes_into_a_new_or_empty_directory_only(server: Any, tmp_path: Path) -> None:
    """A target that holds anything, or lies inside the data dir, is refused (exit 2) and nothing is written."""
    full = tmp_path / "full"
    full.mkdir()
    (full / "mine.txt").write_text("keep me")
    result = await run_cli("backup", str(full), "--data-dir", str(server.data_dir))
    assert (result.returncode, result.stderr) == (
        2, f"wsserver: {full} is not empty: a backup goes into a new or empty directory\n")
    inside = server.data_dir / "backup"
    result = await run_cli("backup", str(inside), "--data-dir", str(server.data_dir))
    assert (result.returncode, result.stderr) == (
        2, f"wsserver: {inside} is inside the data dir {server.data_dir}: put the backup elsewhere\n")
    assert sorted(p.name for p in full.iterdir()) == ["mine.txt"] and not inside.exists()
