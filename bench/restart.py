"""Workload R, the restart storm: every client of a restarted server comes back within a second.

5,000 clients over 2 channels are connected to wsserver and a line is sent; the server gets
SIGTERM; while it is down an operator appends lines to the logs; it starts again on the same port
and data dir, and every client reconnects with ``since=`` its last cursor at a random moment within
1 s of its socket closing (retrying while the port is closed); then more lines are sent. Measured:
time from the new server listening until the last client is back (its first frame), the new
server's peak RSS during the storm against the old one's RSS before the restart, and whether
every line (before, while down, after) reached every client exactly once; the logs are checked
for leave or join lines of clients that came back (there must be none).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from servers import HERE, Server, node_modules, raise_fd_limit, wait_port


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(next(line.split()[1] for line in status.splitlines() if line.startswith(field + ":"))) / 1024, 1)


def run_restart(clients: int = 5000, during: int = 3, window_ms: int = 1000, grace: bool = True,
                presence: bool = True) -> dict[str, Any]:
    """Run R with ``clients`` clients over general and tech; return its row.

    ``grace`` False runs the server with ``--rejoin-grace 0``: the behaviour before issue 14 (a leave line
    per client at SIGTERM, a join line per client coming back), for comparison.  ``presence`` False: the
    clients resume without ``presence=`` (issue 23's behaviour: each is sent the whole users list again).
    """
    modules = node_modules()
    server = Server("wsserver", extra=() if grace else ("--rejoin-grace", "0"))
    server.start()
    storm = None
    try:
        config = {
            "url": server.url, "count": 5, "windowMs": window_ms, "connectConcurrency": 200, "presence": presence,
            "clients": [{"channel": ("general", "tech")[i % 2], "handle": f"storm{i:05d}",
                         "senderId": i if i < 4 else None} for i in range(clients)],
        }
        config_file = server.data.with_name(server.data.name + "-storm.json")
        config_file.write_text(json.dumps(config))
        storm = subprocess.Popen(["node", str(HERE / "storm.js"), str(config_file)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, env=dict(os.environ, NODE_PATH=str(modules)),
                                 preexec_fn=raise_fd_limit)

        def command(text: str) -> dict[str, Any]:
            assert storm is not None and storm.stdin is not None and storm.stdout is not None
            if text:
                storm.stdin.write(text.encode() + b"\n")
                storm.stdin.flush()
            answer: dict[str, Any] = json.loads(storm.stdout.readline())
            if "error" in answer:
                raise RuntimeError(f"R: {answer['error']}")
            return answer

        command("")  # ready: every client connected
        command("send before")
        assert server.process is not None
        rss_before = rss_mb(server.process.pid)
        command("restart")  # armed: closes from now on are reconnected within the window
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(60)
        for channel in ("general", "tech"):  # an operator's lines while the server is down
            with (server.data / f"channel_{channel}.log").open("a") as log:
                for k in range(during):
                    log.write(f"[2026-01-01 00:00:00] System: m:9999:{k}\n")
        storm.stdin.write(f"during {during}\n".encode())  # type: ignore[union-attr]
        storm.stdin.flush()  # type: ignore[union-attr]
        started = time.time()
        server.start()
        wait_port(server.port)
        listening_ms = time.time() * 1000
        back = command("")
        back_s = (back["last_back_ms"] - listening_ms) / 1000
        peak = rss_mb(server.process.pid, "VmHWM")
        command("send after")
        # Read the logs before "final": it closes every socket, and those leave lines are not the restart's.
        churned = []
        # From the restart line on (without the grace there is none: from the first leave line on).
        marker = "System: The server is restarting" if grace else "has left the chat"
        for channel in ("general", "tech"):
            lines = (server.data / f"channel_{channel}.log").read_text().splitlines()
            start = next((i for i, line in enumerate(lines) if line.endswith(marker)), len(lines))
            churned += [line for line in lines[start:] if line.endswith(("has left the chat", "has joined the chat"))]
        final = command("final")
        churn = len(churned)
        return {
            "server": ("wsserver" if grace else "wsserver grace 0") + ("" if presence else " no presence="),
            "workload": "R restart storm", "connections": clients, "clients_back": back["back"],
            "users_lists_sent": back["lists"],
            "start_s": round(listening_ms / 1000 - started, 2), "back_s": round(back_s, 2),
            "rss_before_mb": rss_before, "storm_peak_rss_mb": peak, "rss_ratio": round(peak / rss_before, 2),
            "deliveries_expected": final["expected"], "deliveries_received": final["received"],
            "loss": final["expected"] - final["received"], "duplicates": final["duplicates"],
            "recovered_false": final["recovered_false"], "leave_or_join_lines_after_restart": churn,
            "_churned": churned[:6],
            "_back_s": sorted(round((t - listening_ms) / 1000, 3) for t in back["back_ms"]),
        }
    finally:
        if storm is not None and storm.poll() is None:
            storm.kill()
        server.stop()
