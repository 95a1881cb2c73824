"""Private lines as events, and an identity's private lines of a stretch of time, read back from the private log.

A channel's private lines are in a log of their own (``private_<name>.log``,
or the ``private:<name>`` stream), with cursors of their own.  They are sent
as ``private`` events, live to their two ends, and, for a stable identity
(an account or a token's subject), with the channel's lines they were written
among: a join's backlog, a resume and a history page carry the identity's
private lines of the same stretch of time, marked ``history``.  The stretch
is told by the lines' stamps (the two logs share no cursor); an answer may
repeat a line another one carried, and a client drops a cursor it has.

An IRC client's client-only tags are lines of the private log too
(:func:`wsserver.lines.annotation.tag_line`): with the line after them (the
event's ``tags``), or alone, a ``TAGMSG`` to a person (a ``tagmsg`` event).
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from typing import Any

from ..lines.annotation import TAGGED, marked, parse_tag_line
from ..lines.logline import LINE_RE
from ..store.base import Feed
from ..store.finding import Lines

ENVELOPE_START = "e2e1."  # wsserver.hub.keyring.ENVELOPE_RE: checked when the message came in

# Limits
READ_LINES = 1000  # private lines read at once, going back
READ_MOST = 50_000  # private lines read at most for one answer (the newest first)
KEEP_MOST = 500  # private lines of one identity in one answer at most (the newest)


def private_data(channel: str, line: str, cursor: str) -> dict[str, Any] | None:
    """Return the data of the ``private`` event of a private log line (None if it is not one)."""
    match = LINE_RE.match(line)
    if match is None or match.group(3) is None:
        return None
    data: dict[str, Any] = {"channel": channel, "from": match.group(2), "to": match.group(3), "message": line,
                            "cursor": cursor}
    if match.group(4).startswith(ENVELOPE_START):
        data["encrypted"] = True  # the envelope form: only a message sent as encrypted has it
    return data


def tagmsg_data(channel: str, line: str, cursor: str) -> dict[str, Any] | None:
    """Return the data of the ``tagmsg`` event of a private log's ``TAGMSG`` line (None if it is not one)."""
    tag = parse_tag_line(line, True)
    if tag is None or tag.kind == TAGGED:
        return None
    return {"channel": channel, "from": tag.handle, "to": tag.author, "tags": tag.text, "cursor": cursor,
            "stamp": tag.stamp}


class PrivateEvents:
    """The lines of one private log as events, in order: a tag line's tags go with the line after it."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._tags: tuple[str, str] | None = None  # a tag line read without its line yet: (handle, tags)

    def read(self, lines: Lines) -> Iterator[tuple[str, dict[str, Any]] | None]:
        """Yield ("private" or "tagmsg", data) for each line of ``lines``; None for a line that is neither."""
        for raw, cursor in lines.split():
            line = raw.decode("utf-8", errors="replace")
            tags, self._tags = self._tags, None
            data = private_data(self.channel, line, cursor)
            if data is not None:
                if tags is not None and tags[0].lower() == data["from"].lower():
                    data["tags"] = tags[1]
                yield "private", data
                continue
            tag = parse_tag_line(line, True) if marked(raw) else None
            if tag is not None and tag.kind == TAGGED:
                self._tags = (tag.handle, tag.text)
                continue
            found = tagmsg_data(self.channel, line, cursor) if tag is not None else None
            yield None if found is None else ("tagmsg", found)


def stamp_of(line: bytes) -> str | None:
    """Return the stamp ``YYYY-MM-DD HH:mm:ss`` a log line starts with (None if it has none)."""
    if len(line) >= 21 and line[:1] == b"[" and line[20:21] == b"]":
        return line[1:20].decode("ascii", errors="replace")
    return None


async def stamp_before(feed: Feed, cursor: str | None) -> str | None:
    """Return the stamp of the line before ``cursor`` in ``feed``'s log (None: none)."""
    lines = await feed.before(cursor, 1)
    return stamp_of(lines.data) if lines is not None and lines.ends else None


async def private_window(feed: Feed, channel: str, handle: str, start: str | None,
                         end: str | None = None, deleted: Container[str] = (),
                         tagmsgs: bool = False) -> list[dict[str, Any]]:
    """Return the events' data of the private lines to or from ``handle`` stamped from ``start`` to ``end``.

    Both bounds are included (None: from the log's start, to its end); the
    lines come oldest first, marked ``history``, at most :data:`KEEP_MOST` of
    them (the newest).  Lines whose cursor is in ``deleted`` are left out.
    A line's client-only tags are its ``tags``; with ``tagmsgs`` the ``TAGMSG``
    lines come too (marked ``tagmsg``, with their ``message``: IRC's history).
    Raises StoreError if the store did not answer.
    """
    await feed.wait_ready()  # its end found: what "the newest" names
    wanted = handle.lower()
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    later: dict[str, Any] | None = None  # the data of the line read just before: the one after it in the log
    read = 0
    while read < READ_MOST and len(found) < KEEP_MOST:
        lines = await feed.before(cursor, READ_LINES)
        if lines is None or not lines.ends:
            break
        read += len(lines.ends)
        older = False
        for raw, after in reversed(lines.split()):
            following, later = later, None
            stamp = stamp_of(raw)
            if stamp is None or (end is not None and stamp > end):
                continue
            if start is not None and stamp < start:
                older = True
                break
            if after in deleted:
                continue
            line = raw.decode("utf-8", errors="replace")
            data = private_data(channel, line, after)
            if data is None and marked(raw):
                tag = parse_tag_line(line, True)
                if tag is not None and tag.kind == TAGGED:
                    if following is not None and following["from"].lower() == tag.handle.lower():
                        following["tags"] = tag.text
                    continue
                data = tagmsg_data(channel, line, after) if tagmsgs else None
                if data is not None:
                    data.update(tagmsg=True, message=line)
            if data is not None and wanted in (data["from"].lower(), data["to"].lower()):
                data["history"] = True
                found.append(data)
                later = data
                if len(found) >= KEEP_MOST:
                    break
        if older:
            break
        cursor = lines.start
    found.reverse()
    return found


async def private_between(feed: Feed, channel: str, handle: str | None, lines: Lines,
                          end: str | None, deleted: Container[str] = ()) -> dict[str, Any]:
    """Return ``{"private": [...]}``: ``handle``'s private lines from the first of ``lines`` to ``end`` ({}: none)."""
    if handle is None:
        return {}
    start = stamp_of(lines.data) if lines.ends else end
    return {"private": await private_window(feed, channel, handle, start, end, deleted)}


def deleted_private_data(channel: str, cursor: str) -> dict[str, Any]:
    """Return the data of the ``deleted`` event of a private line: only its two ends are sent it."""
    return {"channel": channel, "cursor": cursor, "private": True}
