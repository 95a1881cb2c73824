"""The lines of ``registered_users.log``: who owns an entry (:class:`Owner`), an entry, and the file as read.

:class:`UsersRead` is the file as a process last read it: another process's appended lines are read and
parsed alone, not the whole file again (wsserver.store.files.handles keeps one).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import socket
import sys
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Owner:
    """A process that can hold handles: host name, pid and kernel start time."""

    host: str
    pid: int
    start: str

    @classmethod
    def current(cls) -> Owner:
        """Return the owner that stands for this process."""
        return cls(socket.gethostname(), os.getpid(), _start_time(os.getpid()) or "")

    def alive(self) -> bool:
        """Return whether the owning process still runs; entries of other hosts always count as alive."""
        if self.host != socket.gethostname():
            return True
        if self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        start = _start_time(self.pid)
        return start is None or start == self.start


def _start_time(pid: int) -> str | None:
    """Return the kernel's start time of ``pid``, which tells a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19].decode() if len(fields) > 19 else None


@dataclass(frozen=True, slots=True)  # one per user in the parsed file: 10,000 at W4
class Entry:
    """One line of the users file: ``handle|channel|host|pid|start``, then ``|away-until|announced`` if away.

    A shared claim's line has all eight fields, the last ``1`` (``away-until`` empty unless away).
    """

    handle: str
    channel: str
    owner: Owner | None
    away_until: float | None = None  # Unix time the grace ends, for a handle whose server stopped
    announced: bool = False  # the server's return was announced in this channel
    shared: bool = False  # a token identity's: other processes may hold the same seat
    # Computed once: every batch of claims indexes the whole file by it (py-spy: 9 % of a join storm).
    key: tuple[str, str] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lower = self.handle.lower()
        object.__setattr__(self, "key", (self.handle if lower == self.handle else lower, self.channel))

    def format(self) -> str:
        if self.owner is None:
            return f"{self.handle}|{self.channel}"
        line = f"{self.handle}|{self.channel}|{self.owner.host}|{self.owner.pid}|{self.owner.start}"
        if self.away_until is not None or self.shared:
            away = "" if self.away_until is None else f"{self.away_until:.3f}"
            line += f"|{away}|{int(self.announced)}"
        if self.shared:
            line += "|1"
        return line

    @classmethod
    def parse(cls, line: str) -> Entry | None:
        fields = line.rstrip("\n").split("|")
        if len(fields) < 2 or not fields[0] or not fields[1]:
            return None
        owner = None
        if len(fields) >= 5:
            try:
                owner = _owner(fields[2], int(fields[3]), fields[4])
            except ValueError:
                owner = None
        away_until = None
        if len(fields) >= 6:
            try:
                away_until = float(fields[5])
            except ValueError:
                away_until = None
        return cls(fields[0], sys.intern(fields[1]), owner, away_until, len(fields) >= 7 and fields[6] == "1",
                   len(fields) >= 8 and fields[7] == "1")


@functools.lru_cache(maxsize=1024)
def _owner(host: str, pid: int, start: str) -> Owner:
    """Return the owner of these fields: one object for all the lines of one process.

    A parsed file holds thousands of lines of a few processes: shared, their owner costs nothing a
    line, where an owner of its own (with its host and start strings) cost about 220 bytes.
    """
    return Owner(host, pid, start)


HEAD = 64  # bytes of the file's start and of the end of what was read, compared before reading on


def _parse(data: bytes) -> list[Entry]:
    """Return the entries of whole lines (bytes that are not UTF-8 replaced)."""
    return [e for e in map(Entry.parse, data.decode("utf-8", errors="replace").splitlines()) if e is not None]


@dataclass(frozen=True)
class UsersRead:
    """The users file as this process last read it: which file, how far (whole lines), and its entries.

    Another process appends whole lines under the lock, or replaces the file (a new inode); so the same
    inode, at least as long, with the same first bytes and the same bytes before ``offset``, is the file
    read before with lines added (an inode number reused by a later file fails the byte checks).
    """

    inode: int
    offset: int  # after the last whole line read
    head: bytes  # the file's first HEAD bytes (fewer in a shorter file)
    tail: bytes  # the HEAD bytes before offset
    entries: tuple[Entry, ...]

    @classmethod
    def of(cls, inode: int, data: bytes) -> UsersRead:
        whole = data[: data.rfind(b"\n") + 1]
        return cls(inode, len(whole), whole[:HEAD], whole[-HEAD:], tuple(_parse(whole)))

    def same_file(self, fd: int, stat: os.stat_result) -> bool:
        return (stat.st_ino == self.inode and stat.st_size >= self.offset
                and os.pread(fd, len(self.head), 0) == self.head
                and os.pread(fd, len(self.tail), self.offset - len(self.tail)) == self.tail)

    def grown(self, fd: int, data: bytes) -> UsersRead:
        """Return this read with the whole lines of ``data`` (what follows ``offset``) added."""
        whole = data[: data.rfind(b"\n") + 1]
        offset = self.offset + len(whole)
        head = self.head if len(self.head) == HEAD else os.pread(fd, min(HEAD, offset), 0)
        return UsersRead(self.inode, offset, head, (self.tail + whole)[-HEAD:], self.entries + tuple(_parse(whole)))


