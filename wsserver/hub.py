"""The channels of one process: where appends go in and tailed lines come out.

A :class:`Channel` ties the halves of the design together: its
:class:`~wsserver.channellog.ChannelLog` (the handler appends), its
:class:`~wsserver.tailer.Tailer` (reads the file back) and its subscribers
(each an :class:`~wsserver.fanout.Outbox`).  The two halves never share a
shortcut: an append only wakes the tailer, and what subscribers get is what
the tailer read from the file.  Private lines take the same path through a
second log and tailer per channel, and are routed to their two ends only.

Presence comes from the users file too: it is replaced on every claim and
release by any process, the directory watcher sees that, and the hub sends
each channel its new list of handles if it changed.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import os
from collections import defaultdict
from pathlib import Path

from . import protocol
from .channellog import (
    ChannelLog,
    Cursor,
    at_line_start,
    log_path,
    private_path,
    read_last_lines,
    read_lines_between,
    repair_torn_tail,
)
from .config import CHANNEL_RE
from .fanout import Outbox, Wire, broadcast
from .logline import LINE_RE, Clock, format_line
from .metrics import Metrics
from .registry import USERS_FILE, Registry
from .tailer import DirWatcher, Tailer

log = logging.getLogger(__name__)

# Limits
RESUME_LIMIT = 8 * 1024 * 1024  # bytes replayed for a resume; further behind gets last-N history
# Timeouts
TYPING_EXPIRES = 6.0  # seconds a "typing: true" lasts without a refresh
PRESENCE_POLL = 5.0  # seconds between presence re-reads: users of a process killed outright drop out
GATHER_FROM = 2000  # subscribers from which a channel gathers lines a moment before sending them
GATHER_SECONDS = 0.02  # how long: a join storm then costs each receiver a few frames, not one per join
PRESENCE_SPACING = 0.25  # least seconds between two presence broadcasts: a join storm sends a few, not one per join
PRESENCE_SCALE = 1000  # users in a channel from which the spacing grows with the square of its size ...
PRESENCE_SPACING_MAX = 10.0  # ... up to this: a list of N users to N users is N² bytes


class TooManyChannels(Exception):
    """Creating one more channel would pass ``--max-channels``."""


class Channel:
    """One channel: its logs, their tailers and the outboxes of its connections here."""

    def __init__(self, name: str, data_dir: Path, metrics: Metrics) -> None:
        self.name = name
        self.metrics = metrics
        self.log = ChannelLog(log_path(data_dir, name))
        self.tailer = Tailer(self.log.path, self._deliver, on_replaced=self.log.reopen, gather=self._gather)
        self.private_log = ChannelLog(private_path(data_dir, name))
        self.private_tailer = Tailer(self.private_log.path, self._deliver_private, on_replaced=self.private_log.reopen)
        self.subscribers: set[Outbox] = set()
        self.members: dict[str, Outbox] = {}  # lower-cased handle -> outbox, for private lines
        self.presence: list[str] | None = None
        # The last list sent, kept ready to send: sort keys, each handle as
        # JSON, and the encoded frame; a joiner's list is spliced from them.
        self._presence_keys: list[tuple[str, str]] = []
        self._presence_json: list[str] = []
        self._presence_wire: Wire | None = None
        self._typing: dict[Outbox, tuple[str, asyncio.TimerHandle]] = {}

    def _gather(self) -> float:
        return GATHER_SECONDS if len(self.subscribers) >= GATHER_FROM else 0.0

    # ------------------------------------------------------------ life

    def start(self) -> None:
        """Open both logs for appending and tail them from their ends."""
        for channel_log, tailer in ((self.log, self.tailer), (self.private_log, self.private_tailer)):
            removed = repair_torn_tail(channel_log.path)
            if removed:
                log.warning("cut a torn last line of %d bytes from %s", removed, channel_log.path)
            channel_log.open()
            tailer.start(at_end=True)

    async def stop(self) -> None:
        """Stop tailing and close the files."""
        for timer in self._typing.values():
            timer[1].cancel()
        for channel_log, tailer in ((self.log, self.tailer), (self.private_log, self.private_tailer)):
            await tailer.stop()
            channel_log.close()

    def reopen(self) -> None:
        """Append to the files now at the paths, and have the tailers follow them (after a rotation)."""
        for channel_log, tailer in ((self.log, self.tailer), (self.private_log, self.private_tailer)):
            channel_log.reopen()
            tailer.wake()

    # ------------------------------------------------------------ writing

    def append(self, line: str, private: bool = False) -> None:
        """Append an escaped line; its tailer delivers it once it is in the file.

        Raises :class:`~wsserver.channellog.AppendError` if it could not be written.
        """
        if private:
            self.private_log.append(line)
            self.private_tailer.wake()
        else:
            self.log.append(line)
            self.tailer.wake()

    # ------------------------------------------------------------ delivering

    def _deliver(self, data: bytes, cursor: Cursor) -> None:
        text = data[:-1].decode("utf-8", errors="replace")
        broadcast(self.subscribers, protocol.lines_frame(self.name, text, str(cursor)))
        self.metrics.fanned_out.inc(data.count(b"\n") * len(self.subscribers))

    def _deliver_private(self, data: bytes, cursor: Cursor) -> None:
        for raw in data[:-1].split(b"\n"):
            line = raw.decode("utf-8", errors="replace")
            match = LINE_RE.match(line)
            if match is None or match.group(3) is None:
                log.warning("skipping a line of %s that is not a private line", self.private_log.path)
                continue
            sender, recipient = match.group(2), match.group(3)
            frame = protocol.event_frame(
                "private", {"channel": self.name, "from": sender, "to": recipient, "message": line}
            )
            ends = {self.members.get(sender.lower()), self.members.get(recipient.lower())}
            for outbox in ends:
                if outbox is not None:
                    outbox.put(frame)

    def presence_with(self, handle: str) -> Wire:
        """Return a presence frame for a joiner: the last list sent here, with the joiner in it.

        Costs a splice of the cached list, not a sort and an encoding of it:
        in a join storm every joiner gets one.
        """
        key = handle_key(handle)
        at = bisect.bisect_left(self._presence_keys, key)
        if self._presence_wire is not None and at < len(self._presence_keys) and self._presence_keys[at] == key:
            return self._presence_wire
        users = [*self._presence_json[:at], json.dumps(handle, ensure_ascii=False), *self._presence_json[at:]]
        return Wire(protocol.presence_frame(self.name, users))

    def send_presence(self, users: list[str]) -> None:
        """Send the channel's users (sorted) to everyone here, if they changed."""
        if users == self.presence:
            return
        self.presence = users
        self._presence_keys = [handle_key(handle) for handle in users]
        self._presence_json = [json.dumps(handle, ensure_ascii=False) for handle in users]
        self._presence_wire = wire = Wire(protocol.presence_frame(self.name, self._presence_json))
        for outbox in self.subscribers:
            outbox.put_presence(wire)

    def is_typing(self, outbox: Outbox) -> bool:
        """Return whether the connection of ``outbox`` is marked as typing."""
        return outbox in self._typing

    def set_typing(self, outbox: Outbox, handle: str, typing: bool) -> bool:
        """Record that ``handle`` started or stopped typing; tell the others on a change. Return whether it changed."""
        current = self._typing.pop(outbox, None)
        if current is not None:
            current[1].cancel()
        if typing:
            timer = asyncio.get_running_loop().call_later(TYPING_EXPIRES, self.set_typing, outbox, handle, False)
            self._typing[outbox] = (handle, timer)
        changed = (current is not None) != typing
        if changed:
            frame = protocol.event_frame("typing", {"channel": self.name, "handle": handle, "typing": typing})
            broadcast((o for o in self.subscribers if o is not outbox), frame)
        return changed

    # ------------------------------------------------------------ subscribing

    async def subscribe(self, outbox: Outbox, handle: str, history: int, since: str | None = None) -> None:
        """Queue the backlog for ``outbox``, then every line after it.

        The backlog is the last ``history`` lines, or with ``since`` the lines
        after that cursor (preceded by a ``resumed`` event).  The outbox joins
        the subscribers and the backlog's end is taken in the same step of
        the event loop, so the backlog ends exactly where live delivery begins.
        """
        cursor = self.tailer.cursor
        # A duplicate, so a rotation that closes the tailer's descriptor
        # meanwhile cannot pull the file from under the read.
        fd = os.dup(self.tailer.fd)
        self.subscribers.add(outbox)
        self.members[handle.lower()] = outbox
        try:
            frames = await asyncio.to_thread(self._backlog, fd, cursor, history, since)
        finally:
            os.close(fd)
        outbox.put_first(frames)

    def _backlog(self, fd: int, cursor: Cursor, history: int, since: str | None) -> list[str]:
        frames: list[str] = []
        self.metrics.history_reads.labels("resume" if since is not None else "join").inc()
        if since is not None:
            start = Cursor.parse(since)
            exact = (
                start is not None
                and start.identity == cursor.identity
                and start.offset <= cursor.offset
                and cursor.offset - start.offset <= RESUME_LIMIT
                and at_line_start(fd, start.offset)
            )
            frames.append(protocol.event_frame("resumed", {"channel": self.name, "recovered": exact}))
            if exact:
                assert start is not None
                for batch, end in read_lines_between(fd, start.offset, cursor.offset):
                    text = batch.decode("utf-8", errors="replace")
                    frames.append(protocol.lines_frame(self.name, text, str(Cursor(cursor.identity, end))))
                return frames
        lines, _ = read_last_lines(fd, cursor.offset, history)
        if lines:
            text = b"\n".join(lines).decode("utf-8", errors="replace")
            frames.append(protocol.lines_frame(self.name, text, str(cursor)))
        return frames

    def unsubscribe(self, outbox: Outbox, handle: str) -> None:
        """Stop delivering to ``outbox``, and say it stopped typing."""
        if outbox in self._typing:
            self.set_typing(outbox, handle, False)
        self.subscribers.discard(outbox)
        if self.members.get(handle.lower()) is outbox:
            del self.members[handle.lower()]

    async def page(self, before: str, limit: int) -> str | None:
        """Return a ``history`` frame of up to ``limit`` lines before ``before``, or None if it cannot be read."""
        self.metrics.history_reads.labels("page").inc()
        start = Cursor.parse(before)
        current = self.tailer.cursor
        if start is None or start.identity != current.identity or start.offset > current.offset:
            return None
        fd = os.dup(self.tailer.fd)
        try:
            if not await asyncio.to_thread(at_line_start, fd, start.offset):
                return None
            lines, first = await asyncio.to_thread(read_last_lines, fd, start.offset, limit)
        finally:
            os.close(fd)
        text = b"\n".join(lines).decode("utf-8", errors="replace")
        return protocol.event_frame(
            "history", {"channel": self.name, "message": text, "cursor": str(Cursor(current.identity, first))}
        )


