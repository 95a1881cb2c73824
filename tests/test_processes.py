"""Whole processes: two servers on one data dir, shutdown on signals, start-up checks, packaging."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .support import REPO, Server, joined, missing, run_cli, stalled_socket


async def test_two_processes_share_a_data_dir(start_server: Any, connect: Any, tmp_path: Path) -> None:
    """Lines cross between two servers on one data dir, and a handle held on one is refused on the other."""
    first = await start_server("--rate-limit", "0")
    second = await start_server("--rate-limit", "0", data_dir=first.data_dir)
    alice = await joined(await connect(first, "Alice"), "Alice")
    bob = await joined(await connect(second, "Bob"), "Bob")
    await alice.until_line("Bob has joined")
    await alice.chat("from the first")
    await bob.until_line("Alice: from the first")
    await bob.chat("from the second")
    await alice.until_line("Bob: from the second")
    await bob.until_line("Bob: from the second")
    taken = await connect(second, "alice")
    assert await taken.frame() == {"success": False, "message": "User already registered"}
    assert await taken.closed() == (1008, "User already registered")
    for client in (alice, bob):
        numbered = [line for line in client.lines if ": from the" in line]
        assert len(numbered) == len(set(numbered)) == 2


async def test_sigterm_without_grace_writes_leaves_and_releases(start_server: Any, connect: Any) -> None:
    """With --rejoin-grace 0, SIGTERM closes every socket with 1001, writes the leave lines and frees the handles."""
    server = await start_server("--rejoin-grace", "0")
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob", "tech"), "Bob")
    code = await server.stop(signal.SIGTERM)
    assert code == 0
    assert await alice.closed() == (1001, "Server shutting down")
    assert await bob.closed() == (1001, "Server shutting down")
    assert server.file_lines("general")[-1].endswith("] System: Alice has left the chat")
    assert server.file_lines("tech")[-1].endswith("] System: Bob has left the chat")
    assert (server.data_dir / "registered_users.log").read_text() == ""
    assert any(line.endswith("Alice@general left (close code 1001, sent by the server)") for line in server.lines)


async def test_sigint_also_shuts_down_cleanly(server: Server, connect: Any) -> None:
    """SIGINT (Ctrl+C) does the same as SIGTERM."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    assert await server.stop(signal.SIGINT) == 0
    assert await alice.closed() == (1001, "Server shutting down")


async def test_killed_process_handles_are_reclaimed(start_server: Any, connect: Any) -> None:
    """After SIGKILL, the dead process's handles are free for the next join."""
    first = await start_server()
    await joined(await connect(first, "Alice"), "Alice")
    await first.stop(signal.SIGKILL)
    second = await start_server(data_dir=first.data_dir)
    await joined(await connect(second, "Alice"), "Alice")


