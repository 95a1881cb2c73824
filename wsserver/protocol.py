"""Every sentence a client can be told, with its code, and the frames the server sends.

A refusal is a value (:class:`Refused`): a :class:`Code`, used as the metric
label, and its sentence, from the one table below.  No other module writes a
sentence; the doors (the chat socket, the HTTP API, the operator's tools)
send ``refused.sentence`` as they send things, and count ``code.label``.

Server to client (JSON text frames of the chat socket):

* log lines: ``{"success": true, "data": {"channel", "message", "start", "cursor"}}``
  (``start`` is the cursor before the first line, ``cursor`` the one after the last);
* errors: ``{"success": false, "message": SENTENCE}``;
* everything else carries an ``event`` field (``presence``, ``typing``, ``private``,
  ``resumed``, ``history``, ``token``, ``read``, ``reactions``, ``edited``, ``thread``, ...).

What a client sends, and how it is read, is the socket door's
(:mod:`wsserver.app.frames`).  ``docs/protocol.md`` lists the same sentences;
the tests assert them.  This module imports nothing of the package: every
layer may name a sentence.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any


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


class Code(enum.Enum):
    """What went wrong: the sentence a client is told (a template for some), and the label metrics count it by.

    The labels are those of ``wsserver_messages_refused`` and
    ``wsserver_joins_refused`` (docs/operations.md); ``other`` for the rest.
    """

    sentence: str
    label: str

    def __new__(cls, sentence: str, label: str = "other") -> Code:
        member = object.__new__(cls)
        member._value_ = sentence
        member.sentence = sentence
        member.label = label
        return member

    # A join refused (each followed by a 1008 close; 1013 for UNAVAILABLE)
    NO_CHANNEL = "No valid channel provided", "no_channel"
    NO_HANDLE = "No valid handle provided", "no_handle"
    HANDLE_TAKEN = "User already registered", "handle_taken"
    TOO_MANY_CHANNELS = "Too many channels", "too_many_channels"
    UNAVAILABLE = "Server unavailable, try again later", "unavailable"  # also on an open connection, and HTTP 503
    BANNED = "You are banned from this channel"  # with ": REASON" when a ban removes someone
    # A request refused before it opens a socket or reaches the API (HTTP)
    QUERY_TOO_LONG = "Query string too long", "query_too_long"
    ORIGIN_REFUSED = "Origin not allowed", "origin"
    AUTH_FAILED = "Authentication failed", "authentication"
    TOO_MANY_CONNECTIONS = "Too many connections from this address", "too_many_connections"
    UNKNOWN_CHANNEL = "Unknown channel: {name}"
    # A frame refused (the connection stays open)
    INVALID_FORMAT = "Invalid message format", "invalid_format"
    BINARY_FRAME = "Binary frames are not accepted", "binary_frame"
    EMPTY_MESSAGE = "Message is empty", "empty"
    RATE_LIMITED = "Rate limit exceeded", "rate_limited"
    NOT_SAVED = "Message not saved", "not_saved"
    UNKNOWN_TYPE = "Unknown message type: {type}", "unknown_type"
    NOT_UNICODE = "Text is not valid Unicode: it holds a lone surrogate", "not_unicode"
    USER_NOT_FOUND = "User not found", "user_not_found"
    KEPT_FOR_LATER = "{handle} is not here now: the message is kept, and {handle} will see it on joining"
    BAD_CURSOR = "History is not available before that cursor", "bad_cursor"
    BAD_AFTER = "History is not available after that cursor", "bad_cursor"
    BAD_AROUND = "No line at that cursor", "bad_cursor"
    BAD_HISTORY = "Invalid history request: {problem}"
    TOO_LONG = "Message is too long (limit {limit} characters)", "too_long"
    BAD_READ = "Invalid read request: cursor must be a cursor from a frame (a string)"
    # Moderation
    KICKED = "You were removed from the channel"  # with ": REASON" if one was given; then 1008
    MUTED = "You are muted in this channel"
    NOT_OPERATOR = "Only channel operators may do that"
    BAD_MODERATE = "Invalid moderate request: {problem}"
    NOT_BANNED = "That handle is not banned in this channel"
    NOT_MUTED = "That handle is not muted in this channel"
    NOT_YOURS = "You may only delete your own lines, within 15 minutes of sending them"
    ALREADY_DELETED = "That line is already deleted"
    # Reactions, edits, replies, threads
    BAD_EMOJI = "Invalid reaction: emoji must be a single emoji"
    BAD_REACT = "Invalid reaction: cursor must be a cursor from a frame (a string)"
    TOO_MANY_REACTIONS = "That line has too many different reactions (limit {limit})"
    NOT_YOURS_TO_EDIT = "You may only edit your own lines, within 24 hours of sending them"
    BAD_EDIT = "Invalid edit request: message must be a string"
    BAD_EDIT_CURSOR = "Invalid edit request: cursor must be a cursor from a frame (a string)"
    BAD_REPLY = "Invalid reply: reply_to must be a cursor from a frame (a string)"
    BAD_THREAD = "Invalid thread request: {problem}"
    # End-to-end encryption
    BAD_KEY = "Invalid key: public must be a P-256 public key (a JWK with kty EC, crv P-256, x and y)"
    BAD_DEVICE = "Invalid key: device must be 1 to 64 letters, digits, - or _"
    BAD_ENVELOPE = "Invalid encrypted message: message must be an envelope (e2e1. and base64url)"
    PLAIN_ONLY = "This channel accepts only encrypted messages"
    # Files (the upload frame's, then the PUT's and the file route's, as {"error": ...})
    TOO_LARGE = "File is too large (limit {limit})"
    BAD_NAME = "Invalid upload request: name must be 1 to {limit} characters without / or control characters"
    BAD_SIZE = "Invalid upload request: size must be a whole number of bytes"
    NOT_AN_IMAGE = "That image could not be read"
    TOO_MANY_PIXELS = "Image is too large (limit {limit} pixels)"
    NO_ROOM = "Not enough space to store the file"
    NO_TICKET = "No upload is waiting at this address (it was used, it expired, or it never was)"
    GONE = "This file was deleted"
    NO_FILE = "No file here"
    # Search (the API's, as {"error": ...})
    BAD_SEARCH_TEXT = "q must be 1 to {most} characters of text to find"
    BAD_SEARCH_FROM = "from must be a handle: {hint}"
    BAD_SEARCH_LIMIT = "limit must be a whole number from 1 to {most}"
    BAD_SEARCH_BEFORE = "before is not a cursor of this channel's log (it may have been rotated)"
    BAD_SEARCH_PAGE = "before must be the next of an earlier answer of a search of every channel"
    BAD_SEARCH_CHANNELS = "channels must be a comma-separated list of channel names: {problem}"
    # Accounts (the HTTP API's, as {"error": ...}; the last two are close reasons of a signed-in socket)
    BAD_ACCOUNT_REQUEST = "Invalid request: {problem}"
    HANDLE_IN_USE = "That handle is taken"
    BAD_HANDLE = "A handle is {hint}"
    BAD_PASSWORD = "A password is {least} to {most} characters"
    BAD_INVITE = "This invitation is not valid"
    SIGN_UP_CLOSED = "Sign-up is closed"
    WRONG_PASSWORD = "Wrong handle or password"
    WRONG_CURRENT_PASSWORD = "The current password is wrong"
    TOO_MANY_ATTEMPTS = "Too many sign-in attempts, try again in {minutes} minutes"
    ACCOUNT_DISABLED = "This account is disabled"
    NOT_ALLOWED_HERE = "Not allowed in this channel"
    NOT_ALLOWED_IN = "Not allowed in channel {name}"
    PASSKEY_REFUSED = "Passkey not accepted"
    PASSKEYS_NEED_A_NAME = "Passkeys need the server to be reached by a host name, not an IP address"
    NO_SUCH_PASSKEY = "No passkey of this account has that id"
    SIGNED_OUT = "Signed out"
    ACCOUNT_CLOSED = "Your account was disabled"
    # Close reasons
    TOO_SLOW = "Too slow"
    SHUTTING_DOWN = "Server shutting down"
    SERVER_ERROR = "Internal server error"


@dataclass(frozen=True)
class Refused:
    """A request refused: its code and the sentence the asker is told (the code's, with its values filled in)."""

    code: Code
    sentence: str

    @classmethod
    def of(cls, code: Code, **values: object) -> Refused:
        """Return the refusal ``code`` with its template's ``values`` (``limit``, ``problem``, ...) filled in."""
        return cls(code, code.sentence.format(**values) if values else code.sentence)


# The problems a malformed request names after its code's sentence (BAD_HISTORY, BAD_MODERATE, BAD_THREAD)
PROBLEM_LIMIT = Code.BAD_SEARCH_LIMIT.sentence  # the same words
PROBLEM_ONE_OF = "give one of before, around, at and after, not {given}"
PROBLEM_CURSOR = "{field} must be a cursor from a frame (a string), or left out"
PROBLEM_THREAD_CURSOR = "cursor must be a cursor from a frame (a string)"
PROBLEM_AT = "at must be a time as YYYY-MM-DD HH:MM (or with seconds, or a date alone)"
PROBLEM_ACTION = "action must be one of {actions}"
PROBLEM_HANDLE = "handle must be a handle ({hint})"
PROBLEM_REASON = "reason must be one line of at most {most} characters"
PROBLEM_DURATION = "for must be a duration such as 30m, 2h, 7d or 1h30m"
PROBLEM_DURATION_ACTION = "for applies to ban and mute only"
PROBLEM_BODY = "the body must be a JSON object with {fields} (strings)"

# What the server says in a channel's log (System lines) and beside a search's answer
SERVER_RESTARTING = "The server is restarting"
SERVER_BACK = "The server is back"
ENCRYPTED_NOTE = "This channel takes only end-to-end encrypted lines: their text cannot be searched on the server"
NOT_FOUND_NUL = "Not found: a path with a NUL byte"
NOT_FOUND_PATH = "Not found: /{path}"

# Limits a client relies on (the sentences name them)
REACTIONS_MOST = 20  # different emoji on one line
NAME_CHARS = 200  # a shared file's name


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


def presence_delta_frame(channel: str, joined_json: list[str], left_json: list[str], version: str) -> str:
    """Return a presence event that says what changed since the list the client has: ``joined`` and ``left``,
    and the ``version`` of the list they make (wsserver.channels.presence: the member set's digest).

    The handles come already encoded as JSON strings (cheap to splice, as for :func:`presence_frame_ends`).
    """
    head, tail = presence_delta_ends(channel, left_json, version)
    return head + ", ".join(joined_json) + tail


def presence_delta_ends(channel: str, left_json: list[str], version: str) -> tuple[str, str]:
    """Return what comes before and after the joined handles (JSON strings, ", " between them) of a delta."""
    return ('{"success": true, "event": "presence", "data": {"channel": ' + json.dumps(channel, ensure_ascii=False)
            + ', "joined": [', '], "left": [' + ", ".join(left_json) + '], "version": "' + version + '"}}')


def presence_frame_ends(channel: str, version: str) -> tuple[str, str]:
    """Return what comes before and after the handles (each a JSON string, ", " between them) of a whole list.

    With the handles between them, the frame is ``event_frame("presence", ...)`` exactly, built
    without encoding thousands of handles per frame (wsserver.channels.presence splices bytes).
    """
    return ('{"success": true, "event": "presence", "data": {"channel": ' + json.dumps(channel, ensure_ascii=False)
            + ', "users": [', '], "version": "' + version + '"}}')
