"""When an append is on the disk: ``--fsync always|batch|off`` (file store).

A ``write(2)`` puts a line in the page cache: every reader sees it at once,
and a crash of the server loses nothing (the kernel still writes it out), but
a power cut or a kernel panic can lose what was not yet written back.
``fdatasync(2)`` returns once it is on the disk.

- ``always``: each append is flushed before the append returns (one
  ``fdatasync`` per line, in a thread): the slowest.
- ``batch`` (the default): group commit.  Each append marks its file; one
  round flushes every marked file at most every :data:`BATCH_SECONDS` (a
  round starts at once when the last one is older than that), so a line is on
  the disk within about 50 ms of its write, for one ``fdatasync`` per file
  per round whatever the number of lines.  What answers an append with an
  explicit ok (a bot's HTTP post) waits for the round that covers it
  (:meth:`Flusher.settled`).
- ``off``: no flush; the kernel writes the page cache out within about 30 s.

Lines are delivered to readers as soon as they are written (the tailers read
the file), before the flush: the flush decides what a power cut can take, not
what readers see or when.  Lines from sockets have no ok frame (their line
coming back is the sender's sign); ``batch`` puts them on the disk within the
round all the same.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time
from collections.abc import Callable

from ..base import AppendError

log = logging.getLogger("wsserver.store")

MODES = ("always", "batch", "off")
BATCH_SECONDS = 0.05  # at most one flush round this often (batch)


class Flusher:
    """Flushes written descriptors to the disk as ``--fsync`` says; one per store."""

    def __init__(self, mode: str = "batch", interval: float = BATCH_SECONDS,
                 counted: Callable[[bool], None] = lambda ok: None) -> None:
        if mode not in MODES:
            raise ValueError(f"--fsync must be one of {', '.join(MODES)}")
        self.mode = mode
        self._counted = counted  # told of each flush, done or failed (the /metrics counter)
        self.interval = interval
        self._pending: set[int] = set()
        self._next: asyncio.Future[None] | None = None  # the round the writes from now on wait for
        self._flying: asyncio.Future[None] | None = None  # the round flushing now
        self._last = -interval  # when the last round started (monotonic)
        self.rounds = 0  # flush rounds done (for tests and benchmarks)
        self.failures = 0  # rounds or appends whose flush failed (logged)
        self._rounds: set[asyncio.Task[None]] = set()  # the round running (held: the loop keeps tasks weakly)

    async def appended(self, fd: int) -> None:
        """A line was written to ``fd``: ``always`` flushes it now; ``batch`` marks it for the next round.

        A failed flush is logged and counted, not raised: the line is written and delivered already.
        """
        if self.mode == "always":
            failed = await asyncio.to_thread(_sync_all, {fd})
            self.rounds += 1
            self._counted(not failed)
            if failed:
                self._failed(failed)
        elif self.mode == "batch":
            self._pending.add(fd)
            self._schedule()

    async def settled(self) -> None:
        """Return once every append made so far is on the disk (``batch``: the round that covers it).

        Raises AppendError if that round's flush failed.
        """
        waiting = self._next if self._next is not None else self._flying
        if self.mode == "batch" and waiting is not None:
            await asyncio.shield(waiting)

    def _schedule(self) -> None:
        if self._next is not None:
            return
        self._next = asyncio.get_running_loop().create_future()
        if self._flying is not None:  # one round at a time: the next starts when this one is done
            self._flying.add_done_callback(lambda _: self._start_later())
        else:
            self._start_later()

    def _start_later(self) -> None:
        """Start the next round once the interval since the last one's start has passed."""
        loop = asyncio.get_running_loop()
        loop.call_later(max(0.0, self._last + self.interval - time.monotonic()),
                        lambda: self._rounds.add(loop.create_task(self._commit())))

    async def _commit(self) -> None:
        """One round: flush every descriptor written since the last, then release what waits for it."""
        fds, done = self._pending, self._next
        self._pending, self._next, self._flying = set(), None, done  # appends from now on: the next round
        self._last = time.monotonic()
        assert done is not None
        failed = await asyncio.to_thread(_sync_all, fds)
        self.rounds += 1
        self._counted(not failed)
        self._flying = None
        self._rounds.clear()  # this round's task ends here
        if failed:
            self._failed(failed)
            done.set_exception(AppendError(f"flushing to disk failed: {failed}"))
            done.exception()  # retrieved: a round nobody waits for is logged, not reported again
        else:
            done.set_result(None)

    def _failed(self, failed: str) -> None:
        self.failures += 1
        log.error("flushing the logs to disk failed: %s (lines written since may be lost on a power cut)", failed)

    def before_close(self, fd: int) -> None:
        """A descriptor is about to be closed (a rotation, a stop): flush it now, unless the mode is off."""
        if self.mode == "off":
            return
        self._pending.discard(fd)
        try:
            os.fdatasync(fd)
        except OSError:
            log.warning("could not flush a log before closing it", exc_info=True)


def _sync_all(fds: set[int]) -> str:
    """fdatasync each descriptor; return what failed ('' if none). A descriptor closed meanwhile was flushed then."""
    failed = []
    for fd in fds:
        try:
            os.fdatasync(fd)
        except OSError as exc:
            if exc.errno != errno.EBADF:  # closed by a rotation, which flushed it first (Flusher.before_close)
                failed.append(exc.strerror or str(exc))
    return "; ".join(failed)