async def test_torn_last_line_is_cut_at_start(start_server: Any, connect: Any, tmp_path: Path) -> None:
    """A last line without its newline (a crash mid-write) is cut at start-up, never delivered."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "channel_general.log").write_bytes(b"[2026-11-22 10:00:00] Old: whole\n[2026-11-22 10:00:01] Old: to")
    server = await start_server()
    alice = await connect(server, "Alice")
    first = await alice.frame()
    assert first["data"]["message"] == "[2026-11-22 10:00:00] Old: whole"
    await joined(alice, "Alice")
    assert server.file_lines("general")[0] == "[2026-11-22 10:00:00] Old: whole"
    assert "Old: to" not in server.log_path("general").read_text()
    await server.wait_for_log("cut a torn last line of 29 bytes")


async def test_timezone_setting(start_server: Any, connect: Any) -> None:
    """--timezone sets the zone of the log timestamps."""
    import pendulum

    server = await start_server("--timezone", "Pacific/Kiritimati")
    alice = await joined(await connect(server, "Alice"), "Alice")
    stamp = alice.lines[-1][1:20]
    expected = pendulum.now("Pacific/Kiritimati")
    assert abs(pendulum.from_format(stamp, "YYYY-MM-DD HH:mm:ss", tz="Pacific/Kiritimati").diff(expected).in_seconds()) < 5


async def test_custom_channels(start_server: Any, connect: Any, session: aiohttp.ClientSession) -> None:
    """--channels replaces the default channels."""
    server = await start_server("--channels", "lobby,dev-ops")
    await joined(await connect(server, "Alice", "dev-ops"), "Alice")
    refused = await connect(server, "Bob", "general")
    assert await refused.frame() == {"success": False, "message": "No valid channel provided"}
    async with session.get(server.url + "/api/channels") as response:
        assert await response.json() == [{"name": "lobby", "users": 0}, {"name": "dev-ops", "users": 1}]


async def test_environment_settings_and_flag_precedence(start_server: Any, connect: Any) -> None:
    """WSSERVER_* variables set options; a flag wins over its variable."""
    server = await start_server("--history", "1", env={"WSSERVER_HISTORY": "50", "WSSERVER_CHANNELS": "envchan"})
    await joined(await connect(server, "Alice", "envchan"), "Alice")
    await joined(await connect(server, "Bobby", "envchan"), "Bobby")
    carol = await connect(server, "Carol", "envchan")
    assert (await carol.frame())["data"]["message"].count("\n") == 0


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--port", "abc"], {}, "wsserver: invalid --port value 'abc': must be a whole number\n"),
        (["--port", "70000"], {}, "wsserver: invalid --port value '70000': must be a whole number from 0 to 65535\n"),
        ([], {"WSSERVER_PORT": "-1"}, "wsserver: invalid WSSERVER_PORT value '-1': must be a whole number from 0 to 65535\n"),
        (["--channels", "General"], {}, "wsserver: invalid --channels value 'General': channel name 'General' must match ^[a-z0-9][a-z0-9_-]{0,31}$\n"),
        (["--channels", "a,a"], {}, "wsserver: invalid --channels value 'a,a': names a channel twice\n"),
        (["--channels", " , "], {}, "wsserver: invalid --channels value ' , ': must name at least one channel\n"),
        (["--timezone", "Mars/Olympus"], {}, "wsserver: invalid --timezone value 'Mars/Olympus': must be an IANA time zone name such as UTC or Europe/Paris\n"),
        (["--rate-limit", "fast"], {}, "wsserver: invalid --rate-limit value 'fast': must be a number\n"),
        (["--rate-limit", "-1"], {}, "wsserver: invalid --rate-limit value '-1': must be a number of at least 0\n"),
        (["--heartbeat", "0"], {}, "wsserver: invalid --heartbeat value '0': must be a number above 0\n"),
        (["--heartbeat", "nan"], {}, "wsserver: invalid --heartbeat value 'nan': must be a finite number\n"),
        (["--backlog", "0"], {}, "wsserver: invalid --backlog value '0': must be a whole number from 1 to 65535\n"),
        ([], {"WSSERVER_BACKLOG": "lots"}, "wsserver: invalid WSSERVER_BACKLOG value 'lots': must be a whole number\n"),
        (["--rejoin-grace", "-1"], {}, "wsserver: invalid --rejoin-grace value '-1': must be a number of at least 0\n"),
        (["--history", "-5"], {}, "wsserver: invalid --history value '-5': must be a whole number from 0 to 100000\n"),
        (["--log-level", "chatty"], {}, "wsserver: invalid --log-level value 'chatty': must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL\n"),
        (["--store", "mysql://db"], {}, "wsserver: invalid --store value 'mysql://db': must be file, a Redis URL such as redis://127.0.0.1:6379/0, redis+sentinel://HOST:26379[,HOST:26379...]/SERVICE[/DB], redis+cluster://HOST:PORT[,HOST:PORT...] or redis+shards://HOST:PORT[,HOST:PORT...][/DB]\n"),
        (["--store", "redis+cluster://a:7000,b"], {}, "wsserver: invalid --store value 'redis+cluster://a:7000,b': 'b' is not HOST:PORT in redis+cluster://a:7000,b\n"),
        (["--store", "redis+cluster://a:7000/2"], {}, "wsserver: invalid --store value 'redis+cluster://a:7000/2': a Redis Cluster has only database 0\n"),
        (["--channels", "general,,tech,"], {}, "wsserver: invalid --channels value 'general,,tech,': has an empty channel name (two commas in a row, or one at either end)\n"),
        (["--host", "999.1.1.1"], {}, "wsserver: invalid --host value '999.1.1.1': is not an IPv4 address (four numbers from 0 to 255)\n"),
        (["--host", "::zz"], {}, "wsserver: invalid --host value '::zz': is not an IPv6 address\n"),
        (["--data-dir", "/dev/null"], {}, "wsserver: invalid --data-dir value '/dev/null': it is a file, not a directory\n"),
    ],
)
async def test_bad_settings_fail_with_one_line(args: list[str], env: dict[str, str], message: str) -> None:
    """A bad setting stops start-up with one line naming the flag (or variable) and the value."""
    result = await run_cli(*args, env=env)
    assert result.returncode == 2
    assert result.stderr == message


async def test_help_lists_every_option() -> None:
    """wsserver --help documents every flag with its variable."""
    from wsserver.config import OPTIONS

    result = await run_cli("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for option in OPTIONS:
        assert option.flag in text and option.env in text
    # Defaults as a person writes them, or none at all.
    for wrong in ("default None", "default )", "default 5.0", "default 25.0"):
        assert wrong not in text
    assert "(env WSSERVER_RATE_LIMIT; default 5)" in text and "(env WSSERVER_TRUSTED_PROXY)" in text


async def test_help_names_every_operator_command() -> None:
    """wsserver --help names serve and all the operator commands, and `wsserver help` lists them with a line each."""
    from wsserver.ops import COMMANDS

    result = await run_cli("--help")
    text = " ".join(result.stdout.split())
    assert result.returncode == 0 and all(command in text for command in COMMANDS)
    # `serve`, which the systemd unit's ExecStart uses, is named too.
    assert result.stdout.startswith("usage: wsserver [serve] [options]\n")
    assert "`wsserver serve [options]` (as the systemd unit runs it) is the same as `wsserver [options]`" in text
    listing = await run_cli("help")
    assert listing.returncode == 0, listing.stderr
    assert all(command in listing.stdout for command in COMMANDS)
    one = await run_cli("help", "ban")
    assert one.returncode == 0 and "usage: wsserver ban" in one.stdout


async def test_an_unknown_host_is_named_in_words(tmp_path: Path) -> None:
    """A --host that resolves to nothing says so, not 'Unknown error -2' (exit 1)."""
    result = await run_cli("--host", "no-such-host.invalid", "--port", "0", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        "wsserver: cannot listen on no-such-host.invalid:0: no such host or address ("), result.stderr


async def test_backlog_sets_the_listen_queue(start_server: Any) -> None:
    """--backlog is the listening socket's queue length, as ss shows it (Send-Q of a LISTEN socket)."""
    ss = shutil.which("ss")
    if ss is None:
        missing("this test reads the listen queue with ss (apt-get install iproute2)")
    server = await start_server("--backlog", "321")
    port = server.url.rsplit(":", 1)[1]
    process = await asyncio.create_subprocess_exec(ss, "-ltnH", f"sport = :{port}", stdout=asyncio.subprocess.PIPE)
    shown, _ = await process.communicate()
    assert shown.decode().split()[:3] == ["LISTEN", "0", "321"]


