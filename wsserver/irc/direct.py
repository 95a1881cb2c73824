"""Private conversations over IRC: a private line's ``msgid`` and ``time``, and ``CHATHISTORY`` of a nick.

A private line is kept in a channel's private log (the first channel the two
share, else the home channel's: wsserver.irc.seats.Seats.private).  Its
``msgid`` is ``CHANNEL/CURSOR``; its time's milliseconds are its order within
its second among the lines of the same two people in that log (the channel
lines' rule, wsserver.irc.stamps, applied to the conversation).

``CHATHISTORY`` with a nick as its target reads the asker's lines with that
nick from the private logs of the home channel and of the channels the asker
sits in, less the deleted ones (of each log the newest :data:`wsserver.channels.private.KEEP_MOST`
lines of the asker), merged by time.  A conversation is the asker's from when
its handle became its own: an account's from its creation, a token's subject's
always, a guest's (or an open handle's) from its connection; what the handle
said before, under someone else, is not shown.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from ..channels.channel import Channel
from ..channels.private import private_window
from ..lines.logline import LINE_RE
from .base import Place
from .connection import Connection
from .stamps import MOST, pair_key, private_msgid

Said = tuple[str, str, str, str]  # a private line's time tag, its msgid, the line and its client-only tags
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,3})\d*)?Z?$")


def time_of(ref: str) -> str | None:
    """Return a ``timestamp=`` value as a time tag (milliseconds padded), None if it is not one."""
    match = _TIME.match(ref)
    return None if match is None else f"{match.group(1)}.{(match.group(2) or '0').ljust(3, '0')}Z"


class Conversations:
    """The private lines of two people, read back from the private logs."""

    def __init__(self, door: Place) -> None:
        self.door = door

    @staticmethod
    def _began(conn: Connection) -> float | None:
        """Return when the asker's handle became its own (None: always)."""
        if conn.account is not None:
            return float(getattr(conn.account, "created", 0.0))
        return None if conn.identity else conn.opened

    async def lines(self, conn: Connection, other: str) -> list[Said]:
        """Return the conversation of ``conn`` with ``other``, oldest first (StoreError: a store did not answer)."""
        return (await self.all(conn, other)).get(other.lower(), [])

    async def all(self, conn: Connection, other: str | None = None) -> dict[str, list[Said]]:
        """Return the asker's conversations (with ``other`` only, if given) by the other's nick lower-cased."""
        names: list[str] = []
        home = self.door.home()
        if home is not None:
            names.append(home.name)
        names += [name for name in sorted(conn.members) if name not in names]
        began = self._began(conn)
        since = None if began is None else \
            str(self.door.local_stamp(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(began))))
        found: dict[str, list[Said]] = {}
        for name in names:
            channel: Channel | None = self.door.state.hub.channels.channel(name)
            if channel is None:
                continue
            by_other: dict[str, list[dict[str, Any]]] = {}
            deleted = channel.moderation.deleted_private_in(name)
            for data in await private_window(channel.private_feed, name, conn.nick, since, deleted=deleted,
                                             tagmsgs=True):
                ends = data["from"].lower(), data["to"].lower()
                them = ends[1] if ends[0] == conn.key else ends[0]
                if (other is None or them == other.lower()) and not self._before(data, name, since, began):
                    by_other.setdefault(them, []).append(data)
            for them, lines in by_other.items():
                found.setdefault(them, []).extend(self._said(name, lines))
        for said in found.values():
            said.sort()
        return found

    def came(self, said: Said) -> float:
        """Return when this process saw a private line come (0: not seen here): what orders a second's lines."""
        channel, _, cursor = said[1].partition("/")
        match = LINE_RE.match(said[2])
        if match is None or match.group(3) is None:
            return 0.0
        return self.door.seconds.came(pair_key(channel, match.group(2), match.group(3)), match.group(1), cursor) or 0.0

    def _before(self, data: dict[str, Any], channel: str, since: str | None, began: float | None) -> bool:
        """Return whether a line of the handle's first second came before it was the asker's.

        The stamps cannot tell within a second; a line this process saw come can (wsserver.irc.stamps.Seconds).
        """
        if since is None or began is None or not data["message"].startswith(f"[{since}]"):
            return False
        came = self.door.seconds.came(pair_key(channel, data["from"], data["to"]), since, data["cursor"])
        return came is not None and came < began

    def _said(self, channel: str, conversation: Iterable[dict[str, Any]]) -> list[Said]:
        said: list[Said] = []
        second, count = None, 0
        for data in conversation:  # a TAGMSG (an event among the lines, with event-playback) is counted too
            match = LINE_RE.match(data["message"])
            if match is None and not data.get("tagmsg"):
                continue
            stamp = match.group(1) if match is not None else data["stamp"]
            count = count + 1 if stamp == second else 0
            second = stamp
            when = self.door.time_tag(stamp, min(count, MOST))
            said.append((when, private_msgid(channel, data["cursor"]), data["message"], data.get("tags") or ""))
        return said


def select(lines: list[Said], sub: str, refs: list[str], limit: int) -> list[Said] | None:
    """Return the lines a CHATHISTORY subcommand asks for (None: a reference names no line or time)."""
    times: list[str] = []
    for ref in refs:
        if ref == "*":
            times.append("")
            continue
        if ref.startswith("msgid="):
            at = next((said[0] for said in lines if said[1] == ref[6:]), None)
        else:
            at = time_of(ref[10:]) if ref.startswith("timestamp=") else None
        if at is None:
            return None
        times.append(at)
    if sub == "LATEST":
        return [said for said in lines if said[0] > times[0]][-limit:] if limit else []
    if sub == "BEFORE":
        return [said for said in lines if said[0] < times[0]][-limit:] if limit else []
    if sub == "AFTER":
        return [said for said in lines if said[0] > times[0]][:limit]
    if sub == "AROUND":
        index = next((i for i, said in enumerate(lines) if said[0] >= times[0]), len(lines))
        start = max(0, min(index - limit // 2, len(lines) - limit))
        return lines[start:start + limit]
    low, high = sorted(times[:2])
    between = [said for said in lines if low < said[0] < high]
    return between[:limit] if times[0] <= times[1] else (between[-limit:] if limit else [])
