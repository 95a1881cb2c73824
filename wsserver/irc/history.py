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

from ..config import valid_handle
from ..hub.member import Member
from ..lines.annotation import TAGMSG, parse_tag_line
from ..lines.logline import LINE_RE, SYSTEM
from ..protocol import Refused
from ..store.base import StoreError
from . import direct, stamps
from .base import Place
from .connection import Connection
from .message import Message, line, tags_of
from .outbox import DELETION_RECORD, event_of, text_of
from .seats import Seats

Said = tuple[str, str, int, str]  # a chat line, its cursor, its ordinal within its second, its client-only tags
HISTORY_MOST = 200  # lines of one CHATHISTORY answer (ISUPPORT CHATHISTORY)
_TIMESTAMP = re.compile(r"^timestamp=(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,3})\d*)?Z?$")
_batches = itertools.count(1)


class History:
    """CHATHISTORY and MARKREAD."""

    def __init__(self, door: Place, seats: Seats) -> None:
        self.door = door
        self.seats = seats
        self.conversations = direct.Conversations(door)

    def _member(self, conn: Connection, target: str) -> Member | None:
        name = self.seats.channel_name(target)
        entry = conn.members.get(name) if name is not None else None
        return entry[0] if entry is not None else None

    async def _position(self, member: Member, ref: str, past: bool = False) -> str | None:
        """Return the position a ``msgid=`` or ``timestamp=`` names (None: neither, or no such line).

        A time is a second and an ordinal within it (wsserver.irc.stamps): it names the position before
        the line of that time (``past``: after it); with no such line, the position after the second's
        last line.
        """
        if ref.startswith("msgid="):
            return ref[6:]
        match = _TIMESTAMP.match(ref)
        if match is None:
            return None
        stamp = self.door.local_stamp(f"{match.group(1)} {match.group(2)}")
        ordinal = int((match.group(3) or "0").ljust(3, "0"))
        data = await self._page(member, at=stamp, limit=min(ordinal + 20, HISTORY_MOST))
        if data is None:
            return None
        before = str(data["start"])
        for raw, cursor in stamps.pairs(data):
            said = stamps.public(raw)
            if said is None:
                before = cursor
                continue
            if said[0] != stamp:
                break
            if ordinal == 0:
                return cursor if past else before
            ordinal -= 1
            before = cursor
        if ordinal == 0 and not past:
            return before
        later = await self._page(member, at=self.door.local_stamp(f"{match.group(1)} {match.group(2)}", 1), limit=1)
        return None if later is None else str(later["start"])

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
        if not target.startswith("#"):
            await self._direct(conn, sub, target, params)
            return
        member = self._member(conn, target)
        if member is None:
            conn.fail("CHATHISTORY", "History of channels you sit in only", "INVALID_TARGET", sub, target)
            return
        limit = _limit(conn, params[-1])
        if limit is None:
            return
        lines: list[Said] = []
        events = "draft/event-playback" in conn.caps  # topics, joins, leaves and kicks too
        if sub == "LATEST":
            after = None if params[2] == "*" else await self._position(member, params[2], past=True)
            lines = await self._lines(member, after=after, newest=True, limit=limit, events=events)
        elif sub in ("BEFORE", "AFTER", "AROUND") and len(params) >= 4:
            at = await self._position(member, params[2])
            if at is None:
                conn.fail("CHATHISTORY", "No message at that reference", "INVALID_MSGREFTYPE")
                return
            if sub == "BEFORE":  # a msgid's position is after its line, which is left out; a time's is before it
                named = params[2].startswith("msgid=")
                lines = await self._lines(member, before=at, limit=limit, named=named, events=events)
            elif sub == "AFTER":
                if params[2].startswith("timestamp="):
                    at = await self._position(member, params[2], past=True) or at
                lines = await self._lines(member, after=at, limit=limit, events=events)
            else:
                lines = await self._lines(member, around=at, limit=limit, events=events)
        elif sub == "BETWEEN" and len(params) >= 5:
            start = await self._position(member, params[2], past=True)
            end = await self._position(member, params[3], past=True)
            if start is None or end is None:
                conn.fail("CHATHISTORY", "No message at that reference", "INVALID_MSGREFTYPE")
                return
            lines = await self._between(member, start, end, limit, events)
        else:
            conn.fail("CHATHISTORY", f"Unknown subcommand {sub[:20]}", "INVALID_PARAMS")
            return
        self._batch(conn, target, [(self._time(said[0], said[2]), said[1], said[0], said[3]) for said in lines])

    async def _direct(self, conn: Connection, sub: str, nick: str, params: list[str]) -> None:
        """CHATHISTORY of a private conversation (wsserver.irc.direct)."""
        counts = {"LATEST": 4, "BEFORE": 4, "AFTER": 4, "AROUND": 4, "BETWEEN": 5}
        if len(params) < counts.get(sub, 4) or sub not in counts:
            conn.fail("CHATHISTORY", f"Unknown subcommand {sub[:20]}", "INVALID_PARAMS")
            return
        limit = _limit(conn, params[-1])
        if limit is None:
            return
        try:
            lines = await self.conversations.lines(conn, nick)
        except StoreError:
            conn.fail("CHATHISTORY", "The history could not be read: try again", "MESSAGE_ERROR", sub, nick)
            return
        if "draft/event-playback" not in conn.caps:
            lines = [said for said in lines if LINE_RE.match(said[2])]  # TAGMSGs are events
        chosen = direct.select(lines, sub, params[2:-1], limit)
        if chosen is None:
            conn.fail("CHATHISTORY", "No message at that reference", "INVALID_MSGREFTYPE")
            return
        self._batch(conn, nick, chosen)

    async def _page(self, member: Member, **ask: Any) -> dict[str, Any] | None:
        answer = await member.history(**ask)
        return None if isinstance(answer, Refused) else json.loads(answer)["data"]

    async def _lines(self, member: Member, before: str | None = None, after: str | None = None,
                     around: str | None = None, newest: bool = False, limit: int = 50,
                     named: bool = True, events: bool = False) -> list[Said]:
        """Return (line, cursor, ordinal) of chat lines, oldest first (the ordinal: wsserver.irc.stamps)."""
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
        found = await self._said(member, data, events)
        if before is not None and named:
            found = [pair for pair in found if pair[1] != before]  # BEFORE leaves the line it names out
        if around is not None and len(found) > limit:
            index = next((i for i, pair in enumerate(found) if pair[1] == around), len(found) // 2)
            start = max(0, min(index - limit // 2, len(found) - limit))
            found = found[start:start + limit]
        return found[-limit:] if (newest or before is not None) else found[:limit]

    async def _said(self, member: Member, data: dict[str, Any] | None, events: bool = False) -> list[Said]:
        """Return the chat lines of a history answer with their ordinals (one look back for its first second)."""
        found = _pairs(data, events)
        if not found or data is None:
            return []
        every = list(stamps.pairs(data))
        first = next((said[0] for said in (stamps.public(raw) for raw, _ in every) if said is not None), None)
        earlier = 0
        back = await self._page(member, before=str(data["start"]), limit=50) if first is not None else None
        if back is not None and first is not None:
            earlier = stamps.trailing(list(stamps.pairs(back)), first)
        ordinals = stamps.ordinals(every, earlier)
        return [(raw, cursor, ordinals.get(cursor, 0), tags) for raw, cursor, tags in found]

    async def _between(self, member: Member, start: str, end: str, limit: int, events: bool) -> list[Said]:
        forward = await self._lines(member, after=start, limit=HISTORY_MOST, events=events)
        cursors = [said[1] for said in forward]
        if end in cursors:
            return forward[:cursors.index(end)][:limit]
        backward = await self._lines(member, after=end, limit=HISTORY_MOST, events=events)
        back = [said[1] for said in backward]
        if start in back:
            return backward[:back.index(start)][-limit:]
        return forward[:limit]

    def _time(self, raw: str, ordinal: int) -> str:
        return self.door.time_tag(raw[1:20], ordinal)

    def _batch(self, conn: Connection, target: str, lines: list[direct.Said]) -> None:
        """Send (time, msgid, line, client-only tags) in a ``chathistory`` batch (with ``batch``), each to
        ``target`` or its recipient; a ``TAGMSG`` line as one (with ``message-tags``)."""
        batch = f"h{next(_batches)}"
        uses_batch = "batch" in conn.caps
        if uses_batch:
            conn.send(line("BATCH", f"+{batch}", "chathistory", target, source=conn.server_name))
        for when, msgid, raw, kept in lines:
            match = LINE_RE.match(raw)
            tags = {**({"batch": batch} if uses_batch else {}), "time": when, "msgid": msgid}
            if kept and "message-tags" in conn.caps:
                tags = {**tags_of(kept), **tags}
            if match is None:
                tagmsg = parse_tag_line(raw) or parse_tag_line(raw, True)  # a channel's, or a private one's
                if tagmsg is not None and tagmsg.kind == TAGMSG and "message-tags" in conn.caps:
                    # to the channel, or to a private one's recipient (as its PRIVMSG)
                    conn.send(line("TAGMSG", tagmsg.author or target, source=conn.mask(tagmsg.handle),
                                   tags={**tags_of(tagmsg.text), **tags}))
                continue
            if match.group(2) == SYSTEM:
                conn.send(event_of(conn, target, raw, tags))
            else:
                conn.say_text(match.group(2), match.group(3) or target, text_of(match.group(4)), tags)
        if uses_batch:
            conn.send(line("BATCH", f"-{batch}", source=conn.server_name))

    async def _targets(self, conn: Connection, params: list[str]) -> None:
        """``CHATHISTORY TARGETS ts1 ts2 limit``: the channels and nicks whose latest line is between the two times.

        Oldest first; lines of one second in different logs are ordered by when this process saw them come
        (the log's stamps have seconds: wsserver.irc.stamps), when it did.  So is a bound that is the time
        of one of these lines: it stands for that line (the first with that time for the lower bound, the
        last for the upper), as a client that takes a line's time for a bound means.
        """
        bounds = [direct.time_of(ref[10:]) or "" for ref in params[1:3] if ref.startswith("timestamp=")]
        try:
            limit = max(0, min(int(params[3]), HISTORY_MOST)) if len(params) > 3 else HISTORY_MOST
        except ValueError:
            limit = -1
        if len(bounds) != 2 or limit < 0:
            conn.fail("CHATHISTORY", "TARGETS takes two timestamp= and a limit", "INVALID_PARAMS", "TARGETS")
            return
        found: list[tuple[str, float, str]] = []  # time, when it came, target
        for name, (member, _) in sorted(conn.members.items()):
            latest = await self._lines(member, newest=True, limit=1)
            match = LINE_RE.match(latest[-1][0]) if latest else None
            if match is not None:
                stamp, cursor, ordinal = match.group(1), latest[-1][1], latest[-1][2]
                came = self.door.seconds.came(name, stamp, cursor) or 0.0
                found.append((self.door.time_tag(stamp, ordinal), came, f"#{name}"))
        try:
            conversations = await self.conversations.all(conn)
        except StoreError:
            conversations = {}
        for them, said in conversations.items():
            last = next((entry for entry in reversed(said) if LINE_RE.match(entry[2])), None)  # not a TAGMSG
            match = LINE_RE.match(last[2]) if last is not None else None
            if last is not None and match is not None:
                nick = match.group(2) if match.group(2).lower() == them else str(match.group(3))
                found.append((last[0], self.conversations.came(last), nick))
        found.sort(key=lambda entry: (entry[0][:19], entry[1] or 0.0, entry[0]))
        named = [next((entry for entry in found if entry[0] == bound), None) for bound in bounds]
        if (_later(named[0], named[1]) if named[0] is not None and named[1] is not None else bounds[0] > bounds[1]):
            bounds.reverse()  # either order
        low = next((entry for entry in found if entry[0] == bounds[0]), None)
        high = next((entry for entry in reversed(found) if entry[0] == bounds[1]), None)
        found = [entry for entry in found
                 if (_later(entry, low) if low is not None else entry[0] > bounds[0])
                 and (_later(high, entry) if high is not None else entry[0] < bounds[1])][:limit]
        batch = f"t{next(_batches)}"
        conn.send(line("BATCH", f"+{batch}", "draft/chathistory-targets", source=conn.server_name))
        for when, _, target in found:
            conn.send(line("CHATHISTORY", "TARGETS", target, when, source=conn.server_name, tags={"batch": batch}))
        conn.send(line("BATCH", f"-{batch}", source=conn.server_name))

    # ------------------------------------------------------------ read markers

    async def markread(self, conn: Connection, message: Message) -> None:
        """``MARKREAD target [timestamp=T]``: move the identity's read position to the last line at or before T."""
        if not message.params:
            conn.fail("MARKREAD", "Not enough parameters", "NEED_MORE_PARAMS")
            return
        target = message.params[0]
        member = self._member(conn, target)
        if member is None and not target.startswith("#") and valid_handle(target):
            await self._conversation_marker(conn, target, message.params[1:])
            return
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

    async def _conversation_marker(self, conn: Connection, nick: str, given: list[str]) -> None:
        """``MARKREAD nick [timestamp=T]``: the read position of a private conversation (a time; never back)."""
        reading = self.door.state.hub.reading
        try:
            if given:
                if not _TIMESTAMP.match(given[0]):
                    conn.fail("MARKREAD", "A read marker is timestamp=YYYY-MM-DDThh:mm:ss.sssZ", "INVALID_PARAMS", nick)
                    return
                if await reading.read_conversation(conn.nick, nick, given[0].removeprefix("timestamp=")):
                    for other in self.door.connections:  # the identity's other sessions here
                        if other is not conn and other.key == conn.key and "draft/read-marker" in other.caps:
                            other.send(line("MARKREAD", nick, given[0], source=other.server_name))
            stored = await reading.conversation(conn.nick, nick)
        except StoreError:
            conn.fail("MARKREAD", "The read marker could not be read or stored; try again", "TEMPORARILY_UNAVAILABLE",
                      nick)
            return
        conn.send(line("MARKREAD", nick, f"timestamp={stored}" if stored else "*", source=conn.server_name))

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
            await member.read(cursor)  # the identity's position, as a page's: its sessions in the channel are told
        name = member.channel.name
        for other in self.door.connections:  # its sessions here that the read event does not reach
            if other is not conn and other.key == conn.key and "draft/read-marker" in other.caps and \
                    (cursor is None or name not in other.members):
                other.send(line("MARKREAD", f"#{name}", wanted, source=other.server_name))


def _later(one: tuple[str, float, str], other: tuple[str, float, str]) -> bool:
    """Return whether a target's latest line (time, when it came here, target) is after another's: by when
    they came, within one second, when this process saw both come; else by their times."""
    if one[0][:19] == other[0][:19] and one[1] and other[1]:
        return one[1] > other[1]
    return one[0] > other[0]


def _limit(conn: Connection, given: str) -> int | None:
    """Return a CHATHISTORY limit (at most :data:`HISTORY_MOST`); None, said, if it is not a number."""
    try:
        return max(0, min(int(given), HISTORY_MOST))
    except ValueError:
        conn.fail("CHATHISTORY", "The limit must be a number", "INVALID_PARAMS")
        return None


def _pairs(data: dict[str, Any] | None, events: bool = False) -> list[tuple[str, str, str]]:
    """Return (line, cursor, client-only tags) of the chat lines of a history answer (system lines and IRC
    clients' ``TAGMSG`` lines too with ``events``, but deletion records: a deletion is not replayed)."""
    if not data or (not data.get("message") and not (events and data.get("tagmsgs"))):
        return []
    deleted, kept = set(data.get("deleted", ())), data.get("tags", {})
    tagmsgs: dict[int, list[tuple[str, str, str]]] = {}  # the number of lines before them -> TAGMSG lines
    for before, cursor, raw in data.get("tagmsgs", ()) if events else ():
        tagmsgs.setdefault(before, []).append((raw, cursor, ""))
    lines = data["message"].split("\n") if data.get("message") else []
    pairs = []
    for index, (raw, cursor) in enumerate(zip(lines, data.get("cursors", []), strict=False)):
        pairs.extend(tagmsgs.get(index, []))
        match = LINE_RE.match(raw)
        if index in deleted or match is None:
            continue
        if match.group(2) != SYSTEM or (events and not DELETION_RECORD.match(match.group(4))):
            pairs.append((raw, cursor, str(kept.get(str(index), ""))))
    return pairs + tagmsgs.get(len(lines), [])

