"""Stop serving the file of a deleted line: find it from the line's link, move it out of the served tree.

The line of a shared file is an ordinary chat line right after its link
(``ALICE shared /files/ID/NAME ... with the next line``, written in the same
append), so the file of a line is found by reading the line and the one
before it.  Called by whoever deletes the line (the chat socket, the
operator's ``delete``); the move is idempotent.
"""

from __future__ import annotations

import asyncio

from ..lines.annotation import SHARE, parse_annotation
from ..lines.logline import LINE_RE
from ..store.base import Finder
from .storage import FilesDir


async def file_of(finder: Finder, cursor: str) -> str | None:
    """Return the upload ID of the shared file whose line ends at ``cursor``, or None; raises StoreError."""
    window = await finder.around(cursor, 2)
    if window is None or window.mark is None or window.mark < 1:
        return None
    lines = window.lines.split()
    link = parse_annotation(lines[window.mark - 1][0].decode("utf-8", errors="replace"))
    line = LINE_RE.match(lines[window.mark][0].decode("utf-8", errors="replace"))
    if link is None or link.kind != SHARE or link.file is None or line is None \
            or line.group(2).lower() != link.handle.lower():
        return None
    return str(link.file["url"]).split("/")[2]


async def withdraw_line(files: FilesDir, finder: Finder, cursor: str, erase: bool = False) -> str | None:
    """Withdraw the file of the line at ``cursor`` (``erase``: remove it from disk); return its ID, or None."""
    upload = await file_of(finder, cursor)
    if upload is not None:
        await asyncio.to_thread(files.withdraw, upload, erase)
    return upload
