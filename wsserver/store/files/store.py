"""The default store: channel log files in the data dir, tailed, and the users file.

Each log file is a :class:`~wsserver.store.files.feed.FileFeed`.  The
:class:`FileStore` holds the one
directory watcher of the process, which wakes the tailers of files that any
process (or an operator's ``echo >>``) changed, and reports changes of the
users file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from ...config import CHANNEL_RE
from ...metrics import Metrics
from ..base import Deliver, Feed
from . import moved
from .accounts import FileAccounts
from .actions import ACTIONS_FILE, FileActions
from .channellog import log_path, private_path
from .durable import Flusher
from .events import FileEvents
from .feed import FileFeed
from .finder import FileFinder
from .handles import USERS_FILE, FileHandles
from .indexes import FileIndexes
from .pubkeys import FileKeys
from .reads import FileReads
from .tailer import DirWatcher, Tailer
from .tickets import FileTickets

log = logging.getLogger(__name__)



class FileStore:
    """Channel logs as files in ``data_dir``, the users file, and the watcher over both."""

    def __init__(self, data_dir: Path, metrics: Metrics, fsync: str = "batch") -> None:
        self.data_dir = data_dir
        # --fsync: when an append is on the disk (wsserver.store.files.durable)
        self.flusher = Flusher(fsync, counted=lambda ok: metrics.log_flushes.labels("done" if ok else "failed").inc())
        self.registry = FileHandles(data_dir)
        self.actions = FileActions(data_dir, flush=fsync != "off")
        self.events = FileEvents(data_dir)
        self.reads = FileReads(data_dir)
        self.indexes = FileIndexes(data_dir)
        self.tickets = FileTickets(data_dir)
        self.keys = FileKeys(data_dir, flush=fsync != "off")
        self.accounts = FileAccounts(data_dir)
        self._tailers: dict[str, Tailer] = {}
        self._users_changed: Callable[[set[str] | None], None] = lambda channels: None
        self._append_failed = False
        self._watcher = DirWatcher(data_dir, self._changed, lambda: list(self._tailers.values()))
        metrics.watch_tail_lag(lambda: [(t.path.name, t.fd, t.offset) for t in self._tailers.values()])

    def feed(self, channel: str, private: bool, deliver: Deliver, gather: Callable[[], float] | None = None) -> Feed:
        """Return the feed of ``channel_<name>.log`` or ``private_<name>.log``."""
        path = (private_path if private else log_path)(self.data_dir, channel)
        feed = FileFeed(path, deliver, gather, self._appended, self.flusher)
        self._tailers[path.name] = feed.tailer
        return feed

    async def start(self, users_changed: Callable[[set[str] | None], None]) -> None:
        """Drop handles of processes that are gone, and start watching the data dir."""
        self._users_changed = users_changed
        moved.load(self.data_dir)  # a data dir restored from a backup: the old cursors stay good
        dropped = await self.registry.reclaim()
        if dropped:
            log.info("reclaimed %d handles left by processes that are gone", dropped)
        self._watcher.start()

    async def durable(self) -> None:
        """Wait for the flush round that covers the appends so far (``--fsync batch``); raises AppendError."""
        await self.flusher.settled()

    async def stop(self) -> None:
        """Stop watching."""
        await self._watcher.stop()

    def _changed(self, file_name: str) -> None:
        if file_name == USERS_FILE:
            self._users_changed(None)  # one read of the file serves every channel
            return
        if file_name == ACTIONS_FILE:
            self.actions.wake()
            return
        tailer = self._tailers.get(file_name)
        if tailer is not None:
            tailer.wake()

    def finder(self, channel: str, private: bool = False) -> FileFinder:
        """Return what searches and jumps in ``channel_<name>.log`` (``private``: ``private_<name>.log``)."""
        return FileFinder((private_path if private else log_path)(self.data_dir, channel))

    def channel_names(self) -> list[str]:
        """Return the channels with a log file in the data dir."""
        names = []
        for path in self.data_dir.glob("channel_*.log"):
            name = path.name[len("channel_") : -len(".log")]
            if CHANNEL_RE.match(name):
                names.append(name)
        return names

    def _appended(self, ok: bool) -> None:
        self._append_failed = not ok

    async def measure(self) -> None:
        """Nothing to measure at scrape time: the tail lag is read by its own collector."""

    def problem(self) -> str | None:
        """Return why lines cannot be taken: the data dir is not writable, or the last append failed."""
        if not os.access(self.data_dir, os.W_OK):
            return "data dir is not writable"
        return "the last append to a channel log failed" if self._append_failed else None
