"""Frames in and out of the chat socket, and every sentence a client can be told.

Server to client (JSON text frames):

* log lines: ``{"success": true, "data": {"channel", "message", "start", "cursor"}}``
  (``start`` is the cursor before the first line, ``cursor`` the one after the last);
* errors: ``{"success": false, "message": SENTENCE}``.

Client to server:

* ``{"type": "chat", "message": TEXT}``;
* ``{"type": "private", "to": HANDLE, "message": TEXT}``;
* ``{"type": "typing", "typing": BOOL}``;
* ``{"type": "history", "before": CURSOR, "limit": N}`` (``before`` left out: the newest lines);
  or with ``around`` (a line's cursor), ``at`` (a time) or ``after`` (a cursor) instead of ``before``;
* ``{"type": "read", "cursor": CURSOR}`` (the reader's position moves forward to that line);
* ``react``, ``edit``, ``thread`` and chat's ``reply_to`` (:mod:`wsserver.annotations.requests`);
* ``{"type": "system", "message": "keepalive"}``.

Frames that are not log lines carry an ``event`` field (``presence``,
``typing``, ``private``, ``resumed``, ``history``, ``token``, ``read``, ``reactions``,
``edited``, ``thread``).

``docs/protocol.md`` lists the same sentences; the tests assert them.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

from .annotations import requests
from .annotations.requests import BAD_EDIT as BAD_EDIT  # sentences kept with the frames that send them
from .annotations.requests import BAD_EDIT_CURSOR as BAD_EDIT_CURSOR
from .annotations.requests import BAD_EMOJI as BAD_EMOJI
from .annotations.requests import BAD_REACT as BAD_REACT
from .annotations.requests import BAD_REPLY as BAD_REPLY
from .annotations.requests import BAD_THREAD as BAD_THREAD
from .annotations.requests import NOT_YOURS_TO_EDIT as NOT_YOURS_TO_EDIT
from .annotations.requests import TOO_MANY_REACTIONS as TOO_MANY_REACTIONS
from .annotations.requests import Edit as Edit
from .annotations.requests import React as React
from .annotations.requests import Thread as Thread
from .config import HANDLE_HINT
from .config import HANDLE_RE as HANDLE_RE
from .config import valid_handle as valid_handle
from .errors import BadFrame as BadFrame
from .keyframes import BAD_DEVICE as BAD_DEVICE
from .keyframes import BAD_ENVELOPE as BAD_ENVELOPE
from .keyframes import BAD_KEY as BAD_KEY
from .keyframes import ENVELOPE_RE, parse_key
from .keyframes import PLAIN_ONLY as PLAIN_ONLY
from .keyframes import Key as Key
from .logline import json_is_unicode, parse_at
from .moderation_log import ALREADY_DELETED as ALREADY_DELETED  # sentences kept with the rule that sends them
from .moderation_log import BAD_AROUND as BAD_AROUND
from .moderation_log import MODERATE, REASON_CHARS, parse_duration
from .moderation_log import NOT_YOURS as NOT_YOURS
from .uploads import requests as upload_requests
from .uploads.requests import BAD_NAME as BAD_NAME
from .uploads.requests import BAD_SIZE as BAD_SIZE
from .uploads.requests import TOO_LARGE as TOO_LARGE
from .uploads.requests import Upload as Upload  # re-exported: the handle rule is part of the protocol


class CloseCode(enum.IntEnum):
    """The close codes this server sends or names (RFC 6455 section 7.4.1)."""

    GOING_AWAY = 1001  # the server shuts down
    ABNORMAL_CLOSURE = 1006  # never sent: the connection ended without a close frame
    NO_STATUS = 1005  # never sent: the peer's close frame had no code
    POLICY_VIOLATION = 1008  # refused join, flood, too slow, kicked
    INTERNAL_ERROR = 1011  # a fault of ours
    TRY_AGAIN_LATER = 1013  # the store is down


CLOSE_GOING_AWAY = CloseCode.GOING_AWAY
CLOSE_POLICY = CloseCode.POLICY_VIOLATION
CLOSE_SERVER_ERROR = CloseCode.INTERNAL_ERROR
CLOSE_TRY_AGAIN = CloseCode.TRY_AGAIN_LATER

# Sentences: rejections at join (each followed by a 1008 close)
NO_CHANNEL = "No valid channel provided"
NO_HANDLE = "No valid handle provided"
HANDLE_TAKEN = "User already registered"
TOO_MANY_CHANNELS = "Too many channels"
UNAVAILABLE = "Server unavailable, try again later"  # also an error on an open connection (1013 at join)
# Sentences: errors that leave the connection open
INVALID_FORMAT = "Invalid message format"
BINARY_FRAME = "Binary frames are not accepted"
EMPTY_MESSAGE = "Message is empty"
RATE_LIMITED = "Rate limit exceeded"
NOT_SAVED = "Message not saved"
UNKNOWN_TYPE = "Unknown message type: {type}"
NOT_UNICODE = "Text is not valid Unicode: it holds a lone surrogate"
USER_NOT_FOUND = "User not found"
BAD_CURSOR = "History is not available before that cursor"
BAD_AFTER = "History is not available after that cursor"
BAD_HISTORY = "Invalid history request: {problem}"
TOO_LONG = "Message is too long (limit {limit} characters)"
BAD_READ = "Invalid read request: cursor must be a cursor from a frame (a string)"
# Sentences: moderation
BANNED = "You are banned from this channel"  # a refused join (1008); with ": REASON" when a ban removes someone
KICKED = "You were removed from the channel"  # with ": REASON" if one was given; then 1008
MUTED = "You are muted in this channel"
NOT_OPERATOR = "Only channel operators may do that"
BAD_MODERATE = "Invalid moderate request: {problem}"
NOT_BANNED = "That handle is not banned in this channel"
NOT_MUTED = "That handle is not muted in this channel"
# Sentences: close reasons
TOO_SLOW = "Too slow"
SHUTTING_DOWN = "Server shutting down"
SERVER_ERROR = "Internal server error"


def error_frame(sentence: str) -> str:
    """Return the frame that tells a client ``sentence`` went wrong."""
    return json.dumps({"success": False, "message": sentence})


def lines_frame(channel: str, lines: str, start: str, cursor: str, cursors: list[str],
                maps: dict[str, Any] | None = None) -> str:
    """Return the frame carrying whole log ``lines`` (joined by newlines) from ``start`` up to ``cursor``.

    ``cursors`` names each line (the position after it); ``maps`` are what is
    said about some of them, keyed by index: ``deleted`` (a list), ``reactions``,
    ``edited``, ``reply_to``, ``threads``.
    """
    data: dict[str, Any] = {"channel": channel, "message": lines, "start": start, "cursor": cursor, "cursors": cursors}
    if maps:
        data.update(maps)
    return json.dumps({"success": True, "data": data}, ensure_ascii=False)


def event_frame(event: str, data: dict[str, Any]) -> str:
    """Return a frame that is not a log line: ``{"success": true, "event": ..., "data": ...}``."""
    return json.dumps({"success": True, "event": event, "data": data}, ensure_ascii=False)


def presence_delta_frame(channel: str, joined_json: list[str], left_json: list[str]) -> str:
    """Return a presence event that says what changed since the list the client has: ``joined`` and ``left``.

    The handles come already encoded as JSON strings (cheap to splice, as for :func:`presence_frame`).
    """
    return (
        '{"success": true, "event": "presence", "data": {"channel": '
        + json.dumps(channel, ensure_ascii=False)
        + ', "joined": [' + ", ".join(joined_json) + '], "left": [' + ", ".join(left_json) + "]}}"
    )


def presence_frame(channel: str, users_json: list[str]) -> str:
    """Return ``event_frame("presence", ...)`` from handles already encoded as JSON strings (cheap to splice)."""
    return (
        '{"success": true, "event": "presence", "data": {"channel": '
        + json.dumps(channel, ensure_ascii=False)
        + ', "users": ['
        + ", ".join(users_json)
        + "]}}"
    )


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
class Delete:
    """Delete the line just before ``cursor``."""

    cursor: str


@dataclass(frozen=True)
class Read:
    """The reader has read up to the line just before ``cursor``."""

    cursor: str


HISTORY_PAGE_LIMIT = 200

ClientFrame = (Chat | Private | Typing | History | Keepalive | Moderate | Delete | Read | React | Edit | Thread | Upload
               | Key)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def parse_client_frame(raw: str, max_chars: int) -> ClientFrame:
    """Turn one text frame into a request.

    Raises :class:`BadFrame` with the sentence to send back for anything that
    is not a well-formed request.  Never raises anything else, whatever
    ``raw`` holds.
    """
    try:
        payload = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise BadFrame(INVALID_FORMAT) from None
    if not isinstance(payload, dict):
        raise BadFrame(INVALID_FORMAT)
    if not json_is_unicode(raw, payload):  # refused whole, wherever the lone surrogate is
        raise BadFrame(NOT_UNICODE)
    kind = payload.get("type")
    if not isinstance(kind, str):
        raise BadFrame(INVALID_FORMAT)
    message = payload.get("message")
    if kind == "chat":
        reply_to = payload.get("reply_to")
        if reply_to is not None and not isinstance(reply_to, str):
            raise BadFrame(BAD_REPLY)
        encrypted = _encrypted(payload)
        return Chat(_message(message, max_chars, encrypted), reply_to, encrypted)
    if kind == "key":
        return parse_key(payload)
    if kind in ("react", "edit", "thread"):
        encrypted = _encrypted(payload)
        return requests.parse(kind, payload, lambda text: _message(text, max_chars, encrypted))
    if kind == "upload":
        return upload_requests.parse(payload, lambda text: _text(text, max_chars))
    if kind == "private":
        to = payload.get("to")
        if not isinstance(to, str):
            raise BadFrame(INVALID_FORMAT)
        encrypted = _encrypted(payload)
        text = _message(message, max_chars, encrypted)
        if not valid_handle(to):
            raise BadFrame(USER_NOT_FOUND)
        return Private(to, text, encrypted)
    if kind == "typing":
        typing = payload.get("typing")
        if not isinstance(typing, bool):
            raise BadFrame(INVALID_FORMAT)
        return Typing(typing)
    if kind == "history":
        return _history(payload)
    if kind == "moderate":
        return _moderate(payload)
    if kind == "delete":
        cursor = payload.get("cursor")
        if not isinstance(cursor, str):
            raise BadFrame(INVALID_FORMAT)
        return Delete(cursor)
    if kind == "read":
        cursor = payload.get("cursor")
        if not isinstance(cursor, str):
            raise BadFrame(BAD_READ)
        return Read(cursor)
    if kind == "system":
        if message == "keepalive":
            return Keepalive()
        raise BadFrame(INVALID_FORMAT)
    raise BadFrame(UNKNOWN_TYPE.format(type=_shorten(kind)))


def _history(payload: dict[str, Any]) -> History:
    def bad(problem: str) -> BadFrame:
        return BadFrame(BAD_HISTORY.format(problem=problem))

    limit = payload.get("limit", 50)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise bad(f"limit must be a whole number from 1 to {HISTORY_PAGE_LIMIT}")
    given = [field for field in ("before", "around", "at", "after") if payload.get(field) is not None]
    if len(given) > 1:
        raise bad("give one of before, around, at and after, not " + " and ".join(given))
    for field in ("before", "around", "after"):
        if payload.get(field) is not None and not isinstance(payload[field], str):
            raise bad(f"{field} must be a cursor from a frame (a string), or left out")
    at = payload.get("at")
    stamp = None
    if at is not None:
        stamp = parse_at(at) if isinstance(at, str) else None
        if stamp is None:
            raise bad("at must be a time as YYYY-MM-DD HH:MM (or with seconds, or a date alone)")
    return History(payload.get("before"), min(limit, HISTORY_PAGE_LIMIT), payload.get("around"), stamp,
                   payload.get("after"))


def _moderate(payload: dict[str, Any]) -> Moderate:
    def bad(problem: str) -> BadFrame:
        return BadFrame(BAD_MODERATE.format(problem=problem))

    action, handle = payload.get("action"), payload.get("handle")
    reason, duration = payload.get("reason", ""), payload.get("for", "")
    if action not in MODERATE:
        raise bad("action must be one of " + ", ".join(MODERATE))
    if not isinstance(handle, str) or not valid_handle(handle):
        raise bad(f"handle must be a handle ({HANDLE_HINT})")
    if not isinstance(reason, str) or len(reason) > REASON_CHARS or "\n" in reason:
        raise bad(f"reason must be one line of at most {REASON_CHARS} characters")
    if duration and (not isinstance(duration, str) or parse_duration(duration) is None):
        raise bad("for must be a duration such as 30m, 2h, 7d or 1h30m")
    if duration and action not in ("ban", "mute"):
        raise bad("for applies to ban and mute only")
    return Moderate(action, handle, reason.strip(), duration or "")


def _encrypted(payload: dict[str, Any]) -> bool:
    encrypted = payload.get("encrypted", False)
    if not isinstance(encrypted, bool):
        raise BadFrame(INVALID_FORMAT)
    return encrypted


def _message(message: Any, max_chars: int, encrypted: bool) -> str:
    """Check a message: an envelope (of at most 4x the chat limit) when ``encrypted``, chat text that is not one."""
    if not encrypted:
        text = _text(message, max_chars)
        if ENVELOPE_RE.match(text):
            raise BadFrame(INVALID_FORMAT)  # plain text that would read as ciphertext
        return text
    if not isinstance(message, str) or not ENVELOPE_RE.match(message) or len(message) > 4 * max_chars + 1024:
        raise BadFrame(BAD_ENVELOPE)
    return message


def _text(message: Any, max_chars: int) -> str:
    if not isinstance(message, str):
        raise BadFrame(INVALID_FORMAT)
    if not message.strip():
        raise BadFrame(EMPTY_MESSAGE)
    if len(message) > max_chars:
        raise BadFrame(TOO_LONG.format(limit=max_chars))
    return message


def _shorten(text: str, limit: int = 40) -> str:
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "…"
