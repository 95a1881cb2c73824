"""What a client sends on the chat socket, read into requests: the socket door's half of the protocol.

Client to server (JSON text frames):

* ``{"type": "chat", "message": TEXT}`` (``"reply_to": C``: a reply; ``"encrypted": true``: an envelope);
* ``{"type": "private", "to": HANDLE, "message": TEXT}``;
* ``{"type": "typing", "typing": BOOL}``;
* ``{"type": "history", "before": CURSOR, "limit": N}`` (``before`` left out: the newest lines);
  or with ``around`` (a line's cursor), ``at`` (a time) or ``after`` (a cursor) instead of ``before``;
* ``{"type": "read", "cursor": CURSOR}`` (the reader's position moves forward to that line);
* ``{"type": "react", "cursor": C, "emoji": "👍"}`` (``"remove": true`` takes it back);
* ``{"type": "edit", "cursor": C, "message": TEXT}``;
* ``{"type": "thread", "cursor": ROOT, "limit": N, "after": C}``;
* ``{"type": "delete", "cursor": C}`` (``"private": true``: C is of a private line);
* ``{"type": "moderate", "action", "handle", "reason", "for"}``;
* ``{"type": "topic", "topic": TEXT}``;
* ``{"type": "upload", "name": "photo.jpg", "size": 123456, "caption": "the view"}``;
* ``{"type": "key", "public": JWK, "device": ID}``;
* ``{"type": "system", "message": "keepalive"}``.

:func:`parse_client_frame` checks a frame's shape: its fields and their
types.  What the fields say (a text's size and form, a private line's
recipient, a caption) is the member's to check, with the same rules for every
door (:mod:`wsserver.hub.member`), once, before the rate limit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..config import HANDLE_HINT, valid_handle
from ..errors import BadFrame
from ..hub.keyring import Key as Key  # the key frame's request is the keyring's
from ..hub.rules import (
    DEVICE_RE,
    HISTORY_LIMIT_DEFAULT,
    HISTORY_LIMIT_MOST,
    THREAD_LIMIT_DEFAULT,
    THREAD_LIMIT_MOST,
    single_emoji,
)
from ..lines.logline import json_is_unicode, parse_at
from ..lines.moderation_log import MODERATE, REASON_CHARS, parse_duration
from ..protocol import (
    NAME_CHARS,
    PROBLEM_ACTION,
    PROBLEM_AT,
    PROBLEM_CURSOR,
    PROBLEM_DURATION,
    PROBLEM_DURATION_ACTION,
    PROBLEM_HANDLE,
    PROBLEM_LIMIT,
    PROBLEM_ONE_OF,
    PROBLEM_REASON,
    PROBLEM_THREAD_CURSOR,
    Code,
    Refused,
)
from ..uploads.rules import valid_name

_COORDINATE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # 32 bytes, base64url without padding


@dataclass(frozen=True)
class Chat:
    """A chat message to append to the channel log (a reply to the line before ``reply_to``, if given)."""

    text: str
    reply_to: str | None = None
    encrypted: bool = False  # the text is an envelope (end-to-end encrypted)


@dataclass(frozen=True)
class Keepalive:
    """The tutorial client's keepalive; nothing to do."""


@dataclass(frozen=True)
class Private:
    """A private message to one handle in the same channel."""

    to: str
    text: str
    encrypted: bool = False


@dataclass(frozen=True)
class Typing:
    """The sender started or stopped typing."""

    typing: bool


@dataclass(frozen=True)
class History:
    """A page of up to ``limit`` lines before the cursor ``before`` (None: the newest lines).

    Or a jump: the lines ``around`` a line's cursor, from the time ``at``
    (``YYYY-MM-DD HH:MM:SS``), or ``after`` a cursor.
    """

    before: str | None
    limit: int
    around: str | None = None
    at: str | None = None
    after: str | None = None


@dataclass(frozen=True)
class Moderate:
    """A channel operator's action on a handle: kick, ban, unban, mute, unmute (``duration`` e.g. ``1h``)."""

    action: str
    handle: str
    reason: str
    duration: str


@dataclass(frozen=True)
class Topic:
    """A channel operator sets the channel's topic (empty: cleared)."""

    text: str


