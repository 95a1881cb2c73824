"""Text that is not Unicode is refused at the door, found by check in old logs, and printed escaped by the tools."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from .support import Server, joined
from .support import run_cli as run

NOT_UNICODE = {"success": False, "message": "Text is not valid Unicode: it holds a lone surrogate"}
# An older server let this line in: the escape \ud800 unescapes to a lone surrogate.
OLD_LINE = "[2026-11-22 14:07:03] Alice: a\\ud800b\n"


async def test_a_lone_surrogate_is_refused_in_every_field(server: Server, connect: Any) -> None:
    """Chat, private, edit, upload and reaction frames with a lone surrogate anywhere get the sentence; nothing is logged."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    frames = [
        '{"type": "chat", "message": "a\\ud800b"}',
        '{"type": "chat", "message": "tail \\uDFFF"}',
        '{"type": "private", "to": "Bob", "message": "\\udbff"}',
        '{"type": "edit", "cursor": "x", "message": "a\\ud800"}',
        '{"type": "upload", "name": "a\\ud800.png", "size": 3}',
        '{"type": "chat", "message": "ok", "extra": {"\\ud800": 1}}',
    ]
    for frame in frames:
        await alice.send(frame)
        assert await alice.refusal() == NOT_UNICODE, frame
    await alice.send('{"type": "chat", "message": "a pair is fine \\ud83d\\ude00"}')
    assert (await alice.until_line("a pair is fine")).endswith("Alice: a pair is fine \U0001f600")
    log = (server.data_dir / "channel_general.log").read_text(encoding="utf-8")
    assert "\\ud8" not in log and "\\udb" not in log and "\\udf" not in log


async def test_check_reports_a_lone_surrogate_in_an_old_log(tmp_path: Path) -> None:
    """check names the line that holds a lone surrogate and exits 1."""
    (tmp_path / "channel_general.log").write_text("[2026-11-22 14:07:02] Alice: fine\n" + OLD_LINE)
    code, out, _ = await run("check", "--data-dir", str(tmp_path))
    assert code == 1
    assert f"{tmp_path / 'channel_general.log'}:2: the text holds a lone surrogate (not Unicode; the tools print it " \
           "escaped)" in out


async def test_the_tools_print_a_lone_surrogate_escaped(tmp_path: Path) -> None:
    """tail --no-follow, export and export --json print such a line with the surrogate escaped, and exit 0."""
    (tmp_path / "channel_general.log").write_text(OLD_LINE)
    data = ("--data-dir", str(tmp_path))
    tail = await run("tail", "general", "-n", "5", "--no-follow", *data)
    assert (tail.returncode, tail.stderr) == (0, "")
    assert tail.stdout.endswith("Alice: a\\ud800b\n")
    export = await run("export", "general", *data)
    assert export == (0, OLD_LINE, "")
    as_json = await run("export", "general", "--json", *data)
    assert (as_json.returncode, as_json.stderr) == (0, "")
    assert '"text": "a\\ud800b"' in as_json.stdout or '"text":"a\\ud800b"' in as_json.stdout


async def test_a_following_tail_survives_a_lone_surrogate(tmp_path: Path) -> None:
    """A running tail prints the line escaped and goes on to the next line."""
    log = tmp_path / "channel_general.log"
    log.write_text("[2026-11-22 14:07:01] Alice: before\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wsserver", "tail", "general", "--data-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        assert (await asyncio.wait_for(process.stdout.readline(), 30)).decode().endswith("Alice: before\n")
        with log.open("a") as out:
            out.write(OLD_LINE + "[2026-11-22 14:07:04] Alice: after\n")
        assert (await asyncio.wait_for(process.stdout.readline(), 30)).decode().endswith("Alice: a\\ud800b\n")
        assert (await asyncio.wait_for(process.stdout.readline(), 30)).decode().endswith("Alice: after\n")
        assert process.returncode is None
    finally:
        process.terminate()
        await process.wait()


async def test_say_refuses_text_that_is_not_utf8(server: Server) -> None:
    """wsserver say with bytes that are not UTF-8 names the problem and exits 2; nothing is appended."""
    before = (server.data_dir / "channel_general.log").read_bytes()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wsserver", "say", "general", b"caf\xe9", "--data-dir", str(server.data_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert (process.returncode, out, err) == (2, b"", b"wsserver: the text is not valid UTF-8\n")
    assert (server.data_dir / "channel_general.log").read_bytes() == before


async def test_a_closed_pipe_ends_a_command_quietly(tmp_path: Path) -> None:
    """export | head -3: the command ends with 141 and no traceback when the reader goes away."""
    (tmp_path / "channel_general.log").write_text(
        "".join(f"[2026-11-22 14:07:03] Alice: line {i} {'x' * 100}\n" for i in range(20000)))
    process = await asyncio.create_subprocess_shell(
        f"{sys.executable} -m wsserver export general --data-dir {tmp_path} | head -3; echo \"${{PIPESTATUS[0]}}\"",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, executable="/bin/bash")
    out, err = await asyncio.wait_for(process.communicate(), 60)
    lines = out.decode().splitlines()
    assert lines[:3] == [f"[2026-11-22 14:07:03] Alice: line {i} {'x' * 100}" for i in range(3)]
    assert (lines[3:], err.decode()) == (["141"], "")
