"""Ephemeral events (typing) between the processes of one data dir: a Unix datagram socket each.

Every process binds ``.events/<host>-<pid>.sock`` in the data dir and sends
each event, one JSON datagram, to every other socket there.  Nothing is
written to a file, the data dir stays the only thing the processes share,
and a datagram costs a ``sendto`` per process: no broker, no polling.  A
socket whose process is gone refuses the datagram and is removed.

Paths are reached through ``/proc/self/fd/<dir>/``, so a long data dir path
never runs into the 108-byte limit of Unix socket addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EVENTS_DIR = ".events"
MAX_DATAGRAM = 4096


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, receive: Callable[[dict[str, Any]], None]) -> None:
        self.receive = receive

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            event = json.loads(data)
        except ValueError:
            return
        if isinstance(event, dict):
            self.receive(event)


class FileEvents:
    """Send and receive ephemeral events among the processes of a data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / EVENTS_DIR
        self.name = f"{socket.gethostname()}-{os.getpid()}.sock"
        self._dir_fd: int | None = None
        self._sock: socket.socket | None = None
        self._transport: asyncio.DatagramTransport | None = None

    def _path(self, name: str) -> str:
        return f"/proc/self/fd/{self._dir_fd}/{name}"

    async def start(self, receive: Callable[[dict[str, Any]], None]) -> None:
        """Bind this process's socket and deliver what the others send to ``receive``."""
        self.folder.mkdir(exist_ok=True)
        self._dir_fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(self.name))  # a socket left by a process of the same pid
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(self._path(self.name))
        sock.setblocking(False)
        self._sock = sock
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(receive), sock=sock)

    def publish(self, event: dict[str, Any]) -> None:
        """Send ``event`` to every other process of the data dir (never blocks; best effort)."""
        if self._sock is None or self._dir_fd is None:
            return
        data = json.dumps(event, ensure_ascii=False).encode("utf-8")
        if len(data) > MAX_DATAGRAM:
            return
        for name in os.listdir(self._path("")):
            if name == self.name or not name.endswith(".sock"):
                continue
            try:
                self._sock.sendto(data, self._path(name))
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):
                    os.unlink(self._path(name))  # its process is gone
            except BlockingIOError:
                pass  # that process is not reading: typing is best effort
            except OSError as exc:
                log.debug("could not send an event to %s: %s", name, exc)

    async def stop(self) -> None:
        """Unbind and close."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._dir_fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._path(self.name))
            os.close(self._dir_fd)
            self._dir_fd = None
        self._sock = None
