"""What every operator command shares, whichever store it reads: errors, the source seam, the line checks.

An operator command runs against a :class:`Source`: the data dir
(:mod:`wsserver.ops.files`) or a Redis store (:mod:`wsserver.ops.redis`).
The commands themselves (:mod:`wsserver.ops.commands`) exist once, over
either source.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol

from ..config import CHANNEL_RE
from ..logline import EscapeError, parse_line
from ..moderation import Action
from ..store.base import ActionLog, Finder, Held


class OpsError(Exception):
    """An operator command was given a value it cannot use; the message names it (exit status 2)."""


Position = Any
"""Where a follow has got to in a channel's log; only the source that made it reads it."""


class Source(Protocol):
    """A store as the operator commands see it."""

    name: str  # for messages: "the data dir DIR", "Redis at URL"
    where: str  # "in DIR", "in Redis at URL"
    faults: tuple[type[Exception], ...]  # what the store raises when it fails
    actions: ActionLog  # the moderation log

    def fault(self, exc: Exception) -> str:
        """Return the one-line message for one of :attr:`faults`."""

    async def has_channel(self, channel: str) -> bool:
        """Return whether ``channel`` has a log in the store."""

    async def last(self, channel: str, count: int) -> tuple[list[str], Position]:
        """Return the last ``count`` lines of ``channel``, and the position after them."""

    async def after(self, channel: str, position: Position) -> tuple[list[str], Position]:
        """Wait up to about a second for lines after ``position``; return them and the new position.

        Raises StoreError when the store does not answer.
        """

    async def append(self, channel: str, line: str) -> None:
        """Append a line to ``channel``, as the servers do (they deliver it)."""

    async def users(self, channel: str | None) -> list[Held]:
        """Return the handles held by live processes or nodes."""

    async def check(self, report: Callable[[str], None]) -> str:
        """Report each problem of every log and of the handles; return what was read (``checked N ...``)."""

    def lines(self, channel: str, since: str | None) -> AsyncIterator[str]:
        """Yield the whole lines of ``channel`` from the first stamped at or after ``since`` (a log stamp)."""

    def finder(self, channel: str) -> Finder:
        """Return what searches ``channel``'s public log, as the servers do."""

    async def close(self) -> None:
        """Let go of the store."""


Checked = Iterable[tuple[int | str, bytes, bool]]
"""(where in the source: a line number or a stream entry ID, the line without newline, whether it had one)."""


def readable(line: str) -> str:
    """Return a log line with its text unescaped, for people to read."""
    try:
        parsed = parse_line(line)
    except EscapeError:
        return line
    if parsed is None:
        return line
    who = parsed.handle if parsed.to is None else f"{parsed.handle} -> {parsed.to}"
    return f"[{parsed.stamp}] {who}: {parsed.text}"


def check_log(source: object, lines: Checked, private: bool) -> Iterator[str]:
    """Yield ``source:where: problem`` for each line of a channel (or private) log that is not as servers write it."""
    for number, raw, whole in lines:
        where = f"{source}:{number}"
        if not whole:
            yield f"{where}: last line has no newline (torn write)"
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield f"{where}: not valid UTF-8"
            continue
        try:
            parsed = parse_line(line)
        except EscapeError as exc:
            yield f"{where}: {exc}"
            continue
        if parsed is None:
            yield f"{where}: not in the log format [YYYY-MM-DD HH:mm:ss] HANDLE: TEXT"
            continue
        try:
            datetime.strptime(parsed.stamp, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            yield f"{where}: invalid timestamp {parsed.stamp}"
        if private and parsed.to is None:
            yield f"{where}: a private log line needs FROM -> TO"
        if not private and parsed.to is not None:
            yield f"{where}: a private line in a channel log"
        if any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in raw.decode("utf-8")):
            yield f"{where}: unescaped control character"


def check_actions(source: object, lines: Checked) -> Iterator[str]:
    """Yield ``where:line: problem`` for each line of a moderation log that is not an action."""
    for number, raw, whole in lines:
        if not whole:
            yield f"{source}:{number}: torn last line (no newline)"
        elif Action.from_json(raw) is None:
            yield f"{source}:{number}: not a moderation action (JSON with action, channel, by)"


def valid_channel(name: str) -> str:
    """Return ``name`` if it is a channel name; raises OpsError naming the rule."""
    if not CHANNEL_RE.match(name):
        raise OpsError(f"invalid channel name {name!r}: must match {CHANNEL_RE.pattern}")
    return name
