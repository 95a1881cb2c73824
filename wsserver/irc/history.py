"""IRCv3 ``draft/chathistory`` and ``draft/read-marker`` over the member API's history and read positions.

A ``msgid`` is a line's cursor (the position just after it); a ``timestamp``
is turned into the position of the first line at or after it.  Answers come
in a ``chathistory`` batch, oldest first, at most :data:`HISTORY_MOST` lines.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from ..hub.member import Member
from ..lines.logline import LINE_RE
from ..protocol import Refused
from .base import Place
from .connection import Connection
from .message import Message, line
from .outbox import text_of
from .seats import Seats

HISTORY_MOST = 200  # lines of one CHATHISTORY answer (ISUPPORT CHATHISTORY)
_TIMESTAMP = re.compile(r"^timestamp=(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z?$")
_batches = itertools.count(1)


class History:
    """CHATHISTORY and MARKREAD."""

    def __init__(self, door: Place, seats: Seats) -> None:
        self.door = door
        self.seats = seats

    def _member(self, conn: Connection, target: str) -> Member | None:
        name = self.seats.channel_name(target)
        entry = conn.members.get(name) if name is not None else None
        return entry[0] if entry is not None else None

    async def _position(self, member: Member, ref: str, past: bool = False) -> str | None:
        """Return the position a ``msgid=`` or ``timestamp=`` names (None: neither, or no such line).

        A time names the position before the first line stamped at it (``past``: after the last one
        stamped at it: the log's stamps have seconds).
        """
        if ref.startswith("msgid="):
            return ref[6:]
        match = _TIMESTAMP.match(ref)
        if match is None:
            return None
        stamp = self.door.local_stamp(f"{match.group(1)} {match.group(2)}", 1 if past else 0)
        answer = await member.history(at=stamp, limit=1)
        if isinstance(answer, Refused):
            return None
        return str(json.loads(answer)["data"]["start"])

    async def do_chathistory(self, conn: Connection, message: Message) -> None:
        params = message.params
        if len(params) < 3:
            conn.fail("CHATHISTORY", "Not enough parameters", "NEED_MORE_PARAMS")
            return
        sub = params[0].upper()
        if sub == "TARGETS":
            await self._targets(conn, params)
            return
        target = params[1]
        member = self._member(conn, target)
        if member is None:
            conn.fail("CHATHISTORY", "History of channels you sit in only", "INVALID_TARGET")
            return
        try:
            limit = max(0, min(int(params[-1]), HISTORY_MOST))
        except ValueError:
            conn.fail("CHATHISTORY", "The limit must be a number", "INVALID_PARAMS")
            return
        lines: list[tuple[str, str]] = []
        if sub == "LATEST":
            after = None if params[2] == "*" else await self._position(member, params[2])
            lines = await self._lines(member, after=after, newest=True, limit=limit)
        elif sub in ("BEFORE", "AFTER", "AROUND") and len(params) >= 4:
            at = await self._position(member, params[2])
            if at is None:
                conn.fail("CHATHISTORY", "No message at that reference", "INVALID_MSGREFTYPE")
                return
            if sub == "BEFORE":
                lines = await self._lines(member, before=at, limit=limit)
            elif sub == "AFTER":
                if params[2].startswith("timestamp="):
                    at = await self._position(member, params[2], past=True) or at
                lines = await self._lines(member, after=at, limit=limit)
            else:
                lines = await self._lines(member, around=at, limit=limit)
        elif sub == "BETWEEN" and len(params) >= 5:
            start, end = await self._position(member, params[2]), await self._position(member, params[3])
            if start is None or end is None:
                conn.fail("CHATHISTORY", "No message at that reference", "INVALID_MSGREFTYPE")
                return
            lines = await self._between(member, start, end, limit)
        else:
            conn.fail("CHATHISTORY", f"Unknown subcommand {sub[:20]}", "INVALID_PARAMS")
            return
        self._batch(conn, target, lines)

    async def _page(self, member: Member, **ask: Any) -> dict[str, Any] | None:
        answer = await member.history(**ask)
        return None if isinstance(answer, Refused) else json.loads(answer)["data"]

    async def _lines(self, member: Member, before: str | None = None, after: str | None = None,
                     around: str | None = None, newest: bool = False, limit: int = 50) -> list[tuple[str, str]]:
        """Return (line, cursor) pairs of chat lines, oldest first."""
        if not limit:
            return []
        if newest and after is None:
            data = await self._page(member, limit=limit)
        elif newest:
            data = await self._page(member, after=after, limit=HISTORY_MOST)
        elif before is not None:
            data = await self._page(member, before=before, limit=limit + 1)
        elif after is not None:
            data = await self._page(member, after=after, limit=limit)
        else:
            data = await self._page(member, around=around, limit=limit)
        found = _pairs(data)
        if before is not None:
            found = [pair for pair in found if pair[1] != before]  # BEFORE leaves the line it names out
        if around is not None and len(found) > limit:
            index = next((i for i, pair in enumerate(found) if pair[1] == around), len(found) // 2)
            start = max(0, min(index - limit // 2, len(found) - limit))
            found = found[start:start + limit]
        return found[-limit:] if (newest or before is not None) else found[:limit]

    async def _between(self, member: Member, start: str, end: str, limit: int) -> list[tuple[str, str]]:
        forward = await self._lines(member, after=start, limit=HISTORY_MOST)
        cursors = [cursor for _, cursor in forward]
        if end in cursors:
            return forward[:cursors.index(end)][:limit]
        backward = await self._lines(member, after=end, limit=HISTORY_MOST)
        back = [cursor for _, cursor in backward]
        if start in back:
            return backward[:back.index(start)][-limit:]
        return forward[:limit]

    def _batch(self, conn: Connection, target: str, lines: list[tuple[str, str]]) -> None:
        batch = f"h{next(_batches)}"
        uses_batch = "batch" in conn.caps
        if uses_batch:
            conn.send(line("BATCH", f"+{batch}", "chathistory", target, source=conn.server_name))
        for raw, cursor in lines:
            match = LINE_RE.match(raw)
            if match is None:
                continue
            tags = {"time": self.door.time_tag(match.group(1)), "msgid": cursor}
            if uses_batch:
                tags = {"batch": batch, **tags}
            conn.say_text(match.group(2), target, text_of(match.group(4)), tags)
        if uses_batch:
            conn.send(line("BATCH", f"-{batch}", source=conn.server_name))

    async def _targets(self, conn: Connection, params: list[str]) -> None:
        batch = f"t{next(_batches)}"
        conn.send(line("BATCH", f"+{batch}", "draft/chathistory-targets", source=conn.server_name))
        for name, (member, _) in sorted(conn.members.items()):
            found = await self._lines(member, newest=True, limit=1)
            if found:
                match = LINE_RE.match(found[-1][0])
                if match is not None:
                    conn.send(line("CHATHISTORY", "TARGETS", f"#{name}", self.door.time_tag(match.group(1)),
                                   source=conn.server_name, tags={"batch": batch}))
        conn.send(line("BATCH", f"-{batch}", source=conn.server_name))

    # ------------------------------------------------------------ read markers

    async def markread(self, conn: Connection, message: Message) -> None:
        """``MARKREAD target [timestamp=T]``: move the identity's read position to the last line at or before T."""
        if not message.params:
            conn.fail("MARKREAD", "Not enough parameters", "NEED_MORE_PARAMS")
            return
        target = message.params[0]
        member = self._member(conn, target)
        if len(message.params) > 1:
            wanted = message.params[1]
            if not _TIMESTAMP.match(wanted):
                conn.fail("MARKREAD", "A read marker is timestamp=YYYY-MM-DDThh:mm:ss.sssZ", "INVALID_PARAMS", target)
                return
            if member is None:
                conn.fail("MARKREAD", "Read markers of channels you sit in only", "INVALID_PARAMS", target)
                return
            await self._set_marker(conn, member, wanted)
        marker = await self.seats.read_marker(conn, member.channel) if member is not None else "*"
        conn.send(line("MARKREAD", target, marker, source=conn.server_name))

    async def _set_marker(self, conn: Connection, member: Member, wanted: str) -> None:
        key = (conn.key, member.channel.name)
        kept = self.door.markers.get(key)
        if kept is not None and kept[0] >= wanted:
            return  # a read marker only moves forward
        position = await self._position(member, wanted, past=True)
        found = _pairs(await self._page(member, before=position, limit=1)) if position is not None else []
        cursor = found[-1][1] if found else None
        self.door.markers[key] = (wanted, cursor)
        if cursor is not None:
            await member.read(cursor)  # the identity's position, as a page's: its other sessions are told
        else:  # no line that early: only this door's other sessions of the identity hear of it
            for other in self.door.connections:
                if other is not conn and other.key == conn.key and member.channel.name in other.members:
                    other.send(line("MARKREAD", f"#{member.channel.name}", wanted, source=other.server_name))


def _pairs(data: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Return the (line, cursor) pairs of chat lines of a history answer (system lines left out)."""
    if not data or not data.get("message"):
        return []
    deleted = set(data.get("deleted", ()))
    pairs = []
    for index, (raw, cursor) in enumerate(zip(data["message"].split("\n"), data.get("cursors", []), strict=False)):
        match = LINE_RE.match(raw)
        if index not in deleted and match is not None and match.group(2) != "System":
            pairs.append((raw, cursor))
    return pairs

