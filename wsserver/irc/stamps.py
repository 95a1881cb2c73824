"""The milliseconds of an IRC ``time`` tag: a line's order within its second.

The log's stamps have seconds, and IRCv3 clients (and ``CHATHISTORY``'s
``timestamp=``) tell lines apart by their ``time``.  So a public line's time
tag is its stamp plus *n* milliseconds, *n* being how many public lines of the
channel (the lines shown, private lines left out) were logged before it in the
same second, at most :data:`MOST`.  It is counted from the log, so every
process and node says the same time for the same line; a private line's time
has ``.000``.

Live lines are counted as they come (:class:`Seconds`, one per door); a history
answer counts its own lines and looks back once for the lines of its first
second that came before it (:func:`ordinals`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from ..lines.logline import LINE_RE

MOST = 999


def public(raw: str) -> tuple[str, str] | None:
    """Return the (stamp, handle) of a public line (a chat or system line, no ``-> TO``), else None."""
    match = LINE_RE.match(raw)
    if match is None or match.group(3) is not None:
        return None
    return match.group(1), match.group(2)


def ordinals(lines: Iterable[tuple[str, str]], earlier: int = 0) -> dict[str, int]:
    """Return the ordinal of each public line of (raw, cursor) pairs given oldest first.

    ``earlier``: how many public lines of the first line's second came before the first pair.
    """
    found: dict[str, int] = {}
    second, count = None, earlier
    for raw, cursor in lines:
        said = public(raw)
        if said is None:
            continue
        if said[0] != second:
            if second is not None:
                count = 0
            second = said[0]
        found[cursor] = min(count, MOST)
        count += 1
    return found


def trailing(lines: list[tuple[str, str]], stamp: str) -> int:
    """Return how many public lines stamped ``stamp`` end (raw, cursor) pairs given oldest first."""
    count = 0
    for raw, _ in reversed(lines):
        said = public(raw)
        if said is None:
            continue
        if said[0] != stamp:
            break
        count += 1
    return count


def pairs(data: dict[str, object]) -> Iterator[tuple[str, str]]:
    """Yield the (raw, cursor) pairs of a lines or history frame's data, oldest first."""
    message, cursors = data.get("message"), data.get("cursors")
    if isinstance(message, str) and message and isinstance(cursors, list):
        yield from zip(message.split("\n"), (str(cursor) for cursor in cursors), strict=False)


def private_msgid(channel: str, cursor: str) -> str:
    """Return a private line's ``msgid``: its channel and its cursor in that channel's private log."""
    return f"{channel}/{cursor}"


def pair_key(channel: str, one: str, other: str) -> str:
    """Return what a conversation's live seconds are counted under: its log and its two people."""
    low, high = sorted((one.lower(), other.lower()))
    return f"{channel}/{low}/{high}"


class Seconds:
    """The public lines of each channel's latest seconds, as they came live: their ordinals, and when they came.

    A few seconds are kept (:data:`KEPT`), so that a connection whose queue lags behind another's
    still finds the ordinals of the lines the other one counted.
    """

    KEPT = 16

    def __init__(self) -> None:
        self._seconds: dict[str, dict[str, dict[str, tuple[int, float]]]] = {}

    def ordinal(self, channel: str, stamp: str, cursor: str) -> int | None:
        """Return a live public line's ordinal (the same for each connection it reaches); None: not known."""
        kept = self._seconds.setdefault(channel, {})
        seen = kept.get(stamp)
        if seen is None:
            if kept and stamp < max(kept):
                return None  # a second older than the ones counted: its start was not seen
            seen = kept[stamp] = {}
            while len(kept) > self.KEPT:
                del kept[min(kept)]
        if cursor not in seen:
            seen[cursor] = (min(len(seen), MOST), time.time())
        return seen[cursor][0]

    def came(self, channel: str, stamp: str, cursor: str) -> float | None:
        """Return when a line counted live came (epoch seconds; None: not seen here, or forgotten)."""
        found = self._seconds.get(channel, {}).get(stamp, {}).get(cursor)
        return None if found is None else found[1]

    def seed(self, channel: str, data: dict[str, object]) -> dict[str, int]:
        """Count a backlog's lines (return their ordinals); its last second starts the count when it is newer."""
        lines = list(pairs(data))
        found = ordinals(lines)
        stamps = [said[0] for said in (public(raw) for raw, _ in lines) if said is not None]
        kept = self._seconds.setdefault(channel, {})
        if stamps and (not kept or stamps[-1] > max(kept)):
            last, now = stamps[-1], time.time()
            kept[last] = {cursor: (found[cursor], now) for raw, cursor in lines
                          if cursor in found and raw.startswith(f"[{last}]")}
        return found
