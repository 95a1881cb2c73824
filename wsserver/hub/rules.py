"""The rules a member's text and requests keep, whichever door they came in by.

The socket door checks a frame with these as it reads it (so that a bad
frame is refused before it costs a token of the rate limit), and the member
checks again what any door hands it (:mod:`wsserver.hub.member`): one rule,
one sentence, for the page, the HTTP API and the IRC door alike.
"""

from __future__ import annotations

import re

from ..lines.annotation import TAGS_MOST, TAGS_RE
from ..lines.logline import is_unicode
from ..protocol import Code, Refused

ENVELOPE_RE = re.compile(r"^e2e1\.[A-Za-z0-9_-]{16,}$")  # an end-to-end encrypted message (docs/protocol.md)
DEVICE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EDIT_SECONDS = 24 * 3600  # own lines may be edited this long after sending them
THREAD_LIMIT_DEFAULT, THREAD_LIMIT_MOST = 50, 200
HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MOST = 50, 200
ENVELOPE_GROWTH = 4  # an envelope may be this many times the chat limit (plus ENVELOPE_SLACK characters)
ENVELOPE_SLACK = 1024


def text_problem(text: str, max_chars: int) -> Refused | None:
    """Return why ``text`` may not be a line's text (empty, too long, not Unicode), or None."""
    if not text.strip():
        return Refused.of(Code.EMPTY_MESSAGE)
    if len(text) > max_chars:
        return Refused.of(Code.TOO_LONG, limit=max_chars)
    if not is_unicode(text):
        return Refused.of(Code.NOT_UNICODE)
    return None


def tags_problem(tags: str | None) -> Refused | None:
    """Return why ``tags`` may not be kept with a line (an IRC client's client-only tags, as sent), or None."""
    if tags is not None and (len(tags) > TAGS_MOST or not TAGS_RE.fullmatch(tags)):
        return Refused.of(Code.INVALID_FORMAT)
    return None


def said_problem(text: str | None, tags: str | None, max_chars: int, encrypted: bool = False) -> Refused | None:
    """Return why a line may not be sent: its text (None: the client-only tags alone, an IRC ``TAGMSG``, which
    must then be there) and its tags; or None."""
    if text is None:
        return tags_problem(tags) if tags is not None else Refused.of(Code.INVALID_FORMAT)
    return message_problem(text, max_chars, encrypted) or tags_problem(tags)


def message_problem(text: str, max_chars: int, encrypted: bool) -> Refused | None:
    """Return why ``text`` may not be sent (``encrypted``: it must be an envelope; else it must not read as one)."""
    if encrypted:
        if not ENVELOPE_RE.match(text) or len(text) > ENVELOPE_GROWTH * max_chars + ENVELOPE_SLACK:
            return Refused.of(Code.BAD_ENVELOPE)
        return None
    problem = text_problem(text, max_chars)
    if problem is None and ENVELOPE_RE.match(text):
        return Refused.of(Code.INVALID_FORMAT)  # plain text that would read as ciphertext
    return problem


def single_emoji(text: object) -> bool:
    """Return whether ``text`` is exactly one emoji: a code point or one sequence (flag, skin tone, ZWJ, keycap)."""
    if not isinstance(text, str):
        return False
    # The Unicode emoji list and its sequences, kept up to date by its maintainers; imported at the first
    # reaction, not with the server (its tables are about 3.5 MB a process).
    import emoji

    return bool(emoji.is_emoji(text))