class Hub:
    """Every channel this process serves, the watcher that wakes their tailers, and presence."""

    def __init__(
        self,
        data_dir: Path,
        channels: tuple[str, ...],
        timezone: str,
        registry: Registry,
        allow_new_channels: bool = False,
        max_channels: int = 1000,
        metrics: Metrics | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.metrics = metrics or Metrics()
        self.metrics.watch_tail_lag(
            lambda: [(tailer.path.name, tailer.fd, tailer.offset) for tailer in self._by_file.values()]
        )
        self.clock = Clock(timezone)
        self.registry = registry
        self.configured = channels
        self.allow_new_channels = allow_new_channels
        self.max_channels = max_channels
        self.channels: dict[str, Channel] = {}
        self._by_file: dict[str, Tailer] = {}
        self._watcher = DirWatcher(data_dir, self._changed, self._all_tailers)
        self._presence_task: asyncio.Task[None] | None = None
        self._presence_poll: asyncio.Task[None] | None = None
        self._presence_dirty = False
        self.append_failed = False

    async def start(self) -> None:
        """Open every configured channel and start watching the data dir."""
        for name in self.configured:
            self._open(name)
        self._watcher.start()
        self.refresh_presence()
        self._presence_poll = asyncio.get_running_loop().create_task(self._poll_presence(), name="presence poll")

    async def stop(self) -> None:
        """Stop watching and close every channel."""
        await self._watcher.stop()
        for task in (self._presence_task, self._presence_poll):
            if task is not None:
                task.cancel()
        for channel in self.channels.values():
            await channel.stop()

    def reopen(self) -> None:
        """Reopen every log file (SIGHUP, after logrotate renamed them)."""
        log.info("reopening the log files")
        for channel in self.channels.values():
            channel.reopen()

    # ------------------------------------------------------------ channels

    def channel(self, name: str) -> Channel | None:
        """Return the channel ``name``, creating it if new channels are allowed; None if it cannot exist.

        Raises :class:`TooManyChannels` when creating it would pass ``--max-channels``.
        """
        existing = self.channels.get(name)
        if existing is not None or not self.allow_new_channels or not CHANNEL_RE.match(name):
            return existing
        if len(self.channels) >= self.max_channels:
            raise TooManyChannels(name)
        log.info("creating channel %s", name)
        return self._open(name)

    def _open(self, name: str) -> Channel:
        channel = Channel(name, self.data_dir, self.metrics)
        channel.start()
        self.channels[name] = channel
        self._by_file[channel.log.path.name] = channel.tailer
        self._by_file[channel.private_log.path.name] = channel.private_tailer
        return channel

    def known_channels(self) -> list[str]:
        """Return the configured channels, then those created here or by other processes on the data dir."""
        names = list(self.configured)
        others = set(self.channels) - set(names)
        if self.allow_new_channels:
            for path in self.data_dir.glob("channel_*.log"):
                name = path.name[len("channel_") : -len(".log")]
                if CHANNEL_RE.match(name):
                    others.add(name)
        return names + sorted(others - set(names))

    def _all_tailers(self) -> list[Tailer]:
        return list(self._by_file.values())

    def _changed(self, file_name: str) -> None:
        if file_name == USERS_FILE:
            self.refresh_presence()
            return
        tailer = self._by_file.get(file_name)
        if tailer is not None:
            tailer.wake()

    # ------------------------------------------------------------ writing

    def say(self, channel: Channel, handle: str, text: str, to: str | None = None) -> bool:
        """Append ``handle: text`` (private to ``to`` if given) with the current time.

        Returns False (and logs) if it was not saved.
        """
        line = format_line(self.clock.stamp(), handle, text, to)
        try:
            channel.append(line, private=to is not None)
        except OSError:
            log.error("could not append to the logs of %s", channel.name, exc_info=True)
            self.append_failed = True
            return False
        self.append_failed = False
        return True

    # ------------------------------------------------------------ presence

    def refresh_presence(self) -> None:
        """Re-read the users file soon and send every channel whose users changed its new list."""
        self._presence_dirty = True
        if self._presence_task is None or self._presence_task.done():
            self._presence_task = asyncio.get_running_loop().create_task(self._refresh(), name="presence")

    async def _poll_presence(self) -> None:
        # A process killed outright changes no file; its entries stop counting
        # (their owner is not alive) the next time the file is read.
        while True:
            await asyncio.sleep(PRESENCE_POLL)
            self.refresh_presence()

    async def _refresh(self) -> None:
        # Requests that arrive while a read is under way are served by one
        # more read, not one each: a thousand joins cost a few reads.
        while self._presence_dirty:
            self._presence_dirty = False
            try:
                entries = await self.registry.users()
            except OSError:
                log.exception("reading the users file for presence failed")
                return
            users: dict[str, list[str]] = defaultdict(list)
            for entry in entries:
                users[entry.channel].append(entry.handle)
            for channel in self.channels.values():
                channel.send_presence(sort_handles(users.get(channel.name, [])))
            if self._presence_dirty:
                await asyncio.sleep(self.presence_spacing())

    def presence_spacing(self) -> float:
        """Return the least seconds between two presence broadcasts now.

        0.25 s up to 1,000 users in the largest channel here, then growing
        with the square of its size (the bytes a broadcast costs), up to 10 s:
        6.25 s at 5,000.  Everyone still gets the latest list, only fewer of
        the lists in between.
        """
        largest = max((len(channel.subscribers) for channel in self.channels.values()), default=0)
        scale = max(1.0, largest / PRESENCE_SCALE) ** 2
        return min(PRESENCE_SPACING * scale, PRESENCE_SPACING_MAX)


def handle_key(handle: str) -> tuple[str, str]:
    """Return the key handles are sorted by: as people read them, without regard to case."""
    return (handle.casefold(), handle)


def sort_handles(handles: list[str]) -> list[str]:
    """Sort handles as people read them: without regard to case."""
    return sorted(handles, key=handle_key)
