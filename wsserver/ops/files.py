"""What ``wsserver check`` says of shared files: each line of a shared file whose file is not there."""

from __future__ import annotations

import asyncio

from ..lines.annotation import MARKERS, SHARE, parse_annotation
from ..store.base import Finder
from ..uploads.storage import FilesDir

SHARE_MARKER = MARKERS[1]


async def missing_files(finder: Finder, files: FilesDir) -> list[str]:
    """Return a problem for each shared file of the log that is neither served nor withdrawn (deleted)."""
    problems = []
    for raw, _ in await finder.scan(None, (SHARE_MARKER,)) or []:
        link = parse_annotation(raw.decode("utf-8", errors="replace"))
        if link is None or link.kind != SHARE or link.file is None:
            continue
        url = str(link.file["url"])
        upload = url.split("/")[2]
        if not await asyncio.to_thread(files.kept, upload):
            problems.append(f"the file of the line of {link.handle} at {link.stamp} is missing: {url} "
                            f"(looked in {files.root})")
    return problems
