"""Operator commands on a data dir, safe while servers run: ``tail``, ``users``, ``say``, ``check``.

They use the same pieces as the server: ``say`` appends through
:class:`~wsserver.channellog.ChannelLog` (one ``write(2)``, ``O_APPEND``) and
every running server delivers the line because it tails the file; ``tail``
follows a channel with the server's own :class:`~wsserver.tailer.Tailer`.
Their twins for a Redis store are in :mod:`wsserver.redisadmin`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

from ..config import CHANNEL_RE
from ..logline import SYSTEM, Clock, EscapeError, format_line, parse_line
from ..protocol import HANDLE_RE
from ..store.channellog import BLOCK, ChannelLog, Cursor, log_path, read_last_lines
from ..store.tailer import DirWatcher, Tailer
from ..store.users import USERS_FILE, Registry

_LOG_FILE_RE = re.compile(r"^(channel|private)_([a-z0-9][a-z0-9_-]{0,31})\.log$")


class AdminError(Exception):
    """An operator command cannot run; the message says why."""


def existing_log(data_dir: Path, channel: str) -> Path:
    """Return the log file of ``channel``; raises AdminError for a bad name or a missing file."""
    if not CHANNEL_RE.match(channel):
        raise AdminError(f"invalid channel name {channel!r}: must match {CHANNEL_RE.pattern}")
    path = log_path(data_dir, channel)
    if not path.exists():
        raise AdminError(f"no log for channel {channel!r} in {data_dir}")
    return path


def readable(line: str) -> str:
    """Return a log line with its text unescaped, for people to read."""
    try:
        parsed = parse_line(line)
    except EscapeError:
        return line
    if parsed is None:
        return line
    who = parsed.handle if parsed.to is None else f"{parsed.handle} -> {parsed.to}"
    return f"[{parsed.stamp}] {who}: {parsed.text}"


# ---------------------------------------------------------------- say


def say(data_dir: Path, channel: str, text: str, timezone: str) -> str:
    """Append a System line to ``channel``; return it. Every running server delivers it."""
    path = existing_log(data_dir, channel)
    if not text.strip():
        raise AdminError("the text is empty")
    line = format_line(Clock(timezone).stamp(), SYSTEM, text)
    channel_log = ChannelLog(path)
    channel_log.open()
    try:
        channel_log.append(line)
    finally:
        channel_log.close()
    return line


# ---------------------------------------------------------------- users


async def users(data_dir: Path, channel: str | None, out: TextIO) -> int:
    """Print who is connected where (live entries only); return how many."""
    entries = await Registry(data_dir).users(channel)
    for entry in entries:
        owner = f"{entry.owner.host}:{entry.owner.pid}" if entry.owner else "-"
        print(f"{entry.channel}\t{entry.handle}\t{owner}", file=out)
    return len(entries)


# ---------------------------------------------------------------- tail


async def tail(data_dir: Path, channel: str, lines: int, out: TextIO, follow: bool = True) -> None:
    """Print the last ``lines`` lines of ``channel``, then follow it like ``tail -f`` until interrupted."""
    path = existing_log(data_dir, channel)

    def show(data: bytes, _cursor: Cursor) -> None:
        for raw in data[:-1].split(b"\n"):
            print(readable(raw.decode("utf-8", errors="replace")), file=out, flush=True)

    tailer = Tailer(path, show)
    tailer.start(at_end=True)
    backlog, _ = await asyncio.to_thread(read_last_lines, tailer.fd, tailer.offset, lines)
    if backlog:
        show(b"\n".join(backlog) + b"\n", tailer.cursor)
    if not follow:
        await tailer.stop()
        return
    watcher = DirWatcher(data_dir, lambda name: tailer.wake() if name == path.name else None, lambda: [tailer])
    watcher.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await watcher.stop()
        await tailer.stop()


# ---------------------------------------------------------------- check


def _lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """Yield (number, line without newline, whether it had its newline) without loading the file."""
    with path.open("rb") as stream:
        number = 0
        carry = b""
        while chunk := stream.read(BLOCK):
            pieces = (carry + chunk).split(b"\n")
            carry = pieces.pop()
            for piece in pieces:
                number += 1
                yield number, piece, True
        if carry:
            yield number + 1, carry, False


Lines = Iterable[tuple[int | str, bytes, bool]]
"""(where in the source: a line number or a stream entry ID, the line without newline, whether it had one)."""


class _CountedLines:
    """The lines of a file, read once, remembering how many there were."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0

    def __iter__(self) -> Iterator[tuple[int, bytes, bool]]:
        for item in _lines(self.path):
            self.count = item[0]
            yield item


def check_log(source: object, lines: Lines, private: bool) -> Iterator[str]:
    """Yield ``source:where: problem`` for each line of a channel (or private) log that is not as servers write it."""
    for number, raw, whole in lines:
        where = f"{source}:{number}"
        if not whole:
            yield f"{where}: last line has no newline (torn write)"
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield f"{where}: not valid UTF-8"
            continue
        try:
            parsed = parse_line(line)
        except EscapeError as exc:
            yield f"{where}: {exc}"
            continue
        if parsed is None:
            yield f"{where}: not in the log format [YYYY-MM-DD HH:mm:ss] HANDLE: TEXT"
            continue
        try:
            datetime.strptime(parsed.stamp, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            yield f"{where}: invalid timestamp {parsed.stamp}"
        if private and parsed.to is None:
            yield f"{where}: a private log line needs FROM -> TO"
        if not private and parsed.to is not None:
            yield f"{where}: a private line in a channel log"
        if any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in raw.decode("utf-8")):
            yield f"{where}: unescaped control character"


def _check_users(path: Path, lines: Lines) -> Iterator[str]:
    held: dict[tuple[str, str], int | str] = {}
    for number, raw, whole in lines:
        where = f"{path}:{number}"
        fields = raw.decode("utf-8", errors="replace").split("|")
        if not whole:
            yield f"{where}: last line has no newline"
        if len(fields) < 2:
            yield f"{where}: expected handle|channel"
            continue
        handle, channel = fields[0], fields[1]
        if not HANDLE_RE.match(handle):
            yield f"{where}: invalid handle {handle!r}"
        if not CHANNEL_RE.match(channel):
            yield f"{where}: invalid channel {channel!r}"
        key = (handle.lower(), channel)
        if key in held:
            yield f"{where}: {handle} is registered twice in {channel} (also line {held[key]})"
        held[key] = number


def check(data_dir: Path, out: TextIO) -> int:
    """Verify every log and the users file; print each problem as ``file:line: problem``; return how many."""
    if not data_dir.is_dir():
        raise AdminError(f"no data dir at {data_dir}")
    problems = 0
    files = lines = 0
    for path in sorted(data_dir.iterdir()):
        match = _LOG_FILE_RE.match(path.name)
        if match is None and path.name != USERS_FILE:
            continue
        files += 1
        counted = _CountedLines(path)
        found = (_check_users(path, counted) if match is None
                 else check_log(path, counted, private=match.group(1) == "private"))
        for problem in found:
            problems += 1
            print(problem, file=out)
        lines += counted.count
    summary = f"checked {files} file(s), {lines} line(s): {problems} problem(s)"
    print(summary, file=out if problems == 0 else sys.stderr)
    return problems


@contextlib.contextmanager
def admin_errors() -> Iterator[None]:
    """Turn :class:`AdminError` and file errors into a one-line message and exit status 1."""
    try:
        yield
    except AdminError as exc:
        print(f"wsserver: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except OSError as exc:
        print(f"wsserver: {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
        raise SystemExit(1) from None
