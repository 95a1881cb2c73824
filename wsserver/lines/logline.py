"""Write and read one log line: ``[YYYY-MM-DD HH:mm:ss] HANDLE: TEXT``.

One event is always exactly one line.  Message text is escaped so that no
line break, control character or lone surrogate reaches the file:

=============  ==========================================
``\\``          ``\\\\``
newline        ``\\n``
return         ``\\r``
tab            ``\\t``
other          ``\\uXXXX`` (C0/C1 controls, DEL, U+2028,
               U+2029, lone surrogates)
=============  ==========================================

Everything else, non-ASCII included, is stored as UTF-8 as it is, so
``grep`` finds words in any script.  :func:`unescape` restores the text
exactly, which :mod:`tests.test_logline` checks with hypothesis.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime

import pendulum

from ..errors import EscapeError

SYSTEM = "System"

_NEEDS_ESCAPE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SHORT = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_SEQUENCE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_UNSHORT = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}

_WHO = r"[A-Za-z0-9_][A-Za-z0-9_-]*"  # a handle as the log holds it (the handle rule: wsserver.config.HANDLE_RE)
LINE_RE = re.compile(
    rf"^\[(\d{{4}}-\d{{2}}-\d{{2}} \d{{2}}:\d{{2}}:\d{{2}})\] ({_WHO})(?: -> ({_WHO}))?: (.*)$", re.DOTALL
)



_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def is_unicode(text: str) -> bool:
    """Return whether ``text`` is Unicode scalar values only: no lone surrogate (which no encoding can write)."""
    return _LONE_SURROGATE.search(text) is None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def json_is_unicode(raw: str, parsed: object) -> bool:
    """Return whether the JSON text ``raw``, parsed as ``parsed``, holds only Unicode scalar values.

    A UTF-8 frame holds no surrogate: only a JSON escape (``\\ud800``) can make one, and such text
    cannot be written as UTF-8 (the operator's tools would meet it in the log).
    """
    return _SURROGATE_ESCAPE.search(raw) is None or _all_unicode(parsed)


def _all_unicode(value: object) -> bool:
    if isinstance(value, str):
        return is_unicode(value)
    if isinstance(value, dict):
        return all(_all_unicode(key) and _all_unicode(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_all_unicode(item) for item in value)
    return True


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT.get(char) or f"\\u{ord(char):04x}"


def escape(text: str) -> str:
    """Return ``text`` as it is stored on one line: no line break, control character or surrogate."""
    return _NEEDS_ESCAPE.sub(_escape_one, text)


def _unescape_one(match: re.Match[str]) -> str:
    body = match.group(1)
    if body in _UNSHORT:
        return _UNSHORT[body]
    if len(body) == 5:
        return chr(int(body[1:], 16))
    raise EscapeError(f"unknown escape sequence \\{body}")


def unescape(text: str) -> str:
    """Restore the text :func:`escape` stored.

    Raises :class:`EscapeError` on a backslash sequence that escaping never writes.
    """
    return _ESCAPE_SEQUENCE.sub(_unescape_one, text)


JOINED, LEFT = "joined", "left"
TOPIC_SET = " set the topic: "  # [ts] System: Alice set the topic: TEXT (a channel operator's; empty: cleared)


def joined_line(handle: str) -> str:
    """Return the text of the ``System`` line that says ``handle`` joined."""
    return f"{handle} has {JOINED} the chat"


def left_line(handle: str) -> str:
    """Return the text of the ``System`` line that says ``handle`` left."""
    return f"{handle} has {LEFT} the chat"


PRESENCE_LINE_RE = re.compile(
    rf"^\[[^\]]*\] {SYSTEM}: ([A-Za-z0-9_][A-Za-z0-9_-]{{2,15}}) has ({JOINED}|{LEFT}) the chat$".encode()
)
"""A whole join or leave line as bytes read back from a log: the handle, and ``joined`` or ``left``."""


def format_line(stamp: str, handle: str, text: str, to: str | None = None) -> str:
    """Return the log line (without its newline) for ``handle`` saying ``text``."""
    who = handle if to is None else f"{handle} -> {to}"
    return f"[{stamp}] {who}: {escape(text)}"


@dataclass(frozen=True)
class ParsedLine:
    """The parts of one log line; ``text`` is unescaped."""

    stamp: str
    handle: str
    text: str
    to: str | None = None


def parse_line(line: str) -> ParsedLine | None:
    """Split a log line into its parts, or return ``None`` if it is not in the log format.

    Raises :class:`EscapeError` if the text holds a sequence escaping never writes.
    """
    match = LINE_RE.match(line)
    if match is None:
        return None
    stamp, handle, to, text = match.groups()
    return ParsedLine(stamp, handle, unescape(text), to)


_AT_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2})(:\d{2})?)?$")


def parse_at(text: str) -> str | None:
    """Return ``YYYY-MM-DD HH:MM:SS`` for a date, a date and ``HH:MM``, or a date and ``HH:MM:SS``; else None."""
    match = _AT_RE.match(text.strip())
    if match is None:
        return None
    stamp = f"{match.group(1)} {match.group(2) or '00:00'}{match.group(3) or ':00'}"
    try:
        datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return stamp


class Clock:
    """Format the current time for log lines in one time zone, once per second at most."""

    def __init__(self, timezone: str) -> None:
        self._zone = pendulum.timezone(timezone)
        self._second = -1
        self._stamp = ""

    def stamp(self) -> str:
        """Return ``YYYY-MM-DD HH:mm:ss`` for now."""
        second = int(time.time())
        if second != self._second:
            moment = pendulum.from_timestamp(second, tz=self._zone)
            self._stamp = moment.format("YYYY-MM-DD HH:mm:ss")
            self._second = second
        return self._stamp

    def epoch(self, stamp: str) -> float:
        """Return the Unix time of a log stamp ``YYYY-MM-DD HH:mm:ss`` of this zone."""
        return float(pendulum.from_format(stamp, "YYYY-MM-DD HH:mm:ss", tz=self._zone).timestamp())


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
