"""The rules of a shared file's name, and its sizes as sentences say them."""

from __future__ import annotations

import unicodedata
from typing import Any

from ..protocol import NAME_CHARS

TICKET_SECONDS = 300  # an upload URL is valid this long


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
