"""A real redis-server for the tests: no persistence, a free port, a temporary folder; stoppable and restartable."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import redis

from .servers import free_port

REDIS = shutil.which("redis-server")


class RedisServer:
    """A redis-server without persistence on a free port, in a temp dir; stoppable and restartable."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.folder = folder
        self.args = args  # more redis-server options, e.g. --replicaof HOST PORT
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # A port found free can be taken by another test's process before redis-server binds it:
        # on a first start, another free port is tried (a restart keeps its port: clients know it).
        for attempt in range(3):
            said = self._start()
            if said is None:
                self.started = True
                return
            if getattr(self, "started", False) or b"Address already in use" not in said or attempt == 2:
                raise RuntimeError(f"redis-server on port {self.port} exited before it was ready: {said[-500:]!r}")
            self.port = free_port()
            self.url = f"redis://127.0.0.1:{self.port}/0"

    def _start(self) -> bytes | None:
        """Start redis-server; None once it accepts connections, else what it said before it exited."""
        assert REDIS is not None
        self.process = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        # redis-server says when it accepts connections; wait for that line.
        assert self.process.stdout is not None
        said = b""
        for raw in self.process.stdout:
            if b"Ready to accept connections" in raw:
                threading.Thread(target=self.process.stdout.read, daemon=True).start()  # keep the pipe drained
                return None
            said += raw
        self.process.wait()
        return said

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)