@dataclass(frozen=True)
class Delete:
    """Delete the line just before ``cursor`` (``private``: of the channel's private log)."""

    cursor: str
    private: bool = False


@dataclass(frozen=True)
class Read:
    """The reader has read up to the line just before ``cursor``."""

    cursor: str


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


@dataclass(frozen=True)
class Upload:
    """A request for an upload URL: the file's name and declared size, and the caption of its line."""

    name: str
    size: int
    caption: str = ""


ClientFrame = (Chat | Private | Typing | History | Keepalive | Moderate | Delete | Read | React | Edit | Thread | Upload
               | Key | Topic)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def parse_client_frame(raw: str) -> ClientFrame:
    """Turn one text frame into a request.

    Raises :class:`BadFrame` with the refusal to send back for anything that
    is not a well-formed request.  Never raises anything else, whatever
    ``raw`` holds.
    """
    try:
        payload = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise BadFrame(Code.INVALID_FORMAT) from None
    if not isinstance(payload, dict):
        raise BadFrame(Code.INVALID_FORMAT)
    if not json_is_unicode(raw, payload):  # refused whole, wherever the lone surrogate is
        raise BadFrame(Code.NOT_UNICODE)
    kind = payload.get("type")
    if not isinstance(kind, str):
        raise BadFrame(Code.INVALID_FORMAT)
    message = payload.get("message")
    if kind == "chat":
        reply_to = payload.get("reply_to")
        if reply_to is not None and not isinstance(reply_to, str):
            raise BadFrame(Code.BAD_REPLY)
        encrypted = _encrypted(payload)
        return Chat(_message(message, encrypted), reply_to, encrypted)
    if kind == "key":
        return _key(payload)
    if kind in ("react", "edit", "thread"):
        return _annotation(kind, payload, _encrypted(payload))
    if kind == "upload":
        return _upload(payload)
    if kind == "private":
        to = payload.get("to")
        if not isinstance(to, str):
            raise BadFrame(Code.INVALID_FORMAT)
        encrypted = _encrypted(payload)
        return Private(to, _message(message, encrypted), encrypted)
    if kind == "typing":
        typing = payload.get("typing")
        if not isinstance(typing, bool):
            raise BadFrame(Code.INVALID_FORMAT)
        return Typing(typing)
    if kind == "history":
        return _history(payload)
    if kind == "moderate":
        return _moderate(payload)
    if kind == "topic":
        topic = payload.get("topic")
        if not isinstance(topic, str):
            raise BadFrame(Code.INVALID_FORMAT)
        return Topic(topic)
    if kind in ("delete", "read"):
        cursor = payload.get("cursor")
        if not isinstance(cursor, str):
            raise BadFrame(Code.INVALID_FORMAT if kind == "delete" else Code.BAD_READ)
        if kind == "read":
            return Read(cursor)
        private = payload.get("private", False)
        if not isinstance(private, bool):
            raise BadFrame(Code.INVALID_FORMAT)
        return Delete(cursor, private)
    if kind == "system":
        if message == "keepalive":
            return Keepalive()
        raise BadFrame(Code.INVALID_FORMAT)
    raise BadFrame(Refused.of(Code.UNKNOWN_TYPE, type=_shorten(kind)))


def _history(payload: dict[str, Any]) -> History:
    def bad(problem: str) -> BadFrame:
        return BadFrame(Refused.of(Code.BAD_HISTORY, problem=problem))

    limit = payload.get("limit", HISTORY_LIMIT_DEFAULT)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise bad(PROBLEM_LIMIT.format(most=HISTORY_LIMIT_MOST))
    given = [field for field in ("before", "around", "at", "after") if payload.get(field) is not None]
    if len(given) > 1:
        raise bad(PROBLEM_ONE_OF.format(given=" and ".join(given)))
    for field in ("before", "around", "after"):
        if payload.get(field) is not None and not isinstance(payload[field], str):
            raise bad(PROBLEM_CURSOR.format(field=field))
    at = payload.get("at")
    stamp = None
    if at is not None:
        stamp = parse_at(at) if isinstance(at, str) else None
        if stamp is None:
            raise bad(PROBLEM_AT)
    return History(payload.get("before"), min(limit, HISTORY_LIMIT_MOST), payload.get("around"), stamp,
                   payload.get("after"))


