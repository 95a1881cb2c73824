"""How a channel's lines are shown to clients: the frames built from lines read back from its log.

What a client sees of a line is not always its bytes: a deleted line's text
is left out (``deleted``), annotation lines are not lines to show but
effects on the lines they point at (``reactions``, ``edited``, ``reply_to``,
``threads``, from the channel's :class:`~wsserver.annotations.index.Index`).
A :class:`View` applies both to every lines frame, ``history`` and ``thread``
answer, so that live delivery, backlogs, paging, jumps and threads agree.
"""

from __future__ import annotations

from typing import Any

from .. import protocol
from ..annotations.index import Change, Index, is_annotation
from ..lines.annotation import MARKERS, TAGMSG, marked, parse_tag_line
from ..lines.logline import LINE_RE
from ..lines.moderation_log import Moderation
from ..store.base import Lines


def joined(earlier: Lines, later: Lines) -> Lines:
    """Return two adjacent stretches of one log as one (``earlier`` ends where ``later`` starts)."""
    if not earlier.ends:
        return later
    if not later.ends:
        return earlier
    return Lines(earlier.data + b"\n" + later.data, earlier.start, later.end, earlier.ends + later.ends)


class View:
    """The frames of one channel's lines, with deletions and annotations applied."""

    def __init__(self, name: str, moderation: Moderation, index: Index) -> None:
        self.name = name
        self.moderation = moderation  # the process's, shared: what is deleted
        self.index = index

    def hidden(self, lines: Lines) -> set[int]:
        """Return the indexes of the annotation lines among ``lines``: shown by their effect, not as lines."""
        if not marked(lines.data):
            return set()
        return {index for index, (raw, _) in enumerate(lines.split()) if is_annotation(raw)}

    def shown_count(self, lines: Lines) -> int:
        """Return how many of ``lines`` a client is shown as lines."""
        return len(lines.ends) - len(self.hidden(lines))

    def _shown(self, lines: Lines, only: list[int] | None,
               hidden: set[int] | None = None) -> tuple[str, list[str], dict[str, Any]]:
        """Return the text of the lines shown (of ``only``, if given), their cursors, and the maps about them.

        ``hidden`` is :meth:`hidden` of ``lines`` when the caller has it already.
        """
        deleted = self.moderation.deleted_in(self.name)
        hidden = self.hidden(lines) if hidden is None else hidden
        if hidden:
            only = [index for index in (range(len(lines.ends)) if only is None else only) if index not in hidden]
        if only is None and (not deleted or deleted.keys().isdisjoint(lines.ends)):
            cursors = list(lines.ends)
            return lines.text(), cursors, dict(self.index.decorate(cursors, deleted))
        pairs = lines.split()
        shown, cursors, marks = [], [], []
        for at, index in enumerate(range(len(pairs)) if only is None else only):
            raw, end = pairs[index]
            line = raw.decode("utf-8", errors="replace")
            if end in deleted:
                match = LINE_RE.match(line)
                line = f"[{match.group(1)}] {match.group(2)}: " if match else ""
                marks.append(at)
            shown.append(line)
            cursors.append(end)
        maps: dict[str, Any] = dict(self.index.decorate(cursors, deleted))
        if marks:
            maps["deleted"] = marks
        return "\n".join(shown), cursors, maps

    def lines_frame(self, lines: Lines, only: list[int] | None = None) -> str | None:
        """Return the frame of ``lines`` (or of the lines at the indexes ``only``); None if none is shown."""
        text, cursors, maps = self._shown(lines, only)
        if not cursors:
            return None
        return protocol.lines_frame(self.name, text, lines.start, lines.end, cursors, maps)

    def history_frame(self, lines: Lines, mark: int | None = None, **more: object) -> str:
        """Return a ``history`` event of ``lines`` with ``more`` fields; ``mark`` (an index in ``lines``) as shown.

        IRC clients' ``TAGMSG`` lines among them are its ``tagmsgs``: [the number of lines shown before it,
        its cursor, the line], for IRC's history (pages show none of them).
        """
        hidden = self.hidden(lines)
        text, cursors, maps = self._shown(lines, None, hidden)
        data: dict[str, object] = {"channel": self.name, "message": text, "cursor": lines.start,
                                   "start": lines.start, "end": lines.end, "cursors": cursors, **more, **maps}
        tagmsgs = [[sum(1 for before in range(index) if before not in hidden), cursor, raw]
                   for index, cursor, raw, _ in self._tagmsgs(lines)]
        if tagmsgs:
            data["tagmsgs"] = tagmsgs
        if mark is not None:
            kept = [index for index in range(len(lines.ends)) if index not in hidden]
            shown_mark = next((at for at, index in enumerate(kept) if index >= mark), None)
            if shown_mark is not None:
                data["mark"] = shown_mark
        return protocol.event_frame("history", data)

    def thread_frame(self, root: str, lines: Lines, more: bool) -> str:
        """Return a ``thread`` answer: the lines of a thread (the root first, on the first page), and if more follow."""
        text, cursors, maps = self._shown(lines, None)
        return protocol.event_frame("thread", {"channel": self.name, "root": root, "message": text,
                                               "cursors": cursors, "more": more, **maps})

    @staticmethod
    def _tagmsgs(lines: Lines) -> list[tuple[int, str, str, dict[str, str]]]:
        """Return (index, cursor, line, event data) of the ``TAGMSG`` lines among ``lines``."""
        if MARKERS[3] not in lines.data:
            return []
        found = []
        for index, (raw, cursor) in enumerate(lines.split()):
            line = raw.decode("utf-8", errors="replace")
            tag = parse_tag_line(line) if MARKERS[3] in raw else None
            if tag is not None and tag.kind == TAGMSG:
                found.append((index, cursor, line, {"handle": tag.handle, "tags": tag.text, "cursor": cursor,
                                                    "stamp": tag.stamp}))
        return found

    def tagmsg_frames(self, lines: Lines) -> list[str]:
        """Return the live ``tagmsg`` events of the ``TAGMSG`` lines among ``lines`` (IRC clients' tags alone)."""
        return [protocol.event_frame("tagmsg", {"channel": self.name, **data}) for *_, data in self._tagmsgs(lines)]

    def change_frames(self, changes: list[Change]) -> list[str]:
        """Return the live events that tell ``changes``: ``reactions``, ``edited`` and ``thread``."""
        deleted = self.moderation.deleted_in(self.name)
        frames = []
        for change in dict.fromkeys(changes):  # several in one batch: one event each, of the state after them
            event = self.index.event(change, deleted)
            if event is not None:
                frames.append(protocol.event_frame(event[0], {"channel": self.name, **event[1]}))
        return frames
