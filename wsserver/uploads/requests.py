"""The ``upload`` frame, the rules of a file's name and size, and the sentences about files.

``{"type": "upload", "name": "photo.jpg", "size": 123456, "caption": "the view"}`` asks for a
one-time URL to ``PUT`` the bytes to (``caption`` optional, chat text rules).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import BadFrame

NAME_CHARS = 200
TICKET_SECONDS = 300  # an upload URL is valid this long

# Sentences (the socket's)
TOO_LARGE = "File is too large (limit {limit})"
BAD_NAME = f"Invalid upload request: name must be 1 to {NAME_CHARS} characters without / or control characters"
BAD_SIZE = "Invalid upload request: size must be a whole number of bytes"
# Sentences (the PUT's, as {"error": ...})
NOT_AN_IMAGE = "That image could not be read"
TOO_MANY_PIXELS = "Image is too large (limit {limit} pixels)"
NO_ROOM = "Not enough space to store the file"
NO_TICKET = "No upload is waiting at this address (it was used, it expired, or it never was)"
GONE = "This file was deleted"
NO_FILE = "No file here"


@dataclass(frozen=True)
class Upload:
    """A request for an upload URL: the file's name and declared size, and the caption of its line."""

    name: str
    size: int
    caption: str = ""


def megabytes(size: int) -> str:
    """Return a size as people read it in a sentence: ``10 MB``, ``1.5 MB``, ``512 KB``, ``12 bytes``."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def pixels(limit: int) -> str:
    """Return a pixel count as a sentence says it: ``40 million``, ``1.5 million``, ``500000``."""
    if limit >= 1_000_000:
        return f"{limit / 1_000_000:.1f}".removesuffix(".0") + " million"
    return str(limit)


def valid_name(name: Any) -> bool:
    """Return whether ``name`` may name a file: 1 to 200 characters, no ``/``, no control or format characters.

    ``.`` and ``..`` are refused too: every client normalises them out of the file's URL, which would
    point at nothing.
    """
    # Format characters count as control characters: a right-to-left override makes "gpj.exe" read "exe.jpg".
    return (isinstance(name, str) and 1 <= len(name) <= NAME_CHARS and "/" not in name and name not in (".", "..")
            and not any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") for char in name))


def parse(payload: dict[str, Any], text: Callable[[Any], str]) -> Upload:
    """Return the request of an ``upload`` frame; ``text`` checks a caption as chat text.

    Raises :class:`BadFrame` with the sentence to send back (the size limit
    is the server's setting: :class:`~wsserver.conversation.Conversation` checks it).
    """
    name, size, caption = payload.get("name"), payload.get("size"), payload.get("caption")
    if not isinstance(name, str) or not valid_name(name):
        raise BadFrame(BAD_NAME)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BadFrame(BAD_SIZE)
    return Upload(name, size, text(caption) if caption not in (None, "") else "")
