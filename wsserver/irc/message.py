"""IRC messages: one line in, parsed (IRCv3 message tags, source, command, parameters); one line out, formatted.

The grammar is RFC 1459's with IRCv3 message tags (https://ircv3.net/specs/extensions/message-tags):
``[@tags ][:source ]COMMAND[ params][ :trailing]``.  Tag values are escaped
(``\\:`` for ``;``, ``\\s`` for a space, ``\\\\``, ``\\r``, ``\\n``).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from ..lines.annotation import TAGS_RE

# Limits (IRCv3 message-tags): the line without its tags, and the tags a client may send
LINE_BYTES = 512  # with CR LF
CLIENT_TAG_BYTES = 4096
TAG_BYTES = 8191  # all tags a line may carry, the server's included

_COMMAND = re.compile(r"[A-Za-z0-9_]{1,64}")  # a word: an unknown one is answered 421, anything else dropped
_ESCAPES = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}
_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


@dataclass
class Message:
    """One IRC message: its tags, source (None: none), command (upper case) and parameters."""

    command: str
    params: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    source: str | None = None


def escape_value(value: str) -> str:
    """Return a tag value escaped for the wire."""
    return "".join(_ESCAPES.get(char, char) for char in value)


def unescape_value(value: str) -> str:
    """Return a tag value as it was meant (an unknown escape is the character itself; a lone backslash is dropped)."""
    out, chars = [], iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, "")
        out.append(_UNESCAPES.get(following, following))
    return "".join(out)


def client_tags(tags: dict[str, str], leave: Collection[str] = ()) -> str | None:
    """Return a message's client-only tags (``+key``) as the log keeps them: ``+key=escaped value;...``.

    Tags in ``leave`` (those the chat holds otherwise: typing, a reply) and a tag the log cannot keep
    (a control character or an odd space in its value) are left out; None: no tag is left.
    """
    kept = []
    for key, value in tags.items():
        item = key if value == "" else f"{key}={escape_value(value)}"
        if key.startswith("+") and key not in leave and TAGS_RE.fullmatch(item):
            kept.append(item)
    return ";".join(kept) or None


def tags_of(stored: str) -> dict[str, str]:
    """Return client-only tags the log keeps (:func:`client_tags`) as a message's tags."""
    return {key: unescape_value(value) for key, _, value in (item.partition("=") for item in stored.split(";"))}


def parse(line: str) -> Message | None:
    """Return the message of a line (without CR LF); None for one without a command."""
    tags: dict[str, str] = {}
    rest = line.lstrip(" ")
    if rest.startswith("@"):
        raw_tags, _, rest = rest[1:].partition(" ")
        for item in raw_tags.split(";"):
            if item:
                key, _, value = item.partition("=")
                tags[key] = unescape_value(value)
        rest = rest.lstrip(" ")
    source = None
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    if " :" in rest or rest.startswith(":"):
        head, _, trailing = (" " + rest).partition(" :")
        params = head.split()
        params.append(trailing)
    else:
        params = rest.split()
    if not params or not _COMMAND.fullmatch(params[0]):
        return None
    return Message(params[0].upper(), params[1:], tags, source)


def line(command: str, *params: str, source: str | None = None, tags: dict[str, str] | None = None) -> str:
    """Return the wire form of a message (without CR LF); the last parameter is trailing when it must be."""
    parts = []
    if tags:
        parts.append("@" + ";".join(key if value == "" else f"{key}={escape_value(value)}"
                                    for key, value in tags.items()))
    if source:
        parts.append(":" + source)
    parts.append(command)
    if params:
        *middle, last = params
        parts.extend(middle)
        parts.append(":" + last if not last or " " in last or last.startswith(":") else last)
    return " ".join(parts)
