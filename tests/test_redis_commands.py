"""The operator commands on a Redis store: export, say, users, tail and check read and write what the nodes do."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from .support import REPO, RedisServer, becomes, eventually, free_port, joined, run_cli, start_cli


async def test_export_prints_the_stream_as_log_lines(nodes: Any, connect: Any, redis_server: RedisServer) -> None:
    """wsserver export CHANNEL prints the same text lines a log file would hold."""
    a = await nodes("a")
    alice = await joined(await connect(a, "Alice"), "Alice")
    await alice.chat("exported")
    await alice.until_line(lambda line: line.endswith("Alice: exported"))
    command = [sys.executable, "-m", "wsserver", "export", "general", "--store", redis_server.url]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, cwd=REPO, timeout=30)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    stream = [fields[b"line"].decode() for _, fields in redis_server.client().xrange("wsserver:channel:general")]
    assert out.splitlines() == stream
    assert out.splitlines()[-1].endswith("Alice: exported")


@pytest.mark.parametrize("kind", ["redis", "sentinel"])
def test_unreachable_redis_at_start_is_one_clear_line(kind: str) -> None:
    """Redis (or every Sentinel) unreachable at start: one line naming the URL, password hidden, exit 1."""
    port = free_port()
    url, shown = ((f"redis://127.0.0.1:{port}/0",) * 2 if kind == "redis" else
                  (f"redis+sentinel://:secret@127.0.0.1:{port}/svc", f"redis+sentinel://:***@127.0.0.1:{port}/svc"))
    result = subprocess.run([sys.executable, "-m", "wsserver", "--port", "0", "--store", url],
                            capture_output=True, text=True, cwd=REPO, timeout=60,
                            env={k: v for k, v in os.environ.items() if not k.startswith("WSSERVER_")})
    assert result.returncode == 1
    assert result.stderr.startswith(f"wsserver: cannot reach Redis at {shown}: ")
    assert len(result.stderr.strip().splitlines()) == 1 and "secret" not in result.stderr


async def test_say_users_and_tail_work_against_redis(nodes: Any, connect: Any, redis_server: RedisServer) -> None:
    """say reaches clients on every node; users names each handle's node; tail prints and follows the stream."""
    a, b = await nodes("a"), await nodes("b")
    alice = await joined(await connect(a, "Alice"), "Alice")
    await joined(await connect(b, "Bob", "tech"), "Bob")
    store = ("--store", redis_server.url)
    assert await run_cli("say", "general", "maintenance at noon\nbe ready", *store) == (0, "", "")
    line = await alice.until_line("maintenance at noon")
    assert line.endswith("] System: maintenance at noon\\nbe ready")
    assert await run_cli("say", "Bad!", "x", *store) == (
        2, "", "wsserver: invalid channel name 'Bad!': must match ^[a-z0-9][a-z0-9_-]{0,31}$\n")
    assert await run_cli("say", "nope", "x", *store) == (
        2, "", f"wsserver: no log for channel 'nope' in Redis at {redis_server.url}\n")
    assert await run_cli("say", "general", "  ", *store) == (2, "", "wsserver: the text is empty\n")

    held = redis_server.client()
    node_a = held.hget("wsserver:users:general", "alice").decode().split("|")[0]  # type: ignore[union-attr]
    node_b = held.hget("wsserver:users:tech", "bob").decode().split("|")[0]  # type: ignore[union-attr]
    assert node_a != node_b
    assert await run_cli("users", *store) == (0, f"general\tAlice\t{node_a}\ntech\tBob\t{node_b}\n", "")
    assert await run_cli("users", "tech", *store) == (0, f"tech\tBob\t{node_b}\n", "")

    code, out, err = await run_cli("tail", "general", "-n", "2", "--no-follow", *store)
    assert (code, err) == (0, "")
    shown = out.splitlines()
    assert len(shown) == 3 and shown[2] == "be ready", shown
    assert shown[0].endswith("] System: Alice has joined the chat") and shown[1].endswith("] System: maintenance at noon")
    process = await start_cli("tail", "general", "-n", "1", *store)
    assert process.stdout is not None
    assert (await asyncio.wait_for(process.stdout.readline(), 10)).decode().endswith("] System: maintenance at noon\n")
    assert (await asyncio.wait_for(process.stdout.readline(), 10)) == b"be ready\n"
    carol = await joined(await connect(b, "Carol"), "Carol")
    await carol.chat("from B")

    async def carol_says(text: str) -> bool:
        """Send; True once the node stored it (no error frame back)."""
        await carol.chat(text)
        frame = await carol.any_frame()
        while frame.get("success") and not frame.get("data", {}).get("message", "").endswith(f"Carol: {text}"):
            frame = await carol.any_frame()
        return bool(frame.get("success"))
    assert (await asyncio.wait_for(process.stdout.readline(), 10)).decode().endswith("] System: Carol has joined the chat\n")
    assert (await asyncio.wait_for(process.stdout.readline(), 10)).decode().endswith("] Carol: from B\n")
    # Redis lost and back: tail says so on stderr, retries, and follows on.
    assert process.stderr is not None
    redis_server.stop()
    lost = (await asyncio.wait_for(process.stderr.readline(), 10)).decode()
    assert lost.startswith(f"wsserver: lost Redis at {redis_server.url}: ") and lost.endswith("; retrying\n")
    redis_server.start()
    back = (await asyncio.wait_for(process.stderr.readline(), 10)).decode()
    assert back == f"wsserver: Redis at {redis_server.url} answers again\n"
    await eventually(becomes(lambda: carol_says("after"), True), 20)
    assert (await asyncio.wait_for(process.stdout.readline(), 10)).decode().endswith("] Carol: after\n")
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), 10) == 0


