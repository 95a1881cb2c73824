"""The annotation lines of a channel log: a reaction, a reaction taken back, an edit, a reply's link.

Each is one line that says who did what to whose line, and names that line
exactly by its *ref* (its position in the same log, as the store writes it:
a byte offset, a Redis entry ID)::

    [2026-11-22 14:09:12] Bob reacted 👍 to Alice's line of 2026-11-22 14:07:03 #1234
    [2026-11-22 14:09:40] Bob took back 👍 from Alice's line of 2026-11-22 14:07:03 #1234
    [2026-11-22 14:10:02] Alice edited Alice's line of 2026-11-22 14:07:03 #1234: the new text
    [2026-11-22 14:11:30] Carol replied to Alice's line of 2026-11-22 14:07:03 #1234 with the next line
    [2026-11-22 14:11:30] Carol: the reply, an ordinary chat line
    [2026-11-22 14:12:00] Dave shared /files/ID/photo.jpg (image/jpeg, 2151234 bytes, 1200x800) with the next line
    [2026-11-22 14:12:00] Dave: photo.jpg (2.1 MB) /files/ID/photo.jpg the view
    [2026-11-22 14:13:00] Erin tagged the next line: +draft/channel-context=general;+example.com/x=1
    [2026-11-22 14:13:00] Erin: a line an IRC client sent with client-only tags
    [2026-11-22 14:13:05] Erin sent tags to the channel: +example.com/ping

The last two kinds carry an IRC client's client-only tags (message-tags), as
the client wrote them (escaped: no space, ``;`` or line break): with the line
after it, or as a ``TAGMSG`` of their own (to the channel; in a private log,
``sent tags to HANDLE``, to a person).  Pages are not shown them.

Chat text cannot forge one: every line a user writes is ``[ts] HANDLE: `` or
``[ts] HANDLE -> TO: `` followed by escaped text (no line break), and here the
handle is followed by a space and a verb, which a handle cannot hold.  A reply
or share link and its line are written together (one ``write(2)``, one script).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from ..errors import EscapeError
from .logline import LINE_RE, SYSTEM, escape, format_line, unescape

MARKERS = (b"'s line of ", b" shared /files/", b" tagged the next line: ", b" sent tags to ")
"""Every annotation line holds one: what an index rebuild looks for."""
REACT, UNREACT, EDIT, REPLY, SHARE, TAGGED, TAGMSG = "react", "unreact", "edit", "reply", "share", "tagged", "tagmsg"
TAGS_MOST = 4094  # bytes of client-only tags a line carries at most (IRCv3 message-tags, without "@" and " ")

_TS = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
_H = r"[A-Za-z0-9_][A-Za-z0-9_-]*"
ANNOTATION_RE = re.compile(
    rf"^\[({_TS})\] ({_H}) (?:reacted (\S+) to|took back (\S+) from|(edited)|(replied) to) ({_H})'s line of ({_TS})"
    r" #([0-9]+(?:-[0-9]+)?)(?:: (.*)|( with the next line))?$",
    re.DOTALL,
)


SHARED_RE = re.compile(
    rf"^\[({_TS})\] ({_H}) shared /files/([A-Za-z0-9_-]{{22}})/(\S+) \(([a-z0-9.+-]+/[a-z0-9.+-]+), ([0-9]+) bytes"
    r"(?:, ([0-9]+)x([0-9]+))?\) with the next line$"
)


_TAG = r"\+[A-Za-z0-9./-]+(?:=[^;\s\\\x00-\x1f\x7f]*(?:\\[^;\s\x00-\x1f\x7f][^;\s\\\x00-\x1f\x7f]*)*)?"
TAGS_RE = re.compile(rf"{_TAG}(?:;{_TAG})*")  # use fullmatch
"""Client-only tags as an IRC client sends them (``+key=escaped value;...``): what a tag line may carry."""
TAG_LINE_RE = re.compile(rf"^\[({_TS})\] ({_H}) (?:tagged (the next line)|sent tags to (the channel|{_H})): (\S+)$")


def tag_line(stamp: str, handle: str, tags: str, to: str | None = None, alone: bool = False) -> str:
    """Return the line of ``handle``'s client-only ``tags``: for the line after it, or ``alone`` (a ``TAGMSG``,
    to the channel or, in a private log, ``to`` a person)."""
    assert TAGS_RE.fullmatch(tags) and len(tags) <= TAGS_MOST
    if not alone:
        return f"[{stamp}] {handle} tagged the next line: {tags}"
    return f"[{stamp}] {handle} sent tags to {to or 'the channel'}: {tags}"


def tagged_line(stamp: str, handle: str, text: str, tags: str | None, to: str | None = None) -> str:
    """Return ``handle``'s line (private ``to``, if given), after the line of its client-only ``tags`` if any."""
    said = format_line(stamp, handle, text, to)
    return said if tags is None else f"{tag_line(stamp, handle, tags)}\n{said}"


