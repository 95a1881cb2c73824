"""Moderation: kick, ban, mute and delete, as actions in a log of their own that every process folds.

An :class:`Action` is one line of the moderation log (the store's
:class:`~wsserver.store.base.ActionLog`): who did what to whom
in which channel, until when and why.  Every process folds the whole log on
start (:class:`Moderation`) and follows it as it grows, so a ban or a mute
holds on every process and node, survives restarts, and ends at its time
without anyone being there.  Kicks and deletions are also events: the process
that reads one closes the user's socket or tells its clients to hide the line.
Each action is also one ``System`` line in the channel log, the audit trail
operators grep (:func:`audit_line`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ..protocol import Code, Refused, event_frame
from .logline import LINE_RE, TOPIC_SET, Clock

ACTIONS = ("kick", "ban", "unban", "mute", "unmute", "delete", "topic")
MODERATE = ("kick", "ban", "unban", "mute", "unmute")  # what a channel operator may send as a moderate frame
OWN_LINE_SECONDS = 15 * 60  # everyone may delete their own lines this long after sending them
REASON_CHARS = 200


_DURATION_RE = re.compile(r"^(?:\d{1,6}[smhdw])+$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> int | None:
    """Return the seconds of ``30m``, ``2h``, ``1h30m``, ``7d``, ``2w``; None if it is not one (or is 0)."""
    if not _DURATION_RE.match(text):
        return None
    seconds = sum(int(amount) * _UNIT[unit] for amount, unit in re.findall(r"(\d+)([smhdw])", text))
    return seconds or None


@dataclass(frozen=True)
class Action:
    """One moderation action, as the log holds it (a JSON object a line)."""

    action: str
    channel: str
    by: str  # a handle, or "the operator"
    handle: str = ""  # who it is about (kick, ban, unban, mute, unmute; the author of a deleted line)
    to: str = ""  # delete: the recipient of a deleted private line (its cursor is of the private log)
    until: float | None = None  # ban and mute: Unix time they end (None: until lifted)
    duration: str = ""  # as given ("1h"), for the audit line
    reason: str = ""
    cursor: str = ""  # delete: the cursor just after the line
    stamp: str = ""  # delete: the deleted line's time stamp
    erase: bool = False  # delete: the text was also overwritten in the log
    at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        """Return the line the moderation log holds (without its newline)."""
        return json.dumps({k: v for k, v in asdict(self).items() if v not in ("", None, False)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Action | None:
        """Return the action a log line holds, or None for a line that is not one (it is skipped)."""
        try:
            data: Any = json.loads(text)
            if not isinstance(data, dict) or data.get("action") not in ACTIONS:
                return None
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (ValueError, TypeError):
            return None


def audit_line(action: Action) -> str:
    """Return the ``System`` line text that records ``action`` in the channel log."""
    by = action.by
    if action.action == "topic":  # the reason is the topic (empty: cleared); lines.logline.TOPIC_SET
        return f"{by}{TOPIC_SET}{action.reason}"
    why = f" ({action.reason})" if action.reason else ""
    if action.action == "kick":
        return f"{action.handle} was removed by {by}{why}"
    verbs = {"ban": "banned", "mute": "muted", "unban": "unbanned", "unmute": "unmuted"}
    if action.action in ("ban", "mute"):
        span = f"for {action.duration}" if action.duration else f"until un{verbs[action.action]}"
        return f"{action.handle} was {verbs[action.action]} by {by} {span}{why}"
    if action.action in ("unban", "unmute"):
        return f"{action.handle} was {verbs[action.action]} by {by}{why}"
    verb = "erased" if action.erase else "deleted"
    if action.to:  # not written to the channel log (it would tell the channel of a private conversation)
        return f"the private message of {action.handle} to {action.to} at {action.stamp} was {verb} by {by}{why}"
    return f"the message of {action.handle} at {action.stamp} was {verb} by {by}{why}"


@dataclass
class Restriction:
    """A ban or a mute in force."""

    channel: str
    handle: str
    until: float | None
    by: str
    reason: str

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until


class Moderation:
    """The state in force, folded from the actions: bans, mutes, deleted lines."""

    def __init__(self) -> None:
        self.bans: dict[tuple[str, str], Restriction] = {}
        self.mutes: dict[tuple[str, str], Restriction] = {}
        self.deleted: dict[str, dict[str, Action]] = {}  # channel -> cursor -> the delete action
        self.deleted_private: dict[str, dict[str, Action]] = {}  # the same for the channel's private log
        self.topics: dict[str, Action] = {}  # channel -> the topic action in force (its reason is the topic)

    def reset(self) -> None:
        """Forget everything (the log is folded again from its start)."""
        self.bans.clear()
        self.mutes.clear()
        self.deleted.clear()
        self.deleted_private.clear()
        self.topics.clear()

    def apply(self, action: Action) -> None:
        """Fold one action in."""
        key = (action.channel, action.handle.lower())
        if action.action in ("ban", "mute"):
            table = self.bans if action.action == "ban" else self.mutes
            table[key] = Restriction(action.channel, action.handle, action.until, action.by, action.reason)
        elif action.action in ("unban", "unmute"):
            (self.bans if action.action == "unban" else self.mutes).pop(key, None)
        elif action.action == "delete":
            deleted = self.deleted_private if action.to else self.deleted
            deleted.setdefault(action.channel, {})[action.cursor] = action
        elif action.action == "topic":
            self.topics[action.channel] = action

    def banned(self, channel: str, handle: str, now: float | None = None) -> Restriction | None:
        """Return the ban on ``handle`` (any case) in ``channel`` if one is in force."""
        ban = self.bans.get((channel, handle.lower()))
        return ban if ban is not None and ban.active(time.time() if now is None else now) else None

    def muted(self, channel: str, handle: str, now: float | None = None) -> Restriction | None:
        """Return the mute on ``handle`` in ``channel`` if one is in force."""
        mute = self.mutes.get((channel, handle.lower()))
        return mute if mute is not None and mute.active(time.time() if now is None else now) else None

    def deleted_in(self, channel: str) -> dict[str, Action]:
        """Return the deleted lines of ``channel``, by the cursor just after each."""
        return self.deleted.get(channel, {})

    def deleted_private_in(self, channel: str) -> dict[str, Action]:
        """Return the deleted lines of ``channel``'s private log, by the cursor just after each."""
        return self.deleted_private.get(channel, {})

    def in_force(self, channel: str | None = None, now: float | None = None) -> list[tuple[str, Restriction]]:
        """Return ("ban" or "mute", restriction) for each in force, of one channel or all, by channel and handle."""
        moment = time.time() if now is None else now
        found = [(kind, r) for kind, table in (("ban", self.bans), ("mute", self.mutes)) for r in table.values()
                 if r.active(moment) and (channel is None or r.channel == channel)]
        return sorted(found, key=lambda item: (item[1].channel, item[1].handle.lower(), item[0]))