async def test_check_reads_every_stream_and_users_hash(nodes: Any, connect: Any, redis_server: RedisServer) -> None:
    """check passes on what nodes write, and prints key:entry: problem for forged entries, exit 1."""
    a = await nodes("a")
    alice = await joined(await connect(a, "Alice"), "Alice")
    bob = await joined(await connect(a, "Bob"), "Bob")
    await alice.chat("hello\tthere\n\x00 ünï 🎉")
    await alice.send({"type": "private", "to": "Bob", "message": "psst"})
    await bob.event("private")
    await bob.until_line(lambda line: "hello" in line)
    store = ("--store", redis_server.url)
    code, out, err = await run_cli("check", *store)
    assert (code, err) == (0, "")
    assert out == f"checked 3 key(s) in Redis at {redis_server.url}, 6 line(s): 0 problem(s)\n"

    forge = redis_server.client()
    bad = [
        forge.xadd("wsserver:channel:general", {"line": "no format"}),
        forge.xadd("wsserver:channel:general", {"line": "[2026-11-22 10:00:00] A -> B: wrong stream"}),
        forge.xadd("wsserver:channel:general", {"text": "x"}),
        forge.xadd("wsserver:private:general", {"line": "[2026-11-22 10:00:00] Alice: no recipient"}),
        forge.xadd("wsserver:channel:general", {"line": "[2026-11-22 10:00:00] Bob: two\nlines"}),
    ]
    forge.hset("wsserver:users:general", mapping={"x": "node|x", "dave": "node|Eve", "zed": "no bar"})
    ids = [entry.decode() for entry in bad]
    code, out, err = await run_cli("check", *store)
    assert code == 1
    assert out.splitlines() == [
        f"wsserver:channel:general:{ids[0]}: not in the log format [YYYY-MM-DD HH:mm:ss] HANDLE: TEXT",
        f"wsserver:channel:general:{ids[1]}: a private line in a channel log",
        f"wsserver:channel:general:{ids[2]}: entry has no line field",
        f"wsserver:channel:general:{ids[4]}: unescaped control character",
        f"wsserver:private:general:{ids[3]}: a private log line needs FROM -> TO",
        "wsserver:users:general:dave: field does not match its handle 'Eve' (must be the handle in lower case)",
        "wsserver:users:general:x: invalid handle 'x'",
        "wsserver:users:general:zed: expected node|handle, not 'no bar'",
    ]
    assert err == f"checked 3 key(s) in Redis at {redis_server.url}, 14 line(s): 8 problem(s)\n"


async def test_operator_commands_name_an_unreachable_redis() -> None:
    """Every command against a Redis that does not answer: one line naming the URL, exit 1."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    for command in (("say", "general", "x"), ("users",), ("tail", "general"), ("check",), ("export", "general")):
        code, out, err = await run_cli(*command, "--store", url)
        assert (code, out) == (1, ""), command
        assert err.startswith(f"wsserver: cannot reach Redis at {url}: ") and err.count("\n") == 1, (command, err)


async def test_backup_on_redis_copies_the_shared_files_and_names_redis(redis_server: RedisServer, tmp_path: Any) -> None:
    """On a Redis store `backup DIR` copies the files dir (the nodes' shared mount) and says where the rest is."""
    files = tmp_path / "files"
    (files / "ab" / "abcdef").mkdir(parents=True)
    (files / "ab" / "abcdef" / "notes.txt").write_bytes(b"shared")
    (files / "tmp").mkdir()
    (files / "tmp" / "half.part").write_bytes(b"being received")
    target = tmp_path / "backup"
    result = await run_cli("backup", str(target), "--store", redis_server.url, "--files-dir", str(files))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (f"copied 1 shared files (6 bytes) from {files}\n"
                             f"not copied: the logs, handles, moderation, read positions and keys, which are in Redis "
                             f"at {redis_server.url}: back it up with Redis's own tools (docs/operations.md "
                             f"\"Backups\")\n"
                             f"backup done: {target}\n")
    assert (target / "files" / "ab" / "abcdef" / "notes.txt").read_bytes() == b"shared"
    assert not (target / "files" / "tmp").exists()
