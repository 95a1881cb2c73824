"""The channels of one process: where appends go in and tailed lines come out.

A :class:`Channel` ties the three halves of the design together: its
:class:`~wsserver.channellog.ChannelLog` (the handler appends), its
:class:`~wsserver.tailer.Tailer` (reads the file back) and its subscribers
(each an :class:`~wsserver.fanout.Outbox`).  The two halves never share a
shortcut: an append only wakes the tailer, and what subscribers get is what
the tailer read from the file.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from . import protocol
from .channellog import ChannelLog, Cursor, log_path, read_last_lines, repair_torn_tail
from .fanout import Outbox, broadcast
from .logline import Clock, format_line
from .tailer import DirWatcher, Tailer

log = logging.getLogger(__name__)


class Channel:
    """One channel: its log file, its tailer and the outboxes of its connections here."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.log = ChannelLog(path)
        self.tailer = Tailer(path, self._deliver, on_replaced=self.log.reopen)
        self.subscribers: set[Outbox] = set()

    def start(self) -> None:
        """Open the file for appending and start tailing it from its end."""
        removed = repair_torn_tail(self.log.path)
        if removed:
            log.warning("cut a torn last line of %d bytes from %s", removed, self.log.path)
        self.log.open()
        self.tailer.start(at_end=True)

    async def stop(self) -> None:
        """Stop tailing and close the file."""
        await self.tailer.stop()
        self.log.close()

    def append(self, line: str) -> None:
        """Append an escaped line; the tailer delivers it once it is in the file.

        Raises :class:`~wsserver.channellog.AppendError` if it could not be written.
        """
        self.log.append(line)
        self.tailer.wake()

    def _deliver(self, data: bytes, cursor: Cursor) -> None:
        text = data[:-1].decode("utf-8", errors="replace")
        broadcast(self.subscribers, protocol.lines_frame(self.name, text, str(cursor)))

    async def subscribe(self, outbox: Outbox, history: int) -> None:
        """Queue the last ``history`` lines for ``outbox``, then every line after them.

        The outbox joins the subscribers and the history's end is taken in the
        same step of the event loop, so the history ends exactly where live
        delivery begins.
        """
        cursor = self.tailer.cursor
        # A duplicate, so a rotation that closes the tailer's descriptor
        # meanwhile cannot pull the file from under the read.
        fd = os.dup(self.tailer.fd)
        self.subscribers.add(outbox)
        try:
            lines, _start = await asyncio.to_thread(read_last_lines, fd, cursor.offset, history)
        finally:
            os.close(fd)
        if lines:
            text = b"\n".join(lines).decode("utf-8", errors="replace")
            outbox.put_first(protocol.lines_frame(self.name, text, str(cursor)))

    def unsubscribe(self, outbox: Outbox) -> None:
        """Stop delivering to ``outbox``."""
        self.subscribers.discard(outbox)


class Hub:
    """Every channel this process serves, and the watcher that wakes their tailers."""

    def __init__(self, data_dir: Path, channels: tuple[str, ...], timezone: str) -> None:
        self.data_dir = data_dir
        self.clock = Clock(timezone)
        self.channels = {name: Channel(name, log_path(data_dir, name)) for name in channels}
        self._by_file = {channel.log.path.name: channel.tailer for channel in self.channels.values()}
        self._watcher = DirWatcher(
            data_dir,
            self._by_file.get,
            lambda: [channel.tailer for channel in self.channels.values()],
        )
        self.append_failed = False

    async def start(self) -> None:
        """Open every channel and start watching the data dir."""
        for channel in self.channels.values():
            channel.start()
        self._watcher.start()

    async def stop(self) -> None:
        """Stop watching and close every channel."""
        await self._watcher.stop()
        for channel in self.channels.values():
            await channel.stop()

    def say(self, channel: Channel, handle: str, text: str) -> bool:
        """Append ``handle: text`` with the current time; return False (and log) if it was not saved."""
        line = format_line(self.clock.stamp(), handle, text)
        try:
            channel.append(line)
        except OSError:
            log.error("could not append to %s", channel.log.path, exc_info=True)
            self.append_failed = True
            return False
        self.append_failed = False
        return True
