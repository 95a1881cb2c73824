"""Operator commands against a live data dir, and crash recovery."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path
from typing import Any

from .support import Server, joined, start_cli
from .support import run_cli as run


async def test_say_reaches_connected_clients(server: Server, connect: Any) -> None:
    """wsserver say appends a System line, and clients get it through the ordinary tailing."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    code, _, err = await run("say", "general", "maintenance at noon\nbe ready", "--data-dir", str(server.data_dir))
    assert (code, err) == (0, "")
    line = await alice.until_line("maintenance at noon")
    assert line.endswith("] System: maintenance at noon\\nbe ready")


async def test_say_refuses_bad_input(server: Server) -> None:
    """say names the problem (a bad channel name, a channel with no log, empty text) and exits 2."""
    data = str(server.data_dir)
    assert await run("say", "Bad!", "x", "--data-dir", data) == (
        2, "", "wsserver: invalid channel name 'Bad!': must match ^[a-z0-9][a-z0-9_-]{0,31}$\n")
    assert await run("say", "nope", "x", "--data-dir", data) == (
        2, "", f"wsserver: no log for channel 'nope' in {data}\n")
    assert await run("say", "general", "  ", "--data-dir", data) == (2, "", "wsserver: the text is empty\n")


async def test_every_command_names_a_missing_data_dir(tmp_path: Path) -> None:
    """An operator command on a data dir that does not exist says so and exits 2 (it creates nothing)."""
    missing = tmp_path / "nonexistent"
    for command in (("users",), ("say", "general", "x"), ("tail", "general"), ("check",), ("export", "general")):
        assert await run(*command, "--data-dir", str(missing)) == (2, "", f"wsserver: no data dir at {missing}\n")
    assert not missing.exists()


async def test_users_lists_who_is_where(start_server: Any, connect: Any) -> None:
    """wsserver users lists every connected user with its process, optionally for one channel."""
    first = await start_server()
    second = await start_server(data_dir=first.data_dir)
    await joined(await connect(first, "Alice"), "Alice")
    await joined(await connect(second, "Bob", "tech"), "Bob")
    host = socket.gethostname()
    assert first.process is not None and second.process is not None
    code, out, _ = await run("users", "--data-dir", str(first.data_dir))
    assert code == 0
    assert out == f"general\tAlice\t{host}:{first.process.pid}\ntech\tBob\t{host}:{second.process.pid}\n"
    code, out, _ = await run("users", "tech", "--data-dir", str(first.data_dir))
    assert out == f"tech\tBob\t{host}:{second.process.pid}\n"


async def test_tail_follows_with_text_unescaped(server: Server, connect: Any) -> None:
    """wsserver tail prints the last lines, then new ones as they come, unescaped; Ctrl+C stops it."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    await alice.chat("before")
    await alice.until_line("Alice: before")
    process = await start_cli("tail", "general", "-n", "1", "--data-dir", str(server.data_dir))
    assert process.stdout is not None
    first = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
    assert first.endswith("] Alice: before\n")
    await alice.chat("two\nlines")
    second = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
    third = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
    assert second.endswith("] Alice: two\n") and third == "lines\n"
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), 10) == 0


async def test_check_passes_on_a_used_data_dir(server: Server, connect: Any) -> None:
    """wsserver check finds nothing wrong with what servers write."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await alice.chat("hello\tthere\n\x00 ünï 🎉")
    await alice.send({"type": "private", "to": "Bob", "message": "psst"})
    await bob.event("private")
    code, out, err = await run("check", "--data-dir", str(server.data_dir))
    assert (code, err) == (0, "")
    assert out.startswith("checked 5 file(s), ")
    assert out.endswith(": 0 problem(s)\n")


async def test_check_reports_problems_with_file_and_line(tmp_path: Path) -> None:
    """check prints file:line: problem for each, and exits 1."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "channel_general.log").write_bytes(
        b"[2026-11-22 10:00:00] Alice: fine\\n\nno format\n[2026-13-40 10:00:00] Bob: date\n"
        b"[2026-11-22 10:00:00] Bob: \\x\n[2026-11-22 10:00:00] Bob: raw\x07bell\n"
        b"[2026-11-22 10:00:00] A -> B: wrong file\n\xff\xfe\n[2026-11-22 10:00:00] Bob: torn"
    )
    (data / "private_general.log").write_bytes(b"[2026-11-22 10:00:00] Alice: no recipient\n")
    (data / "registered_users.log").write_text("Alice|general|h|1|2\nalice|general\nx|y\nnofields\n")
    code, out, err = await run("check", "--data-dir", str(data))
    assert code == 1
    general, private, users = data / "channel_general.log", data / "private_general.log", data / "registered_users.log"
    assert out.splitlines() == [
        f"{general}:2: not in the log format [YYYY-MM-DD HH:mm:ss] HANDLE: TEXT",
        f"{general}:3: invalid timestamp 2026-13-40 10:00:00",
        f"{general}:4: unknown escape sequence \\x",
        f"{general}:5: unescaped control character",
        f"{general}:6: a private line in a channel log",
        f"{general}:7: not valid UTF-8",
        f"{general}:8: last line has no newline (torn write)",
        f"{private}:1: a private log line needs FROM -> TO",
        f"{users}:2: alice is registered twice in general (also line 1)",
        f"{users}:3: invalid handle 'x'",
        f"{users}:4: expected handle|channel",
    ]
    assert err == "checked 3 file(s), 13 line(s): 11 problem(s)\n"


async def test_sigkill_during_a_burst_then_restart(start_server: Any, connect: Any) -> None:
    """After SIGKILL mid-burst, a restart finds only whole lines (check passes) and the handles free."""
    server = await start_server("--rate-limit", "0")
    alice = await joined(await connect(server, "Alice"), "Alice")
    for i in range(2000):
        await alice.chat(f"burst {i} " + "x" * 100)
    await alice.until_line("burst 300 ")
    await server.stop(signal.SIGKILL)
    again = await start_server("--rate-limit", "0", data_dir=server.data_dir)
    code, out, err = await run("check", "--data-dir", str(server.data_dir))
    assert (code, err) == (0, ""), out
    await joined(await connect(again, "Alice"), "Alice")
    lines = [line for line in again.file_lines("general") if "burst" in line]
    assert [int(line.split("burst ")[1].split()[0]) for line in lines] == list(range(len(lines)))
