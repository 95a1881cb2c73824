"""What the annotation lines of one log say about its lines: reactions, edits, replies and threads.

An :class:`Index` is derived from the log and nothing else: a process builds
it when it opens a channel, from one forward pass over the log that picks the
lines holding one of :data:`~.lines.MARKERS` (:meth:`~wsserver.store.base.Finder.scan`),
and then folds every line its feed reads back, in order, as every other
process does.  So every process holds the same index, and a missing one is
rebuilt from the log.  History, paging, jumps and resume then decorate each
line with a dictionary lookup: the cost of a read does not grow with the log,
however far later its annotations were written.

Folding is deterministic and idempotent, so two processes that both appended
the same reaction in a race agree on the result: a reaction already there
changes nothing, a 21st different emoji on a line is ignored, an edit counts
only from the line's author, and the latest edit wins.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..lines.annotation import EDIT, REACT, REPLY, SHARE, TAGGED, TAGMSG, marked, parse_annotation
from ..lines.logline import LINE_RE
from ..protocol import REACTIONS_MOST as REACTIONS_MOST  # a limit the protocol names
from ..store.base import Lines

# What changed about a line, as the live event that tells it
REACTIONS, EDITED, THREAD = "reactions", "edited", "thread"


class Refs(Protocol):
    """How a store names positions in annotation lines (its :class:`~wsserver.store.base.Finder`)."""

    def locate(self, cursor: str) -> tuple[str, str] | None: ...

    def cursor_at(self, log: str, ref: str) -> str | None: ...

    def order(self, ref: str) -> str: ...


@dataclass(slots=True)
class Annotated:
    """What annotations say about one chat line (one of these per annotated line: kept small)."""

    reactions: dict[str, list[str]] = field(default_factory=dict)  # emoji -> handles, in the order they reacted
    edit: str | None = None  # the latest text, escaped as in the log
    edits: tuple[str, ...] = ()  # the cursors of its edit lines (an erase erases them too)
    parent: str | None = None  # a reply: the line it replies to
    root: str | None = None  # a reply: its thread's root
    replies: tuple[str, ...] = ()  # a root: its replies, in order
    file: dict[str, Any] | None = None  # the line of a shared file: url, name, size, type (width, height, thumbnail)
    # The order (Refs.order) of the last line that changed its reactions, its edit, its thread
    reacted: str | None = None
    edited: str | None = None
    threaded: str | None = None
    tags: str | None = None  # an IRC client's client-only tags, as sent (lines.annotation.TAGS_RE)

    def changed(self) -> list[tuple[str, str]]:
        """Return (order, REACTIONS, EDITED or THREAD) for each kind of change it had."""
        return [(order, kind) for order, kind in ((self.reacted, REACTIONS), (self.edited, EDITED),
                                                   (self.threaded, THREAD)) if order is not None]


Pending = tuple[str, str, "str | dict[str, Any]", str]
"""A link whose line has not been read yet: (REPLY or SHARE, handle, parent cursor or file, order)."""

Change = tuple[str, str]
"""(REACTIONS, EDITED or THREAD, the cursor of the line it changed)."""


def is_annotation(raw: bytes) -> bool:
    """Return whether a log line is an annotation line (not shown as a line: its effect is)."""
    return marked(raw) and parse_annotation(raw.decode("utf-8", errors="replace")) is not None


class Index:
    """The annotations of one channel's current log, by the cursor of the line each is about."""

    def __init__(self, refs: Refs) -> None:
        self.refs = refs
        self.log: str | None = None
        self.lines: dict[str, Annotated] = {}
        # A reply or share link read without its line yet: (kind, handle, the parent or the file, order).
        self.pending: Pending | None = None
        self.pending_tags: tuple[str, str] | None = None  # a tag line read without its line yet: (handle, tags)
        self.folded = 0  # annotation lines folded so far (what a snapshot saves reading again)
        self._end: str | None = None  # the order of the end of the last batch folded live

    def restore(self, log: str | None, lines: dict[str, Annotated], pending: Pending | None,
                pending_tags: tuple[str, str] | None = None) -> None:
        """Start from a state read back from a snapshot (or from nothing)."""
        self.log, self.lines, self.pending, self.folded = log, lines, pending, 0
        self.pending_tags = pending_tags

    def fold_lines(self, lines: Lines) -> list[Change]:
        """Fold a batch a feed read back: at the cost of one look for the marker, for most batches.

        A batch that starts before where the last one ended is of a log cut
        back in place (copytruncate): what the index held is of lines gone.
        """
        start, end = self.refs.locate(lines.start), self.refs.locate(lines.end)
        if start is not None and start[0] == self.log and self._end is not None \
                and self.refs.order(start[1]) < self._end:
            self.lines, self.pending, self.pending_tags = {}, None, None
        self._end = self.refs.order(end[1]) if end is not None else None
        if self.pending is None and self.pending_tags is None and not marked(lines.data):
            if end is not None and end[0] != self.log:
                self.log, self.lines = end[0], {}
            return []
        return self.fold(lines.split())

    def fold(self, lines: Iterable[tuple[bytes, str]]) -> list[Change]:
        """Take lines read back from the log (each with the cursor after it), in order; return what they changed."""
        changes: list[Change] = []
        for raw, end in lines:
            located = self.refs.locate(end)
            if located is None:
                continue
            log, ref = located
            if log != self.log:  # a rotated file, a stream made anew: its annotations are its own
                self.log, self.lines, self.pending, self.pending_tags = log, {}, None, None
            pending, self.pending = self.pending, None
            annotation = parse_annotation(raw.decode("utf-8", errors="replace")) if marked(raw) else None
            if annotation is None:
                if pending is not None:
                    self._link(raw, end, pending, changes)
                if self.pending_tags is not None:
                    self._tag(raw, end, *self.pending_tags)
                    self.pending_tags = None
                continue
            if annotation.kind in (TAGGED, TAGMSG):  # between a link and its line (written with them), or alone
                self.pending = pending
                if annotation.kind == TAGGED:
                    self.pending_tags = (annotation.handle, annotation.text)
                continue
            if annotation.kind == SHARE:
                self.folded += 1
                self.pending = (SHARE, annotation.handle, annotation.file or {}, self.refs.order(ref))
                continue
            target = self.refs.cursor_at(log, annotation.ref)
            if target is None:
                continue
            self.folded += 1
            order = self.refs.order(ref)
            if annotation.kind == REPLY:
                self.pending = (REPLY, annotation.handle, target, order)
            elif annotation.kind == EDIT:
                if annotation.handle.lower() == annotation.author.lower():
                    entry = self.lines.setdefault(target, Annotated())
                    entry.edit = annotation.text
                    entry.edits += (end,)
                    entry.edited = order
                    changes.append((EDITED, target))
            elif self._react(target, annotation.handle, annotation.emoji, annotation.kind == REACT):
                self.lines[target].reacted = order
                changes.append((REACTIONS, target))
        return changes

    def _react(self, target: str, handle: str, emoji: str, add: bool) -> bool:
        entry = self.lines.setdefault(target, Annotated())
        who = entry.reactions.get(emoji, [])
        mine = next((h for h in who if h.lower() == handle.lower()), None)
        if add:
            if mine is not None or (not who and len(entry.reactions) >= REACTIONS_MOST):
                return False
            entry.reactions[sys.intern(emoji)] = [*who, sys.intern(handle)]  # a few handles and emoji, many times
            return True
        if mine is None:
            return False
        who = [h for h in who if h is not mine]
        if who:
            entry.reactions[emoji] = who
        else:
            del entry.reactions[emoji]
        return True

    def _tag(self, raw: bytes, end: str, handle: str, tags: str) -> None:
        """Give the line after a tag line its client-only tags, if it is that handle's chat line."""
        match = LINE_RE.match(raw.decode("utf-8", errors="replace"))
        if match is not None and match.group(3) is None and match.group(2).lower() == handle.lower():
            self.lines.setdefault(end, Annotated()).tags = tags

    def _link(self, raw: bytes, end: str, pending: Pending, changes: list[Change]) -> None:
        """Give the line after a reply or share link its parent and thread, or its file, if it is that handle's line."""
        kind, handle, what, order = pending
        match = LINE_RE.match(raw.decode("utf-8", errors="replace"))
        if match is None or match.group(3) is not None or match.group(2).lower() != handle.lower():
            return
        if kind == SHARE:
            assert isinstance(what, dict)
            self.lines.setdefault(end, Annotated()).file = what
            return
        assert isinstance(what, str)
        parent = what
        above = self.lines.get(parent)
        root = above.root if above is not None and above.root is not None else parent
        entry = self.lines.setdefault(end, Annotated())
        entry.parent, entry.root = parent, root
        thread = self.lines.setdefault(root, Annotated())
        thread.replies += (end,)
        thread.threaded = order
        changes.append((THREAD, root))

    # ------------------------------------------------------------ reading

    def reactions(self, cursor: str) -> dict[str, list[str]]:
        """Return the reactions of the line ``cursor`` names (emoji -> handles)."""
        entry = self.lines.get(cursor)
        return dict(entry.reactions) if entry is not None else {}

    def thread(self, cursor: str) -> tuple[str, list[str]]:
        """Return the root of the thread the line ``cursor`` names is in (itself if none), and the root's replies."""
        entry = self.lines.get(cursor)
        root = entry.root if entry is not None and entry.root is not None else cursor
        top = self.lines.get(root)
        return root, list(top.replies) if top is not None else []

    def event(self, change: Change, deleted: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """Return the live event (name, data without the channel) that tells ``change``; None for a deleted line's."""
        kind, cursor = change
        entry = self.lines.get(cursor, Annotated())
        if kind == THREAD:
            return THREAD, {"cursor": cursor, "replies": len(entry.replies), "last": entry.replies[-1]}
        if cursor in deleted:
            return None
        if kind == EDITED:
            return EDITED, {"cursor": cursor, "message": entry.edit}
        return REACTIONS, {"cursor": cursor, "reactions": dict(entry.reactions)}

    def changed_after(self, cursor: str) -> list[Change]:
        """Return what changed after the position ``cursor`` (of this log), in log order: for a resume."""
        located = self.refs.locate(cursor)
        if located is None or located[0] != self.log:
            return []
        after = self.refs.order(located[1])
        changed = [(order, kind, target) for target, entry in self.lines.items()
                   for order, kind in entry.changed() if order > after]
        return [(kind, target) for _, kind, target in sorted(changed)]

    def decorate(self, cursors: list[str], deleted: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Return the maps a frame carries for these lines, keyed by index: reactions, edited, reply_to, threads,
        files and tags."""
        maps: dict[str, dict[str, Any]] = {}
        if not self.lines:
            return maps
        for index, cursor in enumerate(cursors):
            entry = self.lines.get(cursor)
            if entry is None:
                continue
            at = str(index)
            if cursor not in deleted:
                if entry.file is not None:
                    maps.setdefault("files", {})[at] = entry.file
                if entry.reactions:
                    maps.setdefault(REACTIONS, {})[at] = dict(entry.reactions)
                if entry.edit is not None:
                    maps.setdefault(EDITED, {})[at] = entry.edit
                if entry.tags is not None:
                    maps.setdefault("tags", {})[at] = entry.tags
            if entry.parent is not None:
                maps.setdefault("reply_to", {})[at] = entry.parent
            if entry.replies:
                maps.setdefault("threads", {})[at] = {"replies": len(entry.replies), "last": entry.replies[-1]}
        return maps
