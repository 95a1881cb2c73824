"""``wsserver export --json``: a channel's lines as JSON objects, one a line, with their annotations folded in.

Each object is one line a client would be shown (chat and ``System``
lines; annotation lines are folded into the lines they point at)::

    {"time": "2026-11-22 14:07:03", "handle": "Alice", "text": "hello", "cursor": "...",
     "reactions": {"👍": ["Bob"]}, "edited": "hello!", "reply_to": "...", "thread": {"replies": 2, "last": "..."},
     "file": {"url": "/files/ID/NAME", "name": "...", "size": 123, "type": "..."}, "tags": "+a=1", "deleted": true}

``text`` and ``edited`` are unescaped; ``tags`` are an IRC client's client-only
tags as it sent them; the optional fields are there only when they apply (an
IRC ``TAGMSG``, tags alone, is no line a client is shown: it is left out).  A
deleted line keeps its text here (this is the operator's export) and loses its
reactions and edit, as it does for clients.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from ..annotations.found import index_of
from ..errors import EscapeError
from ..lines.logline import parse_line, unescape
from ..lines.moderation_log import Moderation
from ..store.base import Admin

PAGE = 1000  # lines read at a time
EARLIEST = "0000-01-01 00:00:00"


async def export_json(source: Admin, channel: str, stamp: str | None, out: TextIO) -> int:
    """Print the lines of ``channel`` from the first stamped at or after ``stamp`` as JSON lines; return how many."""
    finder = source.finder(channel)
    index = await index_of(finder)
    moderation = Moderation()
    for action in await source.actions.read():
        moderation.apply(action)
    deleted = moderation.deleted_in(channel)
    window = await finder.at(stamp or EARLIEST, PAGE)
    count = 0
    while True:
        lines = window.lines
        maps = index.decorate(list(lines.ends), deleted)
        for at, (raw, cursor) in enumerate(lines.split()):
            record = _record(raw.decode("utf-8", errors="replace"), cursor, maps, str(at), cursor in deleted)
            if record is not None:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        if window.latest or not lines.ends:
            return count
        following = await finder.after(lines.end, PAGE)
        if following is None:  # rotated meanwhile: what was printed stands
            return count
        window = following


def _record(line: str, cursor: str, maps: dict[str, dict[str, Any]], at: str, deleted: bool) -> dict[str, Any] | None:
    try:
        parsed = parse_line(line)
    except EscapeError:
        parsed = None
    if parsed is None or parsed.to is not None:
        return None  # an annotation line (folded in), or not a line of the format
    record: dict[str, Any] = {"time": parsed.stamp, "handle": parsed.handle, "text": parsed.text, "cursor": cursor}
    if at in maps.get("reactions", {}):
        record["reactions"] = maps["reactions"][at]
    if at in maps.get("edited", {}):
        record["edited"] = unescape(maps["edited"][at])
    if at in maps.get("reply_to", {}):
        record["reply_to"] = maps["reply_to"][at]
    if at in maps.get("threads", {}):
        record["thread"] = maps["threads"][at]
    if at in maps.get("files", {}):
        record["file"] = maps["files"][at]
    if at in maps.get("tags", {}):
        record["tags"] = maps["tags"][at]
    if deleted:
        record["deleted"] = True
    return record
