"""The client frames of annotations, and every sentence they can be answered with.

* ``{"type": "react", "cursor": C, "emoji": "👍"}`` (``"remove": true`` takes it back);
* ``{"type": "edit", "cursor": C, "message": TEXT}``;
* ``{"type": "thread", "cursor": ROOT, "limit": N, "after": C}``;
* a reply is a chat frame with ``"reply_to": C`` (:class:`wsserver.protocol.Chat`).

:mod:`wsserver.protocol` hands these types here and re-exports the sentences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import emoji as emoji_data  # the Unicode emoji list and its sequences, kept up to date by its maintainers

from ..errors import BadFrame
from .index import REACTIONS_MOST

EDIT_SECONDS = 24 * 3600  # own lines may be edited this long after sending them

# Sentences
BAD_EMOJI = "Invalid reaction: emoji must be a single emoji"
BAD_REACT = "Invalid reaction: cursor must be a cursor from a frame (a string)"
TOO_MANY_REACTIONS = f"That line has too many different reactions (limit {REACTIONS_MOST})"
NOT_YOURS_TO_EDIT = "You may only edit your own lines, within 24 hours of sending them"
BAD_EDIT = "Invalid edit request: message must be a string"
BAD_EDIT_CURSOR = "Invalid edit request: cursor must be a cursor from a frame (a string)"
BAD_REPLY = "Invalid reply: reply_to must be a cursor from a frame (a string)"
BAD_THREAD = "Invalid thread request: {problem}"

THREAD_LIMIT_DEFAULT, THREAD_LIMIT_MOST = 50, 200


@dataclass(frozen=True)
class React:
    """Add (or with ``remove`` take back) the sender's ``emoji`` on the line just before ``cursor``."""

    cursor: str
    emoji: str
    remove: bool = False


@dataclass(frozen=True)
class Edit:
    """Replace the text of the sender's own line just before ``cursor``."""

    cursor: str
    text: str
    encrypted: bool = False  # the new text is an envelope (end-to-end encrypted)


@dataclass(frozen=True)
class Thread:
    """The thread of the line just before ``cursor``: its root and up to ``limit`` replies (after ``after``)."""

    cursor: str
    limit: int
    after: str | None = None


def single_emoji(text: Any) -> bool:
    """Return whether ``text`` is exactly one emoji: a code point or one sequence (flag, skin tone, ZWJ, keycap)."""
    return isinstance(text, str) and bool(emoji_data.is_emoji(text))


def parse(kind: str, payload: dict[str, Any], text: Callable[[Any], str]) -> React | Edit | Thread:
    """Return the request of a ``react``, ``edit`` or ``thread`` frame; ``text`` checks a message as chat's.

    Raises :class:`BadFrame` with the sentence to send back.
    """
    cursor = payload.get("cursor")
    if kind == "react":
        if not isinstance(cursor, str):
            raise BadFrame(BAD_REACT)
        if not single_emoji(payload.get("emoji")):
            raise BadFrame(BAD_EMOJI)
        return React(cursor, payload["emoji"], payload.get("remove") is True)
    if kind == "edit":
        if not isinstance(cursor, str):
            raise BadFrame(BAD_EDIT_CURSOR)
        if not isinstance(payload.get("message"), str):
            raise BadFrame(BAD_EDIT)
        return Edit(cursor, text(payload["message"]), payload.get("encrypted") is True)
    if not isinstance(cursor, str):
        raise BadFrame(BAD_THREAD.format(problem="cursor must be a cursor from a frame (a string)"))
    limit = payload.get("limit", THREAD_LIMIT_DEFAULT)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise BadFrame(BAD_THREAD.format(problem=f"limit must be a whole number from 1 to {THREAD_LIMIT_MOST}"))
    after = payload.get("after")
    if after is not None and not isinstance(after, str):
        raise BadFrame(BAD_THREAD.format(problem="after must be a cursor from a frame (a string), or left out"))
    return Thread(cursor, min(limit, THREAD_LIMIT_MOST), after)
