"""What a channel sends one IRC connection: the same frames a web socket gets, said as IRC messages.

A channel hands every member's outbox the frames it fans out (lines read
back from the log, events, the users list); an :class:`IrcOutbox` is the
outbox of one IRC connection in one channel, and turns each frame into the
messages the client understands: a chat line into ``PRIVMSG`` from its author
with ``time`` (the log's stamp) and ``msgid`` (the line's cursor), a change of
the users list into ``JOIN`` and ``PART``, typing into ``TAGMSG +typing``,
a deletion into ``REDACT``, an edit into a ``NOTICE`` naming the line, an IRC
client's client-only tags onto its line (or a ``TAGMSG`` of their own).  The
same bytes go to every web socket, so a frame is decoded once for all the
IRC connections it reaches (the last one is kept).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from ..channels.fanout import Outbox, PresenceSource, Wire
from ..channels.private import ENVELOPE_START
from ..errors import EscapeError
from ..lines.logline import JOINED, LINE_RE, PRESENCE_LINE_RE, SYSTEM, TOPIC_SET, unescape
from .base import Client
from .message import line, tags_of
from .stamps import pair_key, private_msgid

ACTION_PREFIX = "/me "  # a chat line that is an action (CTCP ACTION): docs/protocol.md "IRC"
NOTICE_PREFIX = "/notice "  # a chat line sent as a NOTICE (no automatic replies to it)
ENCRYPTED = "[encrypted message]"
DELETION_RECORD = re.compile(r"^the message of \S+ at .+ was (deleted|erased) by ")  # lines.moderation_log
KICK_RECORD = re.compile(r"^(\S+) was removed by (\S+)(?: \((.*)\))?$")
TEXT_BYTES = 400  # a chat line's text is split into messages of at least this many bytes (more if they fit)

_last: tuple[object, Any] = (None, None)  # the frame decoded last and what it said: fan-out sends one to many


def decoded(frame: str | Wire) -> Any:
    """Return the JSON of a frame (a web socket's), decoding each frame once for every IRC connection."""
    global _last
    if _last[0] is frame:
        return _last[1]
    text = frame if isinstance(frame, str) else bytes(frame.payload).decode("utf-8")
    _last = (frame, json.loads(text))
    return _last[1]



def split_text(text: str, most: int = TEXT_BYTES) -> Iterator[str]:
    """Yield the IRC lines of a text: one per line of it, each cut to ``most`` bytes at characters."""
    for part in text.split("\n"):
        part = part.replace("\r", "")
        while len(part.encode("utf-8")) > most:
            cut = most
            while len(part[:cut].encode("utf-8")) > most:
                cut -= 1
            yield part[:cut]
            part = part[cut:]
        yield part or " "


class IrcOutbox(Outbox):
    """One IRC connection's outbox in one channel: frames in, IRC messages out, in order."""

    __slots__ = ("channel", "conn", "direct", "parted", "pending", "users")

    def __init__(self, conn: Client, channel: str, direct: bool = False) -> None:
        self.conn = conn
        self.channel = channel
        self.direct = direct  # only the connection's direct lines (the home channel's private lines)
        self.pending: list[str | Wire] | None = []  # frames before start: the backlog, the users list
        self.users: set[str] = set()
        self.parted: set[str] = set()  # nicks whose PART (with its reason) this client was sent already
        self._presence: PresenceSource | None = None
        self._presence_version = 0
        self._presence_extra: str | None = None
        self.stalled = False
        self.heard = 0.0
        self.pinged = 0.0

    @property
    def name(self) -> str:
        return f"{self.conn.nick}@{self.channel} (IRC)"

    # ------------------------------------------------------------ the outbox's calls

    def start(self) -> None:
        """Say the join (JOIN, the topic, NAMES), then what came before it (a playback), then live frames."""
        pending, self.pending = self.pending or [], None
        self.conn.joined(self.channel, sorted(self.users, key=str.lower))
        playback = self.conn.plays_back
        for frame in pending:
            self._say(frame, backlog=True, playback=playback)

    def put(self, frame: str | Wire) -> None:
        if self.stalled:
            return
        if self.pending is not None:
            self.pending.append(frame)
        else:
            self._say(frame)

    def put_first(self, frames: list[Wire]) -> None:
        if self.pending is not None:
            self.pending[:0] = frames
        else:
            for frame in frames:
                self._say(frame)

    def put_presence(self, presence: PresenceSource, handle: str, known: str | None = None) -> None:
        wire, self._presence_extra = presence.with_joiner(handle)
        self._presence, self._presence_version = presence, presence.version
        self.users = set(decoded(wire)["data"].get("users", []))

    def presence_changed(self) -> None:
        presence = self._presence
        if presence is None or self.stalled:
            return
        wire = presence.since(self._presence_version, self._presence_extra)
        self._presence_version, self._presence_extra = presence.version, None
        if wire is None:
            return
        data = decoded(wire)["data"]
        if "users" in data:
            now = set(data["users"])
            joined, left = now - self.users, self.users - now
        else:
            joined, left = set(data.get("joined", [])), set(data.get("left", []))
        for handle in sorted(joined):
            self._came(handle)
        for handle in sorted(left):
            self._went(handle)

    def _came(self, handle: str) -> None:
        """``handle`` joined (its join line, or the users list said so first): JOIN, once."""
        if handle not in self.users:
            self.users.add(handle)
            if handle.lower() != self.conn.key:
                self.conn.gone.discard(handle.lower())
                self.conn.send(self.conn.join_line(handle, self.channel))
                other = self.conn.door.connection_of(handle)
                if other is not None and other.away and "away-notify" in self.conn.caps:
                    self.conn.send(line("AWAY", other.away, source=self.conn.mask(handle)))

    def _went(self, handle: str) -> None:
        """``handle`` left (its leave line, or the users list): PART, once, unless a QUIT or PART said it."""
        told = handle.lower() in self.conn.gone or handle.lower() in self.parted
        self.parted.discard(handle.lower())
        if handle in self.users:
            self.users.discard(handle)
            if handle.lower() != self.conn.key and not told:
                self.conn.send(line("PART", f"#{self.channel}", source=self.conn.mask(handle)))

    def close_after(self, code: int, reason: str) -> None:
        """The member is closed (kicked, banned, signed out): leave the channel with why, keep the connection."""
        self.stalled = True
        self.conn.removed(self.channel, reason)

    async def stop(self) -> None:
        self.stalled = True

    # ------------------------------------------------------------ frames as messages

    def _say(self, frame: str | Wire, backlog: bool = False, playback: bool = False) -> None:
        body = decoded(frame)
        if self.direct:
            if body.get("event") == "private" and not body["data"].get("history"):
                self._private(body["data"])
            elif body.get("event") == "deleted" and body["data"].get("private"):
                self._private_deleted(body["data"])
            elif body.get("event") == "tagmsg" and body["data"].get("to"):
                self._tagmsg(body["data"])
            return
        if "event" not in body:
            if not body.get("success"):
                return  # a channel's error frame comes before the close that says it (close_after: a KICK)
            # A backlog's ordinals are counted from it (and start the live count); live ones line by line, below.
            found = self.conn.door.seconds.seed(self.channel, body["data"]) if backlog else None
            if not backlog or playback:
                self._lines(body["data"], backlog, found)
            return
        event, data = body["event"], body.get("data", {})
        if event == "private" and (not data.get("history") or playback):
            self._private(data)
        elif backlog:
            return
        elif event == "typing" and "message-tags" in self.conn.caps and data["handle"].lower() != self.conn.key:
            state = "active" if data["typing"] else "done"
            self.conn.send(line("TAGMSG", f"#{self.channel}", source=self.conn.mask(data["handle"]),
                                tags={"+typing": state}))
        elif event == "deleted" and data.get("private"):
            self._private_deleted(data)
        elif event == "tagmsg":
            self._tagmsg(data)
        elif event == "deleted" and "draft/message-redaction" in self.conn.caps:
            action = self.conn.door.state.hub.moderator.state.deleted_in(self.channel).get(data["cursor"])
            by = action.by if action is not None else SYSTEM
            why = [action.reason] if action is not None and action.reason else []
            if by.lower() != self.conn.key or "echo-message" in self.conn.caps:
                self.conn.send(line("REDACT", f"#{self.channel}", data["cursor"], *why, source=self.conn.mask(by)))
        elif event == "edited" and data.get("message") is not None:
            text = data["message"]
            self.conn.send(line("NOTICE", f"#{self.channel}", f"(edited {data['cursor']}) {text}",
                                source=self.conn.server_name, tags=self.conn.tags(None, data["cursor"])))
        elif event == "read" and "draft/read-marker" in self.conn.caps:
            self.conn.door.later(self.conn.tell_marker(self.channel))  # another session moved it
        elif event == "kept":
            self.conn.send(line("NOTICE", self.conn.nick, data["message"], source=self.conn.server_name))
        elif event == "reactions" and "message-tags" in self.conn.caps:
            reactions = data.get("reactions", {})
            before = self.conn.door.reactions_before(frame, data["cursor"], reactions)
            self.conn.reactions(self.channel, data["cursor"], reactions, before)

    def _lines(self, data: dict[str, Any], backlog: bool, found: dict[str, int] | None) -> None:
        """Say a frame's lines; ``found``: their ordinals within their second (None: live, counted here)."""
        deleted = set(data.get("deleted", ()))
        replies, client = data.get("reply_to", {}), data.get("tags", {})
        seconds = self.conn.door.seconds
        for index, (raw, cursor) in enumerate(zip(data["message"].split("\n"), data["cursors"], strict=False)):
            match = LINE_RE.match(raw)
            if match is None:
                continue
            stamp, handle, text = match.group(1), match.group(2), match.group(4)
            if found is not None:
                ordinal = found.get(cursor, 0)
            else:  # a deleted line counts too: the history's count has it (wsserver.irc.stamps)
                ordinal = (seconds.ordinal(self.channel, stamp, cursor) or 0) if match.group(3) is None else 0
            if index in deleted:
                continue
            if handle == SYSTEM:
                self._system(stamp, cursor, text, backlog, ordinal)
                continue
            if handle.lower() == self.conn.key and not backlog and "echo-message" not in self.conn.caps:
                continue
            tags = self.conn.tags(stamp, cursor, ordinal)
            parent, kept = replies.get(str(index)), client.get(str(index))
            if parent is not None and "message-tags" in self.conn.caps:
                tags["+draft/reply"] = parent
            if kept is not None and "message-tags" in self.conn.caps:
                tags.update(tags_of(kept))
            self.conn.say_text(handle, f"#{self.channel}", text_of(text), tags)

    def _system(self, stamp: str, cursor: str, text: str, backlog: bool, ordinal: int) -> None:
        presence = PRESENCE_LINE_RE.match(f"[{stamp}] {SYSTEM}: {text}".encode())
        if presence is not None:  # said as it comes (a PING after a JOIN finds it said); the users list fills in
            if not backlog:
                handle = presence.group(1).decode()
                (self._came if presence.group(2) == JOINED.encode() else self._went)(handle)
            return
        if TOPIC_SET in text:
            who, _, topic = text.partition(TOPIC_SET)
            topic = text_of(topic)
            if not backlog:
                self.conn.send(line("TOPIC", f"#{self.channel}", topic, source=self.conn.mask(who),
                                    tags=self.conn.tags(stamp, cursor, ordinal)))
            return
        if backlog or DELETION_RECORD.match(text):
            return  # a deletion is said by REDACT
        kick = KICK_RECORD.match(text)
        if kick is not None:
            kicked, by, why = kick.group(1), kick.group(2), kick.group(3) or ""
            if kicked.lower() != self.conn.key:  # the one kicked is told by its member's close
                self.conn.gone.add(kicked.lower())
                self.conn.send(line("KICK", f"#{self.channel}", kicked, text_of(why), source=self.conn.mask(by)))
            return
        self.conn.send(line("NOTICE", f"#{self.channel}", text_of(text), source=self.conn.server_name,
                            tags=self.conn.tags(stamp, cursor, ordinal)))

    def _private(self, data: dict[str, Any]) -> None:
        match = LINE_RE.match(data["message"])
        if match is None:
            return
        cursor = data.get("cursor")
        if cursor in self.conn.private_seen:
            return  # the same line through the channel and as a direct line
        sender, recipient = data["from"], data["to"]
        stamp, where = match.group(1), str(data.get("channel", self.channel))
        ordinal = self.conn.door.seconds.ordinal(pair_key(where, sender, recipient), stamp, cursor) if cursor else 0
        if cursor:
            self.conn.private_seen.append(cursor)
        mine = sender.lower() == self.conn.key
        times = 1
        if mine and not data.get("history"):  # said back to its sender only with echo-message (to itself: twice)
            times = int("echo-message" in self.conn.caps) + int(recipient.lower() == self.conn.key)
        text = ENCRYPTED if data.get("encrypted") else text_of(match.group(4))
        tags = self.conn.tags(stamp, private_msgid(where, cursor) if cursor else None, ordinal or 0)
        if data.get("tags") and "message-tags" in self.conn.caps:
            tags.update(tags_of(data["tags"]))
        self._twice(lambda: self.conn.say_text(sender, recipient, text, tags), times)

    def _twice(self, say: str | Callable[[], None], times: int) -> None:
        """Say a message ``times`` times (0 to 2): to itself, the delivery beside the echo is not part of a
        labeled answer."""
        for copy in range(times):
            held, self.conn.held = self.conn.held, (None if copy else self.conn.held)
            try:
                if isinstance(say, str):
                    self.conn.send(say)
                else:
                    say()
            finally:
                self.conn.held = held

    def _tagmsg(self, data: dict[str, Any]) -> None:
        """An IRC client's client-only tags alone: ``TAGMSG`` to the channel, or to its recipient as a private
        line is (with ``message-tags`` only; to the sender only with ``echo-message``)."""
        to, cursor = data.get("to"), str(data["cursor"])
        if "message-tags" not in self.conn.caps or (to and cursor in self.conn.private_seen):
            return
        if to:
            self.conn.private_seen.append(cursor)  # (two outboxes may get one)
        sender = str(data.get("from") or data.get("handle"))  # a private one's, a channel's
        times = 1
        if sender.lower() == self.conn.key:  # said back with echo-message only (to itself: twice, as a line)
            times = int("echo-message" in self.conn.caps) + int(bool(to) and str(to).lower() == self.conn.key)
        where, stamp = str(data["channel"]), str(data["stamp"])
        msgid = private_msgid(where, cursor) if to else cursor
        # A private one is counted within its second as the conversation's lines are (wsserver.irc.direct)
        ordinal = self.conn.door.seconds.ordinal(pair_key(where, sender, str(to)), stamp, cursor) if to else 0
        tags = {**tags_of(str(data["tags"])), **self.conn.tags(stamp, msgid, ordinal or 0)}
        said = line("TAGMSG", str(to) if to else f"#{self.channel}", source=self.conn.mask(sender), tags=tags)
        self._twice(said, times)

    def _private_deleted(self, data: dict[str, Any]) -> None:
        """A private line was deleted: ``REDACT`` with its recipient as the target, as its ``PRIVMSG`` had."""
        where, cursor = str(data["channel"]), str(data["cursor"])
        action = self.conn.door.state.hub.moderator.state.deleted_private_in(where).get(cursor)
        seen = f"deleted {cursor}"
        if action is None or seen in self.conn.private_seen or "draft/message-redaction" not in self.conn.caps:
            return  # (two outboxes may get one)
        self.conn.private_seen.append(seen)
        if action.by.lower() != self.conn.key or "echo-message" in self.conn.caps:
            why = [action.reason] if action.reason else []
            self.conn.send(line("REDACT", action.to, private_msgid(where, cursor), *why,
                                source=self.conn.mask(action.by)))


def event_of(conn: Client, target: str, raw: str, tags: dict[str, str]) -> str:
    """Return a system line of the log as the IRC event it was (draft/event-playback): a join ``JOIN``, a leave
    ``PART``, a topic ``TOPIC``, a kick ``KICK``, any other a ``NOTICE`` from the server."""
    stamp_end = raw.index("] ") + 2
    text = raw[stamp_end + len(SYSTEM) + 2:]
    presence = PRESENCE_LINE_RE.match(raw.encode())
    if presence is not None:
        handle = presence.group(1).decode()
        if presence.group(2) == JOINED.encode():
            return line("JOIN", target, source=conn.mask(handle), tags=tags)
        return line("PART", target, source=conn.mask(handle), tags=tags)
    if TOPIC_SET in text:
        who, _, topic = text.partition(TOPIC_SET)
        return line("TOPIC", target, text_of(topic), source=conn.mask(who), tags=tags)
    kick = KICK_RECORD.match(text)
    if kick is not None:
        return line("KICK", target, kick.group(1), text_of(kick.group(3) or ""), source=conn.mask(kick.group(2)),
                    tags=tags)
    return line("NOTICE", target, text_of(text), source=conn.server_name, tags=tags)


def text_of(stored: str) -> str:
    """Return a line's text as written (the log's escapes undone)."""
    if stored.startswith(ENVELOPE_START):
        return ENCRYPTED
    try:
        return unescape(stored)
    except EscapeError:
        return stored