def _moderate(payload: dict[str, Any]) -> Moderate:
    def bad(problem: str) -> BadFrame:
        return BadFrame(Refused.of(Code.BAD_MODERATE, problem=problem))

    action, handle = payload.get("action"), payload.get("handle")
    reason, duration = payload.get("reason", ""), payload.get("for", "")
    if action not in MODERATE:
        raise bad(PROBLEM_ACTION.format(actions=", ".join(MODERATE)))
    if not isinstance(handle, str) or not valid_handle(handle):
        raise bad(PROBLEM_HANDLE.format(hint=HANDLE_HINT))
    if not isinstance(reason, str) or len(reason) > REASON_CHARS or "\n" in reason:
        raise bad(PROBLEM_REASON.format(most=REASON_CHARS))
    if duration and (not isinstance(duration, str) or parse_duration(duration) is None):
        raise bad(PROBLEM_DURATION)
    if duration and action not in ("ban", "mute"):
        raise bad(PROBLEM_DURATION_ACTION)
    return Moderate(action, handle, reason.strip(), duration or "")


def _annotation(kind: str, payload: dict[str, Any], encrypted: bool) -> React | Edit | Thread:
    cursor = payload.get("cursor")
    if kind == "react":
        if not isinstance(cursor, str):
            raise BadFrame(Code.BAD_REACT)
        if not single_emoji(payload.get("emoji")):
            raise BadFrame(Code.BAD_EMOJI)
        return React(cursor, payload["emoji"], payload.get("remove") is True)
    if kind == "edit":
        if not isinstance(cursor, str):
            raise BadFrame(Code.BAD_EDIT_CURSOR)
        if not isinstance(payload.get("message"), str):
            raise BadFrame(Code.BAD_EDIT)
        return Edit(cursor, payload["message"], encrypted)

    def bad(problem: str) -> BadFrame:
        return BadFrame(Refused.of(Code.BAD_THREAD, problem=problem))

    if not isinstance(cursor, str):
        raise bad(PROBLEM_THREAD_CURSOR)
    limit = payload.get("limit", THREAD_LIMIT_DEFAULT)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise bad(PROBLEM_LIMIT.format(most=THREAD_LIMIT_MOST))
    after = payload.get("after")
    if after is not None and not isinstance(after, str):
        raise bad(PROBLEM_CURSOR.format(field="after"))
    return Thread(cursor, min(limit, THREAD_LIMIT_MOST), after)


def _upload(payload: dict[str, Any]) -> Upload:
    """The size limit is the server's setting: the member checks it."""
    name, size, caption = payload.get("name"), payload.get("size"), payload.get("caption")
    if not isinstance(name, str) or not valid_name(name):
        raise BadFrame(Refused.of(Code.BAD_NAME, limit=NAME_CHARS))
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BadFrame(Code.BAD_SIZE)
    if caption in (None, ""):
        return Upload(name, size)
    if not isinstance(caption, str):
        raise BadFrame(Code.INVALID_FORMAT)
    return Upload(name, size, caption)


def _key(payload: dict[str, Any]) -> Key:
    public, device = payload.get("public"), payload.get("device", "")
    if not isinstance(public, dict) or public.get("kty") != "EC" or public.get("crv") != "P-256" \
            or not all(isinstance(public.get(c), str) and _COORDINATE_RE.match(public[c]) for c in ("x", "y")) \
            or "d" in public:
        raise BadFrame(Code.BAD_KEY)
    if device != "" and (not isinstance(device, str) or not DEVICE_RE.match(device)):
        raise BadFrame(Code.BAD_DEVICE)
    return Key({"kty": "EC", "crv": "P-256", "x": public["x"], "y": public["y"]}, device)


def _encrypted(payload: dict[str, Any]) -> bool:
    encrypted = payload.get("encrypted", False)
    if not isinstance(encrypted, bool):
        raise BadFrame(Code.INVALID_FORMAT)
    return encrypted


def _message(message: Any, encrypted: bool) -> str:
    """Check that a message is text (its size and form are the member's: :func:`wsserver.hub.rules.message_problem`)."""
    if not isinstance(message, str):
        raise BadFrame(Code.BAD_ENVELOPE if encrypted else Code.INVALID_FORMAT)
    return message


def _shorten(text: str, limit: int = 40) -> str:
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "…"