async def test_port_in_use_is_a_clear_error(server: Server) -> None:
    """Starting on a port already taken fails with one line naming it."""
    port = server.url.rsplit(":", 1)[1]
    result = await run_cli("--port", port, "--data-dir", str(server.data_dir))
    assert result.returncode == 1
    assert result.stderr.strip().endswith(f"wsserver: cannot listen on 127.0.0.1:{port}: Address already in use")


async def test_static_files_with_content_types(server: Server, session: aiohttp.ClientSession) -> None:
    """/ serves web/index.html; other web/ files by name with their content types; nothing outside web/."""
    async with session.get(server.url + "/") as response:
        assert response.status == 200 and response.content_type == "text/html"
        assert await response.text() == (REPO / "web" / "index.html").read_text()
    for path in (p for p in (REPO / "web").rglob("*") if p.is_file()):
        relative = path.relative_to(REPO / "web").as_posix()
        async with session.get(f"{server.url}/{relative}") as response:
            assert response.status == 200
            expected = {".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript",
                        ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml",
                        ".ico": "image/vnd.microsoft.icon", ".webmanifest": "application/manifest+json",
                        ".md": "text/markdown", ".txt": "text/plain"}[path.suffix]
            assert response.content_type == expected
            assert (response.headers.get("Cache-Control") == "no-cache") == (relative == "sw.js")
    for bad in ("/missing.js", "/../pyproject.toml", "/%2e%2e/pyproject.toml", "/..%2fpyproject.toml"):
        async with session.get(server.url + bad) as response:
            assert response.status == 404


async def test_python_dash_m_and_console_script_agree() -> None:
    """The installed console script and python -m wsserver are the same program."""
    script = Path(sys.executable).with_name("wsserver")
    assert script.exists(), "install the package (make test does) to get the wsserver command"
    result = await asyncio.to_thread(subprocess.run, [str(script), "--version"], capture_output=True, text=True,
                                     timeout=30)
    assert result.stdout == (await run_cli("--version")).stdout == "wsserver 0.1.0\n"


async def test_sigterm_is_not_held_up_by_a_client_that_stopped_reading(start_server: Any, connect: Any) -> None:
    """Shutdown closes a reader whose buffers are full within the close cut-off, and still exits 0."""

    server = await start_server("--rate-limit", "0", "--send-queue", "1000000")
    stalled = await stalled_socket(server, "Stalled")
    alice = await joined(await connect(server, "Alice"), "Alice")
    for i in range(3000):
        await alice.chat(f"{i} " + "y" * 1900)
    await alice.until_line("Alice: 2999 ", timeout=30)
    assert await server.stop(signal.SIGTERM) == 0
    assert await alice.closed() == (1001, "Server shutting down")
    assert server.file_lines("general")[-1].endswith("] System: The server is restarting")
    assert sorted(line.split("|")[0] for line in (server.data_dir / "registered_users.log").read_text().splitlines()) == ["Alice", "Stalled"]
    stalled.close()
