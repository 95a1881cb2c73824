"""Search results as lines read now: an edited line is found by its current text, once.

A finder's scan (:class:`~wsserver.query.Query`) matches chat lines and edit
lines alike, newest first.  :func:`current` turns that into what a user
searching means: each chat line at most once, with its cursor, matched by
its current text.  An edit line that matches stands for the line it edited
(when it is that line's latest edit), shown with the new text; a line edited
since is found only through its edit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..lines.annotation import EDIT, MARKERS, annotatable, marked, parse_annotation
from ..store.base import Finder
from .index import Index as Index  # re-exported: what index_of returns


async def index_of(finder: Finder) -> Index:
    """Return the index of a log read whole now: for a search or an export by a process that does not serve it.

    Raises StoreError.
    """
    index = Index(finder)
    index.fold(await finder.scan(None, MARKERS) or [])
    return index


async def current(hits: list[tuple[str, str]], index: Index, finder: Finder) -> list[tuple[str, str, bool]]:
    """Return each hit as (line as it reads now, its cursor, whether it was edited), each line once, in order.

    Raises StoreError if reading an edited line back failed.
    """
    return [result for _, result in await current_of(hits, index, finder)]


async def current_of(hits: list[tuple[str, str]], index: Index,
                     finder: Finder) -> list[tuple[int, tuple[str, str, bool]]]:
    """Return :func:`current`'s results, each with the index in ``hits`` of the hit it comes from."""
    results: list[tuple[int, tuple[str, str, bool] | None]] = []
    edited: list[tuple[int, str, str]] = []  # (where in results, the edited line's cursor, its new text)
    seen: set[str] = set()
    for at, (line, cursor) in enumerate(hits):
        edit = parse_annotation(line) if marked(line.encode()) else None
        if edit is not None:
            located = finder.locate(cursor)
            target = finder.cursor_at(located[0], edit.ref) if located is not None and edit.kind == EDIT else None
            entry = index.lines.get(target) if target is not None else None
            if target is None or entry is None or entry.edit != edit.text or target in seen:
                continue  # not an edit, or not the latest one of its line
            seen.add(target)
            edited.append((len(results), target, edit.text))
            results.append((at, None))
            continue
        entry = index.lines.get(cursor)
        if cursor in seen or (entry is not None and entry.edit is not None):
            continue
        seen.add(cursor)
        results.append((at, (line, cursor, False)))
    if edited:
        picked = await finder.pick([target for _, target, _ in edited])
        for (where, target, text), raw in zip(edited, picked, strict=True):
            match = annotatable(raw)
            if match is not None:
                results[where] = (results[where][0], (f"[{match.group(1)}] {match.group(2)}: {text}", target, True))
    return [(at, result) for at, result in results if result is not None]


Shown = tuple[str, str, bool]  # a hit as it reads now: line, cursor, edited
ShownOf = Callable[[str, list[tuple[str, str]]], Awaitable[list[tuple[int, Shown]]]]


async def current_merged(hits: list[tuple[str, str, str]], shown_of: ShownOf) -> list[tuple[str, str, str, bool]]:
    """Return hits of several logs, merged (``(log, line, cursor)``), as they read now, in their order.

    ``shown_of(log, hits)`` turns one log's hits into :func:`current_of`'s answer (with the
    filters its caller adds); it is asked once per log.  Raises StoreError.
    """
    places: dict[str, list[int]] = {}  # where in ``hits`` each log's are
    for at, (name, _, _) in enumerate(hits):
        places.setdefault(name, []).append(at)
    shown: dict[int, tuple[str, str, str, bool]] = {}
    for name, ats in places.items():
        for at, (line, cursor, edited) in await shown_of(name, [hits[place][1:] for place in ats]):
            shown[ats[at]] = (name, line, cursor, edited)
    return [shown[at] for at in sorted(shown)]