def parse_tag_line(line: str, private: bool = False) -> Annotation | None:
    """Return the tag line ``line`` holds (of a private log: a ``TAGMSG`` names its recipient), or None.

    Its ``text`` is the tags; a ``TAGMSG``'s ``author`` is its recipient ("" for the channel).
    """
    match = TAG_LINE_RE.match(line)
    if match is None or not TAGS_RE.fullmatch(match.group(5)) or len(match.group(5)) > TAGS_MOST:
        return None
    stamp, handle, next_line, to, tags = match.groups()
    if next_line is not None:
        return Annotation(stamp, handle, TAGGED, handle, stamp, "", text=tags)
    if (to == "the channel") == private:
        return None
    return Annotation(stamp, handle, TAGMSG, "" if to == "the channel" else to, stamp, "", text=tags)


def marked(data: bytes) -> bool:
    """Return whether ``data`` (lines) may hold an annotation line: it holds one of the markers."""
    return any(marker in data for marker in MARKERS)


@dataclass(frozen=True)
class Annotation:
    """One annotation line, parsed: ``handle`` did ``kind`` to the line of ``author`` at ``target_stamp``, ``ref``."""

    stamp: str
    handle: str
    kind: str
    author: str
    target_stamp: str
    ref: str
    emoji: str = ""  # react, unreact
    text: str = ""  # edit: the new text, escaped as in the log
    file: dict[str, object] | None = None  # share: what the files map says of the next line


def _shared(line: str) -> Annotation | None:
    match = SHARED_RE.match(line)
    if match is None:
        return None
    stamp, handle, upload, name, kind, size, width, height = match.groups()
    file: dict[str, object] = {"url": f"/files/{upload}/{name}", "name": unquote(name), "size": int(size),
                               "type": kind}
    if width is not None:
        file.update(width=int(width), height=int(height), thumbnail=f"/files/{upload}/thumbnail")
    return Annotation(stamp, handle, SHARE, handle, stamp, "", file=file)


def parse_annotation(line: str) -> Annotation | None:
    """Return the annotation ``line`` holds, or None if it is not a well-formed annotation line."""
    match = ANNOTATION_RE.match(line)
    if match is None:
        return _shared(line) or parse_tag_line(line)
    stamp, handle, reacted, took_back, edited, replied, author, target_stamp, ref, text, next_line = match.groups()
    try:
        if reacted is not None or took_back is not None:
            if text is not None or next_line is not None:
                return None
            return Annotation(stamp, handle, REACT if reacted else UNREACT, author, target_stamp, ref,
                              emoji=unescape(reacted or took_back))
        if edited is not None:
            if text is None:
                return None
            unescape(text)  # a sequence escaping never writes makes it no line of ours
            return Annotation(stamp, handle, EDIT, author, target_stamp, ref, text=text)
    except EscapeError:
        return None
    if replied is None or next_line is None:
        return None
    return Annotation(stamp, handle, REPLY, author, target_stamp, ref)


def _target(author: str, target_stamp: str, ref: str) -> str:
    return f"{author}'s line of {target_stamp} #{ref}"


def reaction_line(stamp: str, handle: str, emoji: str, author: str, target_stamp: str, ref: str,
                  remove: bool = False) -> str:
    """Return the line that records ``handle`` reacting with ``emoji`` (or taking it back) to a line."""
    verb = f"took back {escape(emoji)} from" if remove else f"reacted {escape(emoji)} to"
    return f"[{stamp}] {handle} {verb} {_target(author, target_stamp, ref)}"


def edit_line(stamp: str, handle: str, target_stamp: str, ref: str, text: str) -> str:
    """Return the line that records ``handle`` replacing the text of their own line with ``text``."""
    return f"[{stamp}] {handle} edited {_target(handle, target_stamp, ref)}: {escape(text)}"


def shared_line(stamp: str, handle: str, url: str, kind: str, size: int, width: int | None, height: int | None) -> str:
    """Return the line that makes the chat line after it (by ``handle``) the line of a shared file at ``url``."""
    image = f", {width}x{height}" if width is not None else ""
    return f"[{stamp}] {handle} shared {url} ({kind}, {size} bytes{image}) with the next line"


def reply_line(stamp: str, handle: str, author: str, target_stamp: str, ref: str) -> str:
    """Return the line that links the chat line after it (by ``handle``) to the line it replies to."""
    return f"[{stamp}] {handle} replied to {_target(author, target_stamp, ref)} with the next line"


def annotatable(raw: bytes | None) -> re.Match[str] | None:
    """Return the parts of ``raw`` if it is a line that may be reacted to, replied to or edited; else None.

    That is a public chat line of a user: not a ``System`` line, not an
    annotation line, not a private line.
    """
    match = LINE_RE.match(raw.decode("utf-8", errors="replace")) if raw is not None else None
    if match is None or match.group(3) is not None or match.group(2) == SYSTEM:
        return None
    return match
