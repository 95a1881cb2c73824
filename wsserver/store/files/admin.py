"""The operator commands' view of a data dir: log files, the users file, and a tailer to follow.

Safe while servers run: ``say`` appends through the server's own
:class:`~wsserver.store.files.channellog.ChannelLog` (one ``write(2)``,
``O_APPEND``), so every running server delivers the line because it tails the
file; following uses the server's own :class:`~wsserver.store.files.tailer.Tailer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from ...config import CHANNEL_RE, HANDLE_RE
from ...errors import CommandError
from ...lines.checking import Checked, check_log
from ...lines.moderation_log import check_actions
from ..base import Accounts, ActionLog, Held
from ..faults import faults_become_store_errors
from . import moved
from .accounts import FileAccounts
from .actions import ACTIONS_FILE, FileActions
from .backup import backup
from .channellog import BLOCK, ChannelLog, Cursor, log_path, private_path, read_last_lines
from .finder import FileFinder
from .handles import USERS_FILE, FileHandles
from .tailer import DirWatcher, Tailer

_LOG_FILE_RE = re.compile(r"^(channel|private)_([a-z0-9][a-z0-9_-]{0,31})\.log$")
WAIT = 1.0  # seconds one call of after() waits for lines


def _describe(admin: FileAdmin, exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename or admin.data_dir}: {exc.strerror}"
    return str(exc)


_guarded = faults_become_store_errors((OSError,), _describe)


class FileAdmin:
    """A data dir, read and appended to as the servers do."""

    def __init__(self, data_dir: Path) -> None:
        if not data_dir.is_dir():
            raise CommandError(f"no data dir at {data_dir}")
        self.data_dir = data_dir
        moved.load(data_dir)  # restored from a backup: cursors of the old logs (delete) still name their lines
        self.where = f"in {data_dir}"
        self.name = f"the data dir {data_dir}"
        self.actions: ActionLog = FileActions(data_dir)
        self.accounts: Accounts = FileAccounts(data_dir)
        self._follow: tuple[Tailer, asyncio.Queue[list[str]]] | None = None
        self._watcher: DirWatcher | None = None  # started by the first after(): tail --no-follow needs none

    @_guarded
    async def has_channel(self, channel: str) -> bool:
        """Return whether ``channel_<name>.log`` exists."""
        return log_path(self.data_dir, channel).exists()

    async def channel_names(self) -> list[str]:
        """Return the channels with a log file in the data dir."""
        return sorted(path.name[len("channel_"):-len(".log")] for path in self.data_dir.glob("channel_*.log")
                      if CHANNEL_RE.match(path.name[len("channel_"):-len(".log")]))

    @_guarded
    async def last(self, channel: str, count: int) -> tuple[list[str], Cursor]:
        """Return the last ``count`` lines and start a tailer at the end, for :meth:`after`."""
        path = log_path(self.data_dir, channel)
        queue: asyncio.Queue[list[str]] = asyncio.Queue()

        def read_back(data: bytes, _cursor: Cursor) -> None:
            queue.put_nowait([raw.decode("utf-8", errors="replace") for raw in data[:-1].split(b"\n")])

        tailer = Tailer(path, read_back)
        tailer.start(at_end=True)
        self._follow = (tailer, queue)
        backlog, _ = await asyncio.to_thread(read_last_lines, tailer.fd, tailer.offset, count)
        return [raw.decode("utf-8", errors="replace") for raw in backlog], tailer.cursor

    @_guarded
    async def after(self, channel: str, position: Cursor) -> tuple[list[str], Cursor]:
        """Return the next lines the tailer read (it follows rotation on its own)."""
        assert self._follow is not None, "last() starts the tailer"
        tailer, queue = self._follow
        if self._watcher is None:
            name = tailer.path.name
            self._watcher = DirWatcher(self.data_dir, lambda changed: tailer.wake() if changed == name else None,
                                       lambda: [tailer])
            self._watcher.start()
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(queue.get(), WAIT), tailer.cursor
        return [], tailer.cursor

    @_guarded
    async def append(self, channel: str, line: str) -> None:
        """Append with one ``write(2)``; every running server delivers it."""
        channel_log = ChannelLog(log_path(self.data_dir, channel))
        channel_log.open()
        try:
            channel_log.append(line)
        finally:
            channel_log.close()

    @_guarded
    async def users(self, channel: str | None) -> list[Held]:
        """Return the entries of live processes, in file order."""
        return await FileHandles(self.data_dir).users(channel)

    @_guarded
    async def check(self, report: Callable[[str], None]) -> str:
        """Check every channel and private log and the users file, line by line."""
        return await asyncio.to_thread(self._check, report)

    def _check(self, report: Callable[[str], None]) -> str:
        files = lines = 0
        for path in sorted(self.data_dir.iterdir()):
            match = _LOG_FILE_RE.match(path.name)
            if match is None and path.name not in (USERS_FILE, ACTIONS_FILE):
                continue
            files += 1
            counted = _CountedLines(path)
            if path.name == ACTIONS_FILE:
                found = check_actions(path, counted)
            elif match is None:
                found = _check_users(path, counted)
            else:
                found = check_log(path, counted, private=match.group(1) == "private")
            for problem in found:
                report(problem)
            lines += counted.count
        return f"checked {files} file(s), {lines} line(s)"

    @_guarded
    async def lines(self, channel: str, since: str | None) -> AsyncIterator[str]:
        """Yield the whole lines of the file (a line still being written is left out)."""
        with log_path(self.data_dir, channel).open("rb") as log:
            for raw in log:
                if raw.endswith(b"\n"):
                    yield raw[:-1].decode("utf-8", errors="replace")

    def finder(self, channel: str, private: bool = False) -> FileFinder:
        """Return the servers' own searcher of ``channel_<name>.log`` (``private``: ``private_<name>.log``)."""
        return FileFinder((private_path if private else log_path)(self.data_dir, channel))

    @_guarded
    async def backup(self, target: Path, files_dir: Path) -> list[str]:
        """Copy the data dir and the shared files into ``target`` (store/files/backup.py), in a thread."""
        return await asyncio.to_thread(backup, self.data_dir, files_dir, target)

    @_guarded
    async def close(self) -> None:
        """Stop following."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            await watcher.stop()
        if self._follow is not None:
            tailer, _ = self._follow
            self._follow = None
            await tailer.stop()


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


class _CountedLines:
    """The lines of a file, read once, remembering how many there were."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0

    def __iter__(self) -> Iterator[tuple[int, bytes, bool]]:
        for item in _lines(self.path):
            self.count = item[0]
            yield item


def _check_users(path: Path, lines: Checked) -> Iterator[str]:
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

