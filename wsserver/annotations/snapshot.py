"""Build a channel's annotation index when it opens: from its last snapshot and the log after it.

The log is the truth; a snapshot (``index/<channel>.json`` in the data dir, a
string in Redis) is the index as it was at a position of the log, so that a
channel opens by reading only what was written since, not the whole log.  A
snapshot is used only if it fits: the same log (file, stream), a position that
is still a line start of it, and the line just before that position unchanged
(its digest).  Anything else, a missing or unreadable snapshot included, is a
rebuild from the start of the log.  Any process may write one (when a rebuild
read much, and when the channel closes); each is whole and consistent, so the
last written wins.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from ..lines.annotation import MARKERS
from ..store.base import Finder, Indexes, StoreError
from .index import Annotated, Index

log = logging.getLogger(__name__)

VERSION = 4  # 4: a line's client-only tags, and a tag line read without its line
SAVE_AFTER = 2000  # annotation lines folded since the snapshot that make a new one worth writing


def _digest(raw: bytes | None) -> str:
    return hashlib.sha1(raw or b"").hexdigest()


def dump(index: Index, end: str, last_line: bytes | None) -> bytes:
    """Return the snapshot of ``index`` folded up to the position ``end`` (``last_line``: the line before it)."""
    lines = [[cursor, entry.reactions, entry.edit, entry.edits, entry.parent, entry.root, entry.replies, entry.file,
              entry.reacted, entry.edited, entry.threaded, entry.tags] for cursor, entry in index.lines.items()]
    return json.dumps({"version": VERSION, "log": index.log, "end": end, "digest": _digest(last_line),
                       "pending": index.pending, "pending_tags": index.pending_tags, "lines": lines},
                      ensure_ascii=False, separators=(",", ":")).encode()


def _load(index: Index, data: bytes) -> tuple[str, str] | None:
    """Fill ``index`` from a snapshot; return its position and digest, or None if it is not one of ours."""
    try:
        snapshot: Any = json.loads(data)
        if snapshot.get("version") != VERSION:
            return None
        lines = {cursor: Annotated(reactions, edit, tuple(edits), parent, root, tuple(replies), file, *changed)
                 for cursor, reactions, edit, edits, parent, root, replies, file, *changed in snapshot["lines"]}
        tags = snapshot["pending_tags"]
        index.restore(snapshot["log"], lines, tuple(snapshot["pending"]) if snapshot["pending"] else None,
                      (str(tags[0]), str(tags[1])) if tags else None)
        return str(snapshot["end"]), str(snapshot["digest"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


async def build(index: Index, finder: Finder, indexes: Indexes, channel: str, end: str) -> int:
    """Fold into ``index`` every annotation of the log up to ``end``: from a snapshot that fits, or from the start.

    Returns how many lines the scan read that hold the marker (what a new
    snapshot would save reading).  Raises StoreError if the log could not be read.
    """
    try:
        data = await indexes.load(channel)
    except StoreError:
        log.warning("could not read the index snapshot of %s; reading the whole log", channel, exc_info=True)
        data = None
    since = _load(index, data) if data is not None else None
    scanned = None
    if since is not None:
        position, digest = since
        located, current = finder.locate(position), finder.locate(end)
        fits = located is not None and current is not None and located[0] == current[0] == index.log
        if fits and _digest((await finder.pick([position]))[0]) == digest:
            scanned = await finder.scan(end, MARKERS, start=position)
    if scanned is None:  # no snapshot, or one that does not fit this log: from the start
        index.restore(None, {}, None)
        scanned = await finder.scan(end, MARKERS) or []
    index.fold(scanned)
    return len(scanned)


async def save(index: Index, finder: Finder, indexes: Indexes, channel: str, end: str) -> None:
    """Write the snapshot of ``index``, folded up to ``end``; a failure is logged (the log still holds everything)."""
    try:
        last_line = (await finder.pick([end]))[0]
        await indexes.save(channel, dump(index, end, last_line))
    except StoreError:
        log.warning("could not write the index snapshot of %s", channel, exc_info=True)