def check_actions(source: object, lines: Iterable[tuple[int | str, bytes, bool]]) -> Iterator[str]:
    """Yield ``where:line: problem`` for each line of a moderation log that is not an action."""
    for number, raw, whole in lines:
        if not whole:
            yield f"{source}:{number}: torn last line (no newline)"
        elif Action.from_json(raw) is None:
            yield f"{source}:{number}: not a moderation action (JSON with action, channel, by)"


OPERATOR = "the operator"  # who an operator command acts as, in the audit lines


class Around(Protocol):
    """What :func:`locate` needs of a store's finder (:class:`wsserver.store.base.Finder` is one)."""

    async def around(self, cursor: str, limit: int) -> Any:
        """Return a window around the line just before ``cursor``, or None."""


async def locate(finder: Around, cursor: str, private: bool = False) -> tuple[str, ...] | None:
    """Return (the line's own cursor, its author, its stamp) for the public line just before ``cursor``.

    ``private``: the finder is of a private log, and the line is a private one: its recipient comes last.
    """
    window = await finder.around(cursor, 1)
    if window is None or window.mark is None:
        return None
    raw, end = window.lines.split()[window.mark]
    match = LINE_RE.match(raw.decode("utf-8", errors="replace"))
    if match is None or (match.group(3) is not None) != private:
        return None
    return (end, match.group(2), match.group(1), *((match.group(3),) if private else ()))


def check_delete(state: Moderation, channel: str, found: tuple[str, ...] | None, actor: str | None,
                 operator: bool, clock: Clock) -> Refused | None:
    """Return why ``actor`` (None: the operator) may not delete the line ``found``, or None if they may.

    ``found`` is what :func:`locate` returns (with its recipient last for a private line).
    """
    if found is None:
        return Refused.of(Code.BAD_AROUND)
    end, author, stamp = found[:3]
    if end in (state.deleted_private_in(channel) if len(found) > 3 else state.deleted_in(channel)):
        return Refused.of(Code.ALREADY_DELETED)
    if operator:
        return None
    if actor is None or author.lower() != actor.lower() or time.time() - clock.epoch(stamp) > OWN_LINE_SECONDS:
        return Refused.of(Code.NOT_YOURS)
    return None


def topic_frame(action: Action) -> str:
    """Return the ``topic`` event of a topic action: the text, who set it and when (Unix seconds)."""
    return event_frame("topic", {"channel": action.channel, "topic": action.reason, "by": action.by,
                                 "at": int(action.at)})
