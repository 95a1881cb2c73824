"""Follow channel logs as they grow and hand over whole lines, each exactly once.

There is one :class:`Tailer` per channel per process, and one
:class:`DirWatcher` per process over the whole data dir: inotify allows few
instances per user and watchfiles runs each watcher in a thread, so a watcher
per connection (or even per channel) does not scale.

A tailer is woken three ways, all of which only set an event:

* by this process right after it appends a line (the fast path);
* by the directory watcher when any process, or an operator's ``echo >>``,
  changes the file;
* by a slow poll, which also notices rotation and truncation if the watcher
  missed them.

When woken it reads from its byte offset to the end of the file (in a
thread), keeps an incomplete last line until its newline arrives, and passes
the whole lines, as read back from the file, to its ``deliver`` callback in
one batch.  The offset only moves in the event loop, together with the
delivery, so "what has been delivered" and "where the tailer is" never
disagree: a joiner that subscribes between two deliveries sees history up to
``offset`` and live lines after it, with no line twice and none missing.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import watchfiles

from ...background import cancel_and_wait
from .channellog import Cursor, identity

log = logging.getLogger(__name__)

# Limits
READ_SIZE = 64 * 1024  # largest batch handed over at once (one frame)
POLL_SECONDS = 1.0  # how often every tailer looks, in case an event was missed

Deliver = Callable[[bytes, Cursor], None]


class Tailer:
    """Read one log file from a byte offset and deliver whole lines."""

    def __init__(
        self,
        path: Path,
        deliver: Deliver,
        on_replaced: Callable[[], None] | None = None,
        gather: Callable[[], float] | None = None,
    ) -> None:
        self.path = path
        self._deliver = deliver
        self._gather = gather  # seconds to let lines pile up after a wake (0: none)
        self._on_replaced = on_replaced
        self._fd = -1
        self._identity: tuple[int, int] = (0, 0)
        self.offset = 0  # just after the last whole line delivered
        self._pending = b""  # bytes read after offset that lack their newline
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def cursor(self) -> Cursor:
        """Return the position after the last line delivered."""
        return Cursor(self._identity, self.offset)

    @property
    def fd(self) -> int:
        """Return the descriptor the tailer reads; history is read from the same file."""
        return self._fd

    def start(self, at_end: bool = True) -> None:
        """Open the file and start following it from its end (or its start)."""
        self._open(at_end)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"tail {self.path.name}")

    def _open(self, at_end: bool) -> None:
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        stat = os.fstat(fd)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = fd
        self._identity = identity(stat)
        self.offset = stat.st_size if at_end else 0
        self._pending = b""
        if at_end and self.offset:
            # Start after the last newline: a line being written right now
            # is delivered whole once its newline lands.
            tail = os.pread(fd, min(self.offset, 64 * 1024), self.offset - min(self.offset, 64 * 1024))
            cut = tail.rfind(b"\n")
            self.offset -= len(tail) - (cut + 1)

    def wake(self) -> None:
        """Ask the tailer to look at the file again; cheap, and safe to call often."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop following and close the file."""
        task, self._task = self._task, None
        await cancel_and_wait([task])
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            delay = self._gather() if self._gather is not None else 0.0
            if delay:
                await asyncio.sleep(delay)
            self._wake.clear()
            try:
                await self.catch_up()
            except Exception:
                log.exception("tailing %s failed; retrying on the next wake", self.path)

    async def catch_up(self) -> None:
        """Deliver every whole line now in the file; follow a rotation or truncation."""
        while True:
            # An incomplete line kept from the last read is read again, not skipped: a writer
            # that could not finish it cuts it off, and the next line lands where it began.
            kept = self._pending
            position = self.offset + len(kept)
            data, size_now, path_identity, intact = await asyncio.to_thread(
                self._read, self._fd, self.offset, self.path, self.offset, READ_SIZE + len(kept)
            )
            if kept:
                if data[: len(kept)] == kept:
                    data = data[len(kept):]
                else:
                    log.warning("%s: an incomplete line was cut off before its newline; it is dropped", self.path)
                    self._pending = b""
                    position = self.offset
            if not intact:
                # Truncated and already grown past our offset again: the byte
                # before it is no longer the newline we delivered up to.
                log.warning("%s was truncated; following it from its start", self.path)
                self._open(at_end=False)
                continue
            if data:
                self._take(data)
                if len(data) >= READ_SIZE:
                    continue  # more is waiting: deliver it in further batches
            if path_identity != self._identity:
                await self._follow_replacement()
                if path_identity is None and not self.path.exists():
                    return  # renamed away and nothing at the path yet
                continue
            if size_now < position:
                log.warning("%s was truncated; following it from its start", self.path)
                self._open(at_end=False)
                continue
            return

    async def _follow_replacement(self) -> None:
        # Our own writer moves to the new file first, so nothing more lands
        # in the old one from this process; then the old file is drained, and
        # only then does the tailer move.  Lines appended on either side of
        # the switch are each delivered once.
        log.info("%s was renamed or replaced; following the new file", self.path)
        if self._on_replaced is not None:
            self._on_replaced()
        while True:
            data, _, _, _ = await asyncio.to_thread(self._read, self._fd, self.offset + len(self._pending), None)
            if not data:
                break
            self._take(data)
        if self._pending:
            log.warning("%s ended with a torn line of %d bytes; it is skipped", self.path, len(self._pending))
        try:
            self._open(at_end=False)
        except FileNotFoundError:
            pass

    @staticmethod
    def _read(
        fd: int, position: int, path: Path | None, offset: int = 0, size: int = READ_SIZE
    ) -> tuple[bytes, int, tuple[int, int] | None, bool]:
        intact = offset == 0 or os.pread(fd, 1, offset - 1) == b"\n"
        data = os.pread(fd, size, position)
        size = os.fstat(fd).st_size
        path_identity: tuple[int, int] | None = None
        if path is not None:
            try:
                path_identity = identity(os.stat(path))
            except FileNotFoundError:
                path_identity = None
        return data, size, path_identity, intact

    def _take(self, data: bytes) -> None:
        buffer = self._pending + data if self._pending else data
        cut = buffer.rfind(b"\n")
        if cut < 0:
            self._pending = buffer
            return
        lines = buffer[: cut + 1]
        self._pending = buffer[cut + 1 :]
        self.offset += len(lines)
        self._deliver(lines, self.cursor)


class DirWatcher:
    """Watch the data dir once for the whole process and report each changed file by name."""

    def __init__(self, data_dir: Path, changed: Callable[[str], None], tailers: Callable[[], list[Tailer]]) -> None:
        self._data_dir = data_dir
        self._changed = changed
        self._tailers = tailers
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start watching and polling."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._watch(), name="watch data dir"),
            loop.create_task(self._poll(), name="poll tailers"),
        ]

    async def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        await cancel_and_wait(self._tasks)
        self._tasks = []

    async def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                async for changes in watchfiles.awatch(
                    self._data_dir,
                    stop_event=self._stop,
                    recursive=False,
                    debounce=50,
                    step=5,
                    rust_timeout=1000,
                    yield_on_timeout=False,
                ):
                    for name in {os.path.basename(path) for _change, path in changes}:
                        self._changed(name)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The poll keeps lines flowing meanwhile, a little slower.
                log.exception("watching %s failed; restarting the watcher", self._data_dir)
                await asyncio.sleep(POLL_SECONDS)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            for tailer in self._tailers():
                tailer.wake()
