"""One channel of this process: where appends go in and read-back lines come out.

A :class:`Channel` ties the halves of the design together: its
:class:`~wsserver.store.base.Feed` (the handler appends to it; its reader
reads the lines back, from the file or the stream) and its subscribers (each
an :class:`~wsserver.fanout.Outbox`).  The two halves never share a shortcut:
an append only stores the line, and what subscribers get is what the reader
read back.  Private lines take the same path through a second feed per
channel, and are routed to their two ends only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable

from .. import protocol
from ..annotations.keeper import Keeper
from ..lines.annotation import annotatable, tag_line, tagged_line
from ..lines.logline import Clock
from ..lines.moderation_log import Moderation
from ..metrics import Metrics
from ..store.base import Lines, Store, StoreError
from .fanout import Outbox, Wire, broadcast
from .presence import PresenceList
from .private import (
    PrivateEvents,
    deleted_private_data,
    private_between,
    private_window,
    stamp_before,
    stamp_of,
)
from .showing import View, joined
from .typing import Typing

log = logging.getLogger("wsserver.channel")  # the name operators know from the log (docs/operations.md)

# Limits
GATHER_FROM = 2000  # subscribers from which a channel gathers lines a moment before sending them
GATHER_SECONDS = 0.02  # how long: a join storm then costs each receiver a few frames, not one per join


class Channel:
    """One channel: its logs, their tailers and the outboxes of its connections here."""

    def __init__(self, name: str, store: Store, metrics: Metrics, moderation: Moderation,
                 announce_limit: int = 0, clock: Clock | None = None) -> None:
        self.name = name
        self.clock = clock or Clock("UTC")  # stamps what is written here (the hub's, in --timezone)
        self.announce_limit = announce_limit  # users above which join and leave lines are quiet live (0: never)
        self.metrics = metrics
        self.moderation = moderation  # the process's, shared: what is deleted
        self.feed = store.feed(name, False, self._deliver, gather=self._gather)
        self.private_feed = store.feed(name, True, self._deliver_private)
        self.private_events = PrivateEvents(name)  # its private log's lines as events
        self.private_finder = store.finder(name, private=True)  # a private line by its cursor (a deletion)
        self.finder = store.finder(name)
        self.keeper = Keeper(name, self.finder, store.indexes)  # reactions, edits, replies: folded from the log
        self.index = self.keeper.index
        self.view = View(name, moderation, self.index)
        self.subscribers: set[Outbox] = set()
        # Lower-cased handle -> that identity's connections here: one, or with tokens one per device.
        self.members: dict[str, list[Outbox]] = {}
        self.presence = PresenceList(name)
        self._backlogs: dict[tuple[int, str | None, str, int], asyncio.Future[tuple[list[Wire], str | None]]] = {}
        self.typing = Typing(name, self.subscribers, self.connections, store.events)
        self._events = store.events
        self.unsettled: set[str] = set()  # cursors of lines appended here, not yet delivered here
        self._delivered: asyncio.Event | None = None  # set at the next delivery (for settled())

    async def settled(self, most: float = 2.0) -> None:
        """Wait until every line appended here so far has been delivered here (at most ``most`` seconds)."""
        waiting = set(self.unsettled)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(most):
                while waiting & self.unsettled:
                    self._delivered = self._delivered or asyncio.Event()
                    await self._delivered.wait()

    def _settle(self, lines: Lines) -> None:
        self.unsettled.difference_update(lines.ends)
        if self._delivered is not None:
            self._delivered.set()
            self._delivered = None

    def _gather(self) -> float:
        return GATHER_SECONDS if len(self.subscribers) >= GATHER_FROM else 0.0

    # ------------------------------------------------------------ life

    @property
    def indexed(self) -> bool:
        """Return whether the index of annotations is built (and follows the log)."""
        return self.keeper.ready

    def start(self) -> None:
        """Start reading both logs from their ends, and build the index of annotations from the log."""
        self.feed.start()
        self.private_feed.start()
        self.keeper.start(self.feed)

    async def stop(self) -> None:
        """Stop reading and let go of the logs."""
        self.typing.stop()
        await self.keeper.stop(self.feed.cursor)
        await self.feed.stop()
        await self.private_feed.stop()

    def reopen(self) -> None:
        """Append to the files now at the paths, and follow them (after a rotation)."""
        self.feed.reopen()
        self.private_feed.reopen()

    # ------------------------------------------------------------ writing

    async def append(self, line: str, private: bool = False) -> str:
        """Store an escaped line; the feed's reader delivers it once it is stored.

        Raises :class:`~wsserver.store.base.AppendError` if it was not stored.
        """
        cursor = await (self.private_feed if private else self.feed).append(line)
        self.unsettled.add(cursor)  # till it is read back and delivered here
        return cursor

    async def write(self, lines: Callable[[str], str], private: bool = False) -> str | None:
        """Stamp and append what ``lines(stamp)`` makes (one line, or several in one append); return its cursor.

        The one way a member, an upload or the server writes to a channel: a
        store fault is logged here and reported as False, and nothing of it is
        left in the log (None).
        """
        try:
            return await self.append(lines(self.clock.stamp()), private)
        except StoreError:
            log.error("could not append to the logs of %s", self.name, exc_info=True)
            return None

    async def say(self, handle: str, text: str, to: str | None = None, tags: str | None = None) -> str | None:
        """Write ``handle: text`` (private to ``to`` if given; after its client-only ``tags``, if any) stamped now;
        return its cursor (None: not stored)."""
        return await self.write(lambda stamp: tagged_line(stamp, handle, text, tags, to), private=to is not None)

    async def send_tags(self, handle: str, tags: str, to: str | None = None) -> str | None:
        """Write ``handle``'s client-only tags alone (an IRC ``TAGMSG``; private to ``to``); return its cursor."""
        return await self.write(lambda stamp: tag_line(stamp, handle, tags, to, alone=True), private=to is not None)

    # ------------------------------------------------------------ delivering

    def _deliver(self, lines: Lines) -> None:
        self._backlogs.clear()  # the log moved: a backlog from now on ends further on
        self._settle(lines)
        changes = self.keeper.fold(lines)
        if changes is None:  # the index is being built: nobody subscribed yet (joins wait for it)
            return
        quiet = self.presence.quiet_lines(lines, self.announce_limit)
        if not quiet:
            frame = self.view.lines_frame(lines)
            if frame is not None:
                broadcast(self.subscribers, frame)
                self.metrics.fanned_out.inc((lines.data.count(b"\n") + 1) * len(self.subscribers))
        else:
            self._deliver_quietly(lines, quiet)
        for event in [*self.view.change_frames(changes), *self.view.tagmsg_frames(lines)]:
            broadcast(self.subscribers, event)

    def _deliver_quietly(self, lines: Lines, quiet: dict[int, tuple[str, bool]]) -> None:
        # A large channel: its join and leave lines are in the log, but not sent live to the
        # others; a joiner here still gets its own join line, where its live lines begin.
        loud = [index for index in range(len(lines.ends)) if index not in quiet]
        joiners = {outbox: index for index, (handle, joined) in quiet.items() if joined
                   for outbox in self.connections(handle)[-1:]}  # the joiner's newest connection here
        frame = self.view.lines_frame(lines, loud) if loud else None
        if frame is not None:
            broadcast((outbox for outbox in self.subscribers if outbox not in joiners), frame)
        for outbox, index in joiners.items():
            own = self.view.lines_frame(lines, sorted([*loud, index]))
            if own is not None:
                outbox.put(own)
        self.metrics.fanned_out.inc(len(loud) * len(self.subscribers) + len(joiners))

    def _deliver_private(self, lines: Lines) -> None:
        self._settle(lines)
        for event in self.private_events.read(lines):
            if event is None:
                log.warning("skipping a line of the private log of %s that is not a private line", self.name)
                continue
            frame = protocol.event_frame(*event)
            for outbox in {*self.connections(event[1]["from"]), *self.connections(event[1]["to"])}:
                outbox.put(frame)

    def follow(self, handle: str, outbox: Outbox, on: bool = True) -> None:
        """Give (``on``) or stop giving ``outbox`` the private lines of ``handle`` here, without a seat."""
        boxes = self.members.setdefault(handle.lower(), [])
        if on:
            boxes.append(outbox)
        elif outbox in boxes:
            boxes.remove(outbox)
        if not boxes:
            del self.members[handle.lower()]

    def send_presence(self, users: list[str]) -> None:
        """Take the channel's users (in any order); if they changed, send everyone here what changed."""
        if self.presence.update(users):
            for outbox in self.subscribers:
                outbox.presence_changed()

    def connections(self, handle: str) -> list[Outbox]:
        """Return the connections here of ``handle`` (several when one token identity uses several devices)."""
        return self.members.get(handle.lower(), [])

    def send_frame(self, frame: str) -> None:
        """Send ``frame`` to everyone here in the channel (an event that is not a line)."""
        broadcast(self.subscribers, frame)

    def send_read(self, handle: str, cursor: str) -> None:
        """Tell every connection here of ``handle`` that its read position moved to ``cursor``."""
        frame = protocol.event_frame("read", {"channel": self.name, "cursor": cursor})
        for outbox in self.connections(handle):
            outbox.put(frame)

    # ------------------------------------------------------------ subscribing

    async def subscribe(self, outbox: Outbox, handle: str, history: int, since: str | None = None,
                        identity: bool = False) -> None:
        """Queue the backlog for ``outbox``, then every line after it.

        The backlog is the last ``history`` lines, or with ``since`` the lines
        after that cursor (preceded by a ``resumed`` event); for a stable
        ``identity``, followed by its private lines of the same stretch of time.  The outbox joins
        the subscribers and the feed takes the backlog's end in the same step
        of the event loop, so the backlog ends exactly where live delivery begins.
        """
        await self.feed.wait_ready()
        await self.keeper.wait()
        self.subscribers.add(outbox)
        self.members.setdefault(handle.lower(), []).append(outbox)
        self.metrics.history_reads.labels("resume" if since is not None else "join").inc()
        # Connections that ask for the same backlog while the log has not moved share one read and
        # one set of frames: in a restart storm thousands resume from the same few cursors.
        key = (history, since, self.feed.cursor, len(self.moderation.deleted_in(self.name)))
        shared = self._backlogs.get(key)
        if shared is None:
            shared = self._backlogs[key] = asyncio.get_running_loop().create_future()
            try:
                shared.set_result(await self._backlog_frames(history, since))
            except BaseException as exc:
                self._backlogs.pop(key, None)
                shared.set_exception(exc)
                shared.exception()  # retrieved: those who share it raise it themselves
                raise
        frames, start = await asyncio.shield(shared)
        if identity:
            deleted = self.moderation.deleted_private_in(self.name)
            found = await private_window(self.private_feed, self.name, handle, start, deleted=deleted)
            frames = [*frames, *(Wire(protocol.event_frame("private", data)) for data in found)]
            if since is not None:  # private lines it may have shown before it left, deleted since
                frames += [Wire(self._deleted_private_frame(cursor)) for cursor, action in deleted.items()
                           if handle.lower() in (action.handle.lower(), action.to.lower())]
        outbox.put_first(frames)

    async def _backlog_frames(self, history: int, since: str | None) -> tuple[list[Wire], str | None]:
        """Return the backlog's frames and the stamp its stretch of time starts at (None: the log's start)."""
        backlog = await self.feed.backlog(history, since)
        frames = []
        if backlog.recovered is not None:
            frames.append(protocol.event_frame("resumed", {"channel": self.name, "recovered": backlog.recovered}))
        batches = backlog.batches
        if backlog.recovered is not True:  # the last lines: annotation lines are not lines to count
            batches = await self._fill(batches, history)
        for lines in batches:
            frame = self.view.lines_frame(lines)
            if frame is not None:
                frames.append(frame)
        if since is not None:
            # Lines it may have shown before it left and that were deleted since: hide them.
            frames.extend(self._deleted_frame(cursor) for cursor in self.moderation.deleted_in(self.name))
            # ... and whose reactions, edit or thread changed since: tell them.
            if backlog.recovered:
                frames.extend(self.view.change_frames(self.index.changed_after(since)))
        # Where its stretch of time starts: the line it saw last, or the first line sent.
        start = await stamp_before(self.feed, since) if backlog.recovered else next(
            (stamp_of(lines.data) for lines in batches if lines.ends), None)
        return [Wire(frame) for frame in frames], start

    async def _fill(self, batches: list[Lines], wanted: int) -> list[Lines]:
        """Return ``batches`` with older lines before them until ``wanted`` lines are shown (or the log starts)."""
        shown = sum(self.view.shown_count(lines) for lines in batches)
        while batches and batches[0].ends and shown < wanted:
            older = await self.feed.before(batches[0].start, wanted - shown)
            if older is None or not older.ends:
                break
            batches = [older, *batches]
            shown += self.view.shown_count(older)
        return batches

    def _deleted_frame(self, cursor: str) -> str:
        return protocol.event_frame("deleted", {"channel": self.name, "cursor": cursor})

    def send_deleted(self, cursor: str) -> None:
        """Tell everyone here to hide the line just before ``cursor``."""
        broadcast(self.subscribers, self._deleted_frame(cursor))

    def _deleted_private_frame(self, cursor: str) -> str:
        return protocol.event_frame("deleted", deleted_private_data(self.name, cursor))

    def send_deleted_private(self, cursor: str, sender: str, to: str) -> None:
        """Tell the connections here of ``sender`` and ``to`` to hide the private line just before ``cursor``."""
        frame = self._deleted_private_frame(cursor)
        for outbox in {*self.connections(sender), *self.connections(to)}:
            outbox.put(frame)

    def remove(self, handle: str, sentence: str) -> bool:
        """Tell ``handle``'s connections here ``sentence`` and close them with 1008; return whether any is here."""
        connections = self.connections(handle)
        for outbox in connections:
            outbox.put(protocol.error_frame(sentence))
            outbox.close_after(protocol.CLOSE_POLICY, sentence.encode("utf-8")[:120].decode("utf-8", errors="ignore"))
        return bool(connections)

    def unsubscribe(self, outbox: Outbox, handle: str) -> None:
        """Stop delivering to ``outbox``, and say it stopped typing."""
        if self.typing.is_typing(outbox):
            self.typing.set(outbox, handle, False)
        self.subscribers.discard(outbox)
        connections = self.members.get(handle.lower())
        if connections is not None and outbox in connections:
            connections.remove(outbox)
            if not connections:
                del self.members[handle.lower()]

    async def page(self, before: str | None, limit: int, identity: str | None = None) -> str | None:
        """Return a ``history`` frame of up to ``limit`` lines before ``before`` (None: the newest).

        Its ``cursor`` is where to page from next; for a stable ``identity``
        it carries that identity's private lines of the same stretch of time.  Returns None for a cursor
        that names no position of the log; raises StoreError if the store failed.
        """
        self.metrics.history_reads.labels("page").inc()
        found = await self.feed.before(before, limit)
        if found is None:
            return None
        # Annotation lines are not shown as lines: read on back until the page has its lines (or the start).
        lines = functools.reduce(joined, await self._fill([found], limit))
        after = await self.finder.after(before, 1) if identity is not None and before is not None else None
        end = stamp_of(after.lines.data) if after is not None else None  # the line the asker has after the page
        return self.view.history_frame(lines, **await private_between(
            self.private_feed, self.name, identity, lines, end, self.moderation.deleted_private_in(self.name)))

    async def jump(self, around: str | None, at: str | None, after: str | None, limit: int,
                   identity: str | None = None) -> str | None:
        """Return a ``history`` frame of the lines around a line, from a time, or after a cursor.

        Besides ``cursor`` (page back from it) it carries ``end`` (page on
        with ``after``), ``latest`` (nothing after it yet) and ``mark`` (the
        index of the line asked for, or the first at the time).  Returns None
        for a cursor that names no line or position; raises StoreError.
        """
        self.metrics.history_reads.labels("jump").inc()
        if around is not None:
            window = await self.finder.around(around, limit)
        elif at is not None:
            window = await self.finder.at(at, limit)
        else:
            assert after is not None
            window = await self.finder.after(after, limit)
        if window is None:
            return None
        lines = window.lines
        end = None if window.latest or not lines.ends else stamp_of(lines.data.rsplit(b"\n", 1)[-1])
        private = await private_between(self.private_feed, self.name, identity, lines, end,
                                        self.moderation.deleted_private_in(self.name))
        return self.view.history_frame(lines, window.mark, latest=window.latest, **private)

    async def thread(self, cursor: str, limit: int, after: str | None) -> str | None:
        """Return a ``thread`` answer: the root of the line's thread and its first ``limit`` replies (after ``after``).

        Returns None if ``cursor`` names no chat line; raises StoreError.
        """
        await self.keeper.wait()
        root, replies = self.index.thread(cursor)
        if after is not None and after != root:  # after the root: every reply
            replies = replies[replies.index(after) + 1:] if after in replies else []
        page = replies[:limit]
        wanted = page if after is not None else [root, *page]
        picked = await self.finder.pick(wanted)
        if after is None and annotatable(picked[0]) is None:
            return None
        kept = [(raw, end) for raw, end in zip(picked, wanted, strict=True) if raw is not None]
        lines = Lines(b"\n".join(raw for raw, _ in kept), root, kept[-1][1] if kept else root,
                      tuple(end for _, end in kept))
        return self.view.thread_frame(root, lines, len(replies) > limit)

