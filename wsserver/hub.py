"""The channels of one process: where appends go in and tailed lines come out.

A :class:`Channel` ties the halves of the design together: its
:class:`~wsserver.store.Feed` (the handler appends to it; its reader reads
the lines back, from the file or the stream) and its subscribers (each an
:class:`~wsserver.fanout.Outbox`).  The two halves never share a shortcut:
an append only stores the line, and what subscribers get is what the reader
read back.  Private lines take the same path through a second feed per
channel, and are routed to their two ends only.

Presence comes from the store's registry too: when any process claims or
releases a handle the store says so, and the hub sends each channel its new
list of handles if it changed.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
from collections import defaultdict

from . import protocol
from .config import CHANNEL_RE
from .fanout import Outbox, Wire, broadcast
from .logline import LINE_RE, Clock, format_line
from .metrics import Metrics
from .store.base import Store

log = logging.getLogger(__name__)

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

    def __init__(self, name: str, store: Store, metrics: Metrics) -> None:
        self.name = name
        self.metrics = metrics
        self.feed = store.feed(name, False, self._deliver, gather=self._gather)
        self.private_feed = store.feed(name, True, self._deliver_private)
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
        """Start reading both logs from their ends."""
        self.feed.start()
        self.private_feed.start()

    async def stop(self) -> None:
        """Stop reading and let go of the logs."""
        for timer in self._typing.values():
            timer[1].cancel()
        await self.feed.stop()
        await self.private_feed.stop()

    def reopen(self) -> None:
        """Append to the files now at the paths, and follow them (after a rotation)."""
        self.feed.reopen()
        self.private_feed.reopen()

    # ------------------------------------------------------------ writing

    async def append(self, line: str, private: bool = False) -> None:
        """Store an escaped line; the feed's reader delivers it once it is stored.

        Raises :class:`~wsserver.channellog.AppendError` if it was not stored.
        """
        await (self.private_feed if private else self.feed).append(line)

    # ------------------------------------------------------------ delivering

    def _deliver(self, data: bytes, cursor: str) -> None:
        text = data[:-1].decode("utf-8", errors="replace")
        broadcast(self.subscribers, protocol.lines_frame(self.name, text, cursor))
        self.metrics.fanned_out.inc(data.count(b"\n") * len(self.subscribers))

    def _deliver_private(self, data: bytes, cursor: str) -> None:
        for raw in data[:-1].split(b"\n"):
            line = raw.decode("utf-8", errors="replace")
            match = LINE_RE.match(line)
            if match is None or match.group(3) is None:
                log.warning("skipping a line of the private log of %s that is not a private line", self.name)
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
        the subscribers and the feed takes the backlog's end in the same step
        of the event loop, so the backlog ends exactly where live delivery begins.
        """
        await self.feed.wait_ready()
        self.subscribers.add(outbox)
        self.members[handle.lower()] = outbox
        self.metrics.history_reads.labels("resume" if since is not None else "join").inc()
        backlog = await self.feed.backlog(history, since)
        frames = []
        if backlog.recovered is not None:
            frames.append(protocol.event_frame("resumed", {"channel": self.name, "recovered": backlog.recovered}))
        for batch, cursor in backlog.batches:
            frames.append(protocol.lines_frame(self.name, batch.decode("utf-8", errors="replace"), cursor))
        outbox.put_first(frames)

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
        found = await self.feed.before(before, limit)
        if found is None:
            return None
        text, first = found
        return protocol.event_frame(
            "history", {"channel": self.name, "message": text.decode("utf-8", errors="replace"), "cursor": first}
        )


class Hub:
    """Every channel this process serves, their store, and presence."""

    def __init__(
        self,
        store: Store,
        channels: tuple[str, ...],
        timezone: str,
        allow_new_channels: bool = False,
        max_channels: int = 1000,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.registry = store.registry
        self.metrics = metrics or Metrics()
        self.clock = Clock(timezone)
        self.configured = channels
        self.allow_new_channels = allow_new_channels
        self.max_channels = max_channels
        self.channels: dict[str, Channel] = {}
        self._presence_task: asyncio.Task[None] | None = None
        self._presence_poll: asyncio.Task[None] | None = None
        self._presence_dirty = False

    async def start(self) -> None:
        """Start the store and open every configured channel."""
        await self.store.start(self.refresh_presence)
        for name in self.configured:
            self._open(name)
        self.refresh_presence()
        self._presence_poll = asyncio.get_running_loop().create_task(self._poll_presence(), name="presence poll")

    async def stop(self) -> None:
        """Close every channel and stop the store."""
        for task in (self._presence_task, self._presence_poll):
            if task is not None:
                task.cancel()
        for channel in self.channels.values():
            await channel.stop()
        await self.store.stop()

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
        channel = Channel(name, self.store, self.metrics)
        channel.start()
        self.channels[name] = channel
        return channel

    def known_channels(self) -> list[str]:
        """Return the configured channels, then those created here or by other processes on the store."""
        names = list(self.configured)
        others = set(self.channels) - set(names)
        if self.allow_new_channels:
            others.update(self.store.channel_names())
        return names + sorted(others - set(names))

    # ------------------------------------------------------------ writing

    async def say(self, channel: Channel, handle: str, text: str, to: str | None = None) -> bool:
        """Append ``handle: text`` (private to ``to`` if given) with the current time.

        Returns False (and logs) if it was not saved.
        """
        line = format_line(self.clock.stamp(), handle, text, to)
        try:
            await channel.append(line, private=to is not None)
        except OSError:
            log.error("could not append to the logs of %s", channel.name, exc_info=True)
            return False
        return True

    # ------------------------------------------------------------ presence

    def refresh_presence(self) -> None:
        """Re-read the handles soon and send every channel whose users changed its new list."""
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
