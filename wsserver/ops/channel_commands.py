"""The operator commands, once for every store: ``tail``, ``users``, ``say``, ``check``, ``export``, ``search``.

Each takes a :class:`~wsserver.store.base.Admin` (the data dir or a Redis
store) and prints what it finds.  Exit statuses, the same for every command
and for the server: 2 when a value on the command line is wrong (the message
names it), 1 when the command ran and failed or found problems (the store
does not answer, ``check`` found something), 0 otherwise.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import TextIO

import pendulum

from ..annotations.found import Index, Shown, current_merged, current_of, index_of
from ..background import Backoff
from ..config import CHANNEL_RE, HANDLE_RE, valid_channel
from ..errors import CommandError
from ..lines.logline import LINE_RE, SYSTEM, Clock, format_line, is_unicode, readable
from ..lines.query import QUERY_CHARS, Query
from ..store import merged
from ..store.base import Admin, StoreError
from ..uploads.storage import FilesDir
from .exporting import export_json
from .files import missing_files


def check_channel(name: str) -> str:
    """Return ``name`` if it is a channel name; raises CommandError naming the rule."""
    if not valid_channel(name):
        raise CommandError(f"invalid channel name {name!r}: must match {CHANNEL_RE.pattern}")
    return name


async def existing_channel(source: Admin, channel: str) -> str:
    """Return ``channel`` if it is a valid name with a log in the store; raises CommandError naming the problem."""
    check_channel(channel)
    if not await source.has_channel(channel):
        raise CommandError(f"no log for channel {channel!r} {source.where}")
    return channel


async def say(source: Admin, channel: str, text: str, timezone: str) -> str:
    """Append a System line to ``channel``; return it. Every running server delivers it."""
    await existing_channel(source, channel)
    if not text.strip():
        raise CommandError("the text is empty")
    if not is_unicode(text):  # bytes that are not UTF-8 reach argv as lone surrogates
        raise CommandError("the text is not valid UTF-8")
    line = format_line(Clock(timezone).stamp(), SYSTEM, text)
    await source.append(channel, line)
    return line


async def users(source: Admin, channel: str | None, out: TextIO) -> int:
    """Print ``channel<TAB>handle<TAB>holder`` for each live handle; return how many."""
    if channel is not None:
        check_channel(channel)
    held = await source.users(channel)
    for entry in held:
        print(f"{entry.channel}\t{entry.handle}\t{entry.holder}", file=out)
    return len(held)


async def tail(source: Admin, channel: str, count: int, out: TextIO, follow: bool = True) -> None:
    """Print the last ``count`` lines of ``channel``, then follow it like ``tail -f`` until SIGINT or SIGTERM.

    While the store does not answer it says so once on stderr, retries with
    backoff, says when it answers again, and goes on from where it was.
    """
    await existing_channel(source, channel)
    lines, position = await source.last(channel, count)
    _show(lines, out)
    if not follow:
        return
    stop = asyncio.Event()
    reader = asyncio.get_running_loop().create_task(_follow(source, channel, position, out, stop))

    def interrupt() -> None:
        # Both: a cancel that reaches the reader inside a Redis read can be
        # lost in the client library (seen once in about ten runs), and the
        # flag then ends the loop at its next read, within a second.
        stop.set()
        reader.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, interrupt)
    try:
        await reader
    except asyncio.CancelledError:
        pass


async def _follow(source: Admin, channel: str, position: object, out: TextIO, stop: asyncio.Event) -> None:
    backoff = Backoff()
    lost = False
    while not stop.is_set():
        try:
            lines, position = await source.after(channel, position)
        except StoreError as exc:
            if not lost:
                print(f"wsserver: {exc}; retrying", file=sys.stderr, flush=True)
                lost = True
            await backoff.wait()
            continue
        if lost:
            print(f"wsserver: {source.name} answers again", file=sys.stderr, flush=True)
            lost = False
            backoff.reset()
        _show(lines, out)


def _show(lines: list[str], out: TextIO) -> None:
    for line in lines:
        print(readable(line), file=out, flush=True)


async def check(source: Admin, out: TextIO, files_dir: Path | None = None) -> int:
    """Verify every log and the handles, and that shared files are there; print each problem; return how many."""
    problems = 0

    def report(problem: str) -> None:
        nonlocal problems
        problems += 1
        print(problem, file=out)

    summary = await source.check(report)
    if files_dir is not None:
        for channel in await source.channel_names():
            for problem in await missing_files(source.finder(channel), FilesDir(files_dir)):
                report(f"{channel}: {problem}")
    print(f"{summary}: {problems} problem(s)", file=out if problems == 0 else sys.stderr)
    return problems


def parse_since(text: str, timezone: str) -> str:
    """Return ``text`` (a date or date and time in ``timezone``) as a log stamp ``YYYY-MM-DD HH:MM:SS``."""
    try:
        moment = pendulum.parse(text, tz=timezone)
    except Exception:
        moment = None
    if not isinstance(moment, pendulum.DateTime):
        raise CommandError(f"invalid --since value {text!r}: must be a date or time such as 2026-11-22 14:00")
    return str(moment.in_timezone(timezone).format("YYYY-MM-DD HH:mm:ss"))


async def export(source: Admin, channel: str, since: str | None, timezone: str, out: TextIO,
                 as_json: bool = False) -> int:
    """Print the lines of ``channel`` as the log holds them (or as JSON), from the first at or after ``since``."""
    stamp = parse_since(since, timezone) if since is not None else None
    await existing_channel(source, channel)
    if as_json:
        return await export_json(source, channel, stamp, out)
    count = 0
    keep = stamp is None
    async for line in source.lines(channel, stamp):
        if not keep:
            match = LINE_RE.match(line)
            keep = match is not None and stamp is not None and match.group(1) >= stamp
        if keep:
            out.write(line + "\n")
            count += 1
    return count


SEARCH_SECONDS = 10.0  # one round of a search; the command goes on from where each round stopped


async def search(source: Admin, channel: str | None, text: str, handle: str | None, limit: int, out: TextIO) -> int:
    """Print the lines of ``channel`` holding ``text`` (from ``handle``) as the log holds them, newest first.

    Without a channel, every channel's, merged newest first, each line after
    its channel's name and ``": "``.  ``limit`` 0 prints every one.  Returns
    how many were printed.
    """
    if channel is not None:
        await existing_channel(source, channel)
    if not text.strip() or len(text) > QUERY_CHARS:
        raise CommandError(f"the text to find must be 1 to {QUERY_CHARS} characters")
    if handle is not None and not HANDLE_RE.match(handle):
        raise CommandError(f"invalid --from value {handle!r}: must be a handle (3 to 16 letters, digits or _)")
    if limit < 0:
        raise CommandError(f"invalid --limit value {limit}: must be 0 (no limit) or more")
    names = [channel] if channel is not None else await source.channel_names()
    finders = {name: source.finder(name) for name in names}
    indexes: dict[str, Index] = {}  # an edited line is found by its current text

    async def shown_of(name: str, hits: list[tuple[str, str]]) -> list[tuple[int, Shown]]:
        if name not in indexes:
            indexes[name] = await index_of(finders[name])
        return await current_of(hits, indexes[name], finders[name])

    positions: dict[str, str] | None = dict.fromkeys(names, merged.FROM_END)
    printed = 0
    while positions:
        wanted = 1000 if limit == 0 else min(1000, limit - printed)
        page = await merged.search(finders, positions, Query(text, handle), wanted, SEARCH_SECONDS)
        for name, shown, _cursor, _edited in await current_merged(page.hits, shown_of):
            out.write(shown + "\n" if channel is not None else f"{name}: {shown}\n")
            printed += 1
        positions = page.positions
        if printed == limit:
            break
    return printed
