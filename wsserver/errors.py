"""Every exception wsserver defines, in one tree under :class:`WsserverError`.

Catch the narrowest class that says what you can do about it; catch
:class:`WsserverError` only where any of our own faults ends up the same way
(the command line prints the message and exits)::

    WsserverError
     ├── ConfigError         a setting is wrong at start-up (also a ValueError); the message names it
     ├── CommandError        an operator command was given a value it cannot use (exit status 2)
     ├── CannotListen        the server cannot open its address (port in use, no such host)
     ├── Refusal             a request may not open a socket: an HTTP status and a refusal
     ├── BadFrame            a client frame is refused (also a ValueError); the message is the sentence
     ├── EscapeError         a log line holds an escape that is not ours (also a ValueError)
     ├── TooManyChannels     creating one more channel would pass --max-channels
     ├── JoinRefused         a socket may not take a seat: the refusal and close code it is sent
     ├── UploadRefused       a shared file is not kept (nothing of it is left)
     │    ├── NoRoom         the disk, or --files-quota, has no room for it (507)
     │    ├── NotAnImage     JPEG, PNG, GIF or WebP by its bytes, but it does not decode (415)
     │    └── TooManyPixels  an image larger than --max-image-pixels, measured before decoding (422)
     └── StoreError          the store did not do what was asked (read, append, claim, release)
          ├── AppendError    a line was not stored; nothing of it is left in the log
          └── StoreUnavailable  the store cannot be reached at start-up (the server does not start)

The refusals a client is told (:class:`Refusal`, :class:`BadFrame`,
:class:`JoinRefused`) carry a :class:`~wsserver.protocol.Refused`: the code
and its sentence.  This module imports nothing of the package but the
protocol's table (which imports nothing), so every module can import it.
"""

from __future__ import annotations

from .protocol import CLOSE_POLICY, Code, Refused


def _refused(refusal: Code | Refused) -> Refused:
    return refusal if isinstance(refusal, Refused) else Refused.of(refusal)


class WsserverError(Exception):
    """The root of every exception wsserver raises on purpose."""


class ConfigError(WsserverError, ValueError):
    """A setting that cannot be used; the message names the option and the value."""


class CommandError(WsserverError):
    """An operator command was given a value it cannot use; the message names it (exit status 2)."""


OpsError = CommandError  # the name the operator commands have always used


class CannotListen(WsserverError):
    """The server cannot listen where it was told to; the message says where and why."""


class Refusal(WsserverError):
    """A request that may not open a socket: the HTTP status and the refusal to answer with."""

    def __init__(self, status: int, refusal: Code | Refused) -> None:
        self.refused = _refused(refusal)
        super().__init__(self.refused.sentence)
        self.status = status
        self.sentence = self.refused.sentence


class BadFrame(WsserverError, ValueError):
    """A client frame that is refused; the message is the sentence the client gets."""

    def __init__(self, refusal: Code | Refused) -> None:
        self.refused = _refused(refusal)
        super().__init__(self.refused.sentence)


class EscapeError(WsserverError, ValueError):
    """A logged text holds an escape sequence this server never writes."""


class TooManyChannels(WsserverError):
    """Creating one more channel would pass ``--max-channels``."""


class JoinRefused(WsserverError):
    """A connection may not take a seat in a channel: the refusal it is sent, the close code, and why (for the log)."""

    def __init__(self, refusal: Code | Refused, why: str, code: int = CLOSE_POLICY) -> None:
        super().__init__(why)
        self.refused = _refused(refusal)
        self.sentence = self.refused.sentence
        self.why = why
        self.code = code


class UploadRefused(WsserverError):
    """A shared file is not kept; nothing of it is left (no file, no part, no line)."""


class NoRoom(UploadRefused):
    """The disk is full, or the files dir would pass ``--files-quota``."""


class NotAnImage(UploadRefused):
    """JPEG, PNG, GIF or WebP by its signature, but Pillow could not decode it."""


class TooManyPixels(UploadRefused):
    """An image larger than the pixel limit (measured from its header, before decoding)."""


class Closing(WsserverError):
    """An IRC connection is to end: its client quit, or was told why with ERROR."""


class StoreError(WsserverError):
    """The store did not answer a read, an append or a change of handles; the message says which and why."""


class AppendError(StoreError):
    """A line could not be stored whole; nothing of it is left in the log."""


class StoreUnavailable(StoreError):
    """The store cannot be reached at start-up; the message names it and says why."""
