"""--workers N: several processes on one port and one data dir, supervised by a parent."""

from __future__ import annotations

import os
import re
import signal
from collections import defaultdict
from pathlib import Path
from typing import Any

from wsserver import cli

from .support import Client, Server, eventually, free_port, joined

WORKER_LISTENING = re.compile(r"worker (\d+)\[(\d+)\] wsserver: listening on")


def worker_pids(server: Server) -> dict[str, str]:
    """Map worker number -> pid of its latest start, from the log."""
    pids: dict[str, str] = {}
    for line in server.lines:
        match = WORKER_LISTENING.search(line)
        if match:
            pids[match.group(1)] = match.group(2)
    return pids


async def spread(server: Server, connect: Any, count: int = 12) -> dict[str, list[tuple[str, Client]]]:
    """Connect clients until both workers have some; return them grouped by the pid that holds them."""
    clients = []
    for i in range(count):
        clients.append((f"user{i:02d}", await connect(server, f"user{i:02d}")))
    for handle, client in clients:
        await joined(client, handle)
    owners = {line.split("|")[0]: line.split("|")[3]
              for line in (server.data_dir / "registered_users.log").read_text().splitlines()}
    by_pid: dict[str, list[tuple[str, Client]]] = defaultdict(list)
    for handle, client in clients:
        by_pid[owners[handle]].append((handle, client))
    return by_pid


async def test_two_workers_share_lines_and_handles(start_server: Any, connect: Any) -> None:
    """A line from a client on one worker reaches a client on the other; a handle held on one is refused on both."""
    server = await start_server("--workers", "2", "--port", str(free_port()), "--rate-limit", "0")
    await eventually(lambda: len(worker_pids(server)) == 2)
    by_pid = await spread(server, connect)
    assert set(by_pid) == set(worker_pids(server).values()), "connections landed on both workers"
    (pid_a, on_a), (pid_b, on_b) = sorted(by_pid.items())
    (handle_a, client_a), (handle_b, client_b) = on_a[0], on_b[0]
    await client_a.chat("from worker A")
    await client_b.until_line(f"{handle_a}: from worker A")
    await client_b.chat("from worker B")
    await client_a.until_line(f"{handle_b}: from worker B")
    refused_by = re.compile(r"\[(\d+)\] wsserver.chat: refused a join: " + handle_a)

    def refusing_pids() -> set[str]:
        return {m.group(1) for m in map(refused_by.search, server.lines) if m}

    for _ in range(50):  # the kernel picks the worker; go on until both have refused
        taken = await connect(server, handle_a)
        assert await taken.frame() == {"success": False, "message": "User already registered"}
        assert await taken.closed() == (1008, "User already registered")
        if refusing_pids() == {pid_a, pid_b}:
            break
    assert refusing_pids() == {pid_a, pid_b}


async def test_killed_worker_is_restarted_and_its_handles_freed(start_server: Any, connect: Any) -> None:
    """SIGKILL of a worker: the parent restarts it and the handles it held are free again."""
    server = await start_server("--workers", "2", "--port", str(free_port()))
    await eventually(lambda: len(worker_pids(server)) == 2)
    by_pid = await spread(server, connect)
    victim = sorted(by_pid)[0]
    victims = [handle for handle, _ in by_pid[victim]]
    os.kill(int(victim), signal.SIGKILL)
    await server.wait_for_log(rf"worker \d \(pid {victim}\) exited \(killed by SIGKILL\); restarting it")
    await eventually(lambda: victim not in worker_pids(server).values() and len(worker_pids(server)) == 2)
    for handle in victims:
        await joined(await connect(server, handle), handle)
    assert await server.stop(signal.SIGTERM) == 0
    # Every user of both workers is left away for the grace, and the restart is said once.
    users = (server.data_dir / "registered_users.log").read_text().splitlines()
    assert len(users) == sum(len(clients) for clients in by_pid.values())
    assert all(len(line.split("|")) == 7 for line in users)
    general = server.file_lines("general")
    assert sum(line.endswith("] System: The server is restarting") for line in general) == 1
    assert general[-1].endswith("] System: The server is restarting")  # and no leave line after the joins


class _Libc:
    def __init__(self, calls: list[tuple[int, int]]) -> None:
        self.calls = calls

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return 1


def test_a_server_keeps_two_malloc_arenas_unless_the_operator_chose(monkeypatch: Any) -> None:
    """glibc's mallopt(M_ARENA_MAX, 2) at start; an operator's MALLOC_ARENA_MAX is left to glibc alone."""
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(cli.ctypes, "CDLL", lambda name: _Libc(calls))
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    cli.few_malloc_arenas()
    assert calls == [(-8, 2)]
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    cli.few_malloc_arenas()
    assert calls == [(-8, 2)]


async def test_the_supervisor_is_the_lean_module_under_the_same_pid(start_server: Any) -> None:
    """--workers 2: the process started is the supervisor (exec'd in place), without the server's imports."""
    server = await start_server("--workers", "2", "--port", str(free_port()))
    assert server.process is not None
    pid = str(server.process.pid)
    assert _proc(pid, "cmdline").split("\0")[1:4] == ["-m", "wsserver.workers", "2"]
    assert "aiohttp" not in _proc(pid, "maps"), "the supervisor loaded the server's C extensions"
    await eventually(lambda: len(worker_pids(server)) == 2, what="both workers listening")
    for pid in worker_pids(server).values():  # a worker at rest has not loaded what only tokens, images or reactions need
        maps = _proc(pid, "maps")
        assert "/cryptography/" not in maps and "/PIL/" not in maps, f"worker {pid} loaded PyJWT or Pillow"


def _proc(pid: str, name: str) -> str:
    """Return a file of /proc about process ``pid``."""
    return Path(f"/proc/{pid}/{name}").read_text()
