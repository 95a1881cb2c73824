"""One channel's append-only log file: append a line, read lines back, name positions.

Appends are a single ``write(2)`` on a descriptor opened with ``O_APPEND``, so
lines written by several processes on the same data dir never interleave.
Reads are plain functions over a descriptor and a byte range; the caller runs
them in a thread so the event loop never waits on the disk.  Reading the last
lines goes backwards from a byte offset in fixed blocks: its cost depends on
the lines asked for, not on the size of the file.

A *cursor* names the position just after a line: the file's identity
(device and inode) and a byte offset, as ``"<dev>-<ino>-<offset>"`` in hex,
hex and decimal.  Only this store parses it; clients treat it as opaque.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import re
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

from ..base import AppendError, Lines
from . import moved
from .durable import Flusher

log = logging.getLogger(__name__)

BLOCK = 64 * 1024
_CURSOR_RE = re.compile(r"^([0-9a-f]{1,16})-([0-9a-f]{1,16})-([0-9]{1,20})$")


@dataclass(frozen=True)
class Cursor:
    """A position just after a whole line of one particular file."""

    identity: tuple[int, int]
    offset: int

    def __str__(self) -> str:
        return f"{self.identity[0]:x}-{self.identity[1]:x}-{self.offset}"

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """Return the cursor ``text`` names, or ``None`` if it is not one."""
        match = _CURSOR_RE.match(text)
        if match is None:
            return None
        # A cursor of a log before a restore names the same offset of that log now (moved.py).
        return cls(moved.current((int(match.group(1), 16), int(match.group(2), 16))), int(match.group(3)))


def file_lines(file: tuple[int, int], start: int, data: bytes) -> Lines:
    """Return the whole lines ``data`` (no last newline) of ``file`` from byte ``start``, with their cursors."""
    ends = []
    offset = start
    if data:
        for line in data.split(b"\n"):
            offset += len(line) + 1
            ends.append(str(Cursor(file, offset)))
    return Lines(data, str(Cursor(file, start)), str(Cursor(file, offset)), tuple(ends))


def identity(stat: os.stat_result) -> tuple[int, int]:
    """Return what tells one file apart from a replacement at the same path."""
    return (stat.st_dev, stat.st_ino)


def log_path(data_dir: Path, channel: str) -> Path:
    """Return the log file of ``channel``; the name is checked by the caller."""
    return data_dir / f"channel_{channel}.log"


def private_path(data_dir: Path, channel: str) -> Path:
    """Return the log of private lines of ``channel``."""
    return data_dir / f"private_{channel}.log"


class ChannelLog:
    """The writing end of one channel log."""

    def __init__(self, path: Path, flusher: Flusher | None = None) -> None:
        self.path = path
        self._fd: int | None = None
        self.identity = (0, 0)  # of the file appended to (its cursors name it)
        self._block = 0  # the file system's block size: room in the last block needs no reserving
        self.flusher = flusher or Flusher("off")

    @property
    def fd(self) -> int | None:
        return self._fd

    def open(self) -> None:
        """Open (creating if needed) the file for appending."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o644)
        status = os.fstat(self._fd)
        self.identity = identity(status)
        self._block = status.st_blksize

    def reopen(self) -> None:
        """Append to whatever file now stands at the path (after a rotation)."""
        old = self._fd
        self.open()
        if old is not None:
            self.flusher.before_close(old)
            os.close(old)

    def close(self) -> None:
        """Close the descriptor; appends fail until :meth:`open`."""
        if self._fd is not None:
            self.flusher.before_close(self._fd)
            os.close(self._fd)
            self._fd = None

    def append(self, line: str) -> int:
        """Write ``line`` and its newline with one ``write(2)``; return the offset after it.

        The line must already be escaped (see :mod:`wsserver.logline`).  Raises
        :class:`AppendError` when the disk refuses it; a partly written line is
        cut off again so no torn line is left behind.
        """
        if self._fd is None:
            raise AppendError(f"{self.path}: log is not open")
        data = line.encode("utf-8") + b"\n"
        try:
            _make_room(self._fd, len(data), self._block)
            written = os.write(self._fd, data)
        except OSError as exc:
            raise AppendError(f"{self.path}: {exc.strerror or exc}") from exc
        if written != len(data):
            # A short write that _make_room could not foresee (another process took the room
            # between the two calls) leaves a torn line.  Cut it, so that it does not stay;
            # a tailer that saw it meanwhile drops it (see Tailer.catch_up).
            end = os.fstat(self._fd).st_size
            try:
                os.ftruncate(self._fd, end - written)
            except OSError:
                log.exception("could not cut a torn line from %s", self.path)
            raise AppendError(f"{self.path}: short write (disk full?)")
        # O_APPEND put the write at the end and left this descriptor's offset after it (appends of
        # this process are made one at a time, on the event loop).
        return os.lseek(self._fd, 0, os.SEEK_CUR)


_KEEP_SIZE = 1  # FALLOC_FL_KEEP_SIZE: reserve blocks without changing the file's size
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
if _libc is not None:
    _libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]


def _make_room(fd: int, size: int, block: int) -> None:
    """Make sure ``size`` more bytes can be appended to ``fd`` whole; raise OSError (nothing written) if not.

    A write that runs out of room half way leaves a torn line that ``tail -f`` or
    ``grep`` would show before it is cut again.  So the file size limit
    (RLIMIT_FSIZE) is checked, and the disk blocks are reserved (``fallocate`` with
    KEEP_SIZE: no byte of the file changes) before the one ``write(2)``, unless the
    line fits in what is left of the file's last block (of ``block`` bytes), which
    the file already has: most lines (py-spy: ``fallocate`` for each line was 9 % of
    a worker in a join storm of 20,000).
    """
    end = os.lseek(fd, 0, os.SEEK_END)
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY and end + size > limit:
        raise OSError(errno.EFBIG, "file size limit reached")
    if block > 0 and end % block and end % block + size <= block:
        return  # the last block is the file's (written to, so allocated): the line fits in it
    if _libc is not None and _libc.fallocate(fd, _KEEP_SIZE, end, size) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):  # a file system that cannot reserve
            raise OSError(code, os.strerror(code))


def read_last_lines(fd: int, end: int, count: int) -> tuple[list[bytes], int]:
    """Return up to ``count`` whole lines ending at byte ``end``, and the offset of the first.

    ``end`` must be just after a newline (or 0).  Reads backwards in blocks of
    :data:`BLOCK` bytes, so the cost does not grow with the size of the file.
    """
    if count <= 0 or end <= 0:
        return [], end
    chunks: list[bytes] = []
    position = end
    newlines = 0
    # The byte at end-1 is the last line's own newline: count+1 newlines
    # (or the start of the file) bound `count` whole lines.
    while position > 0 and newlines <= count:
        size = min(BLOCK, position)
        position -= size
        chunk = os.pread(fd, size, position)
        if len(chunk) != size:
            raise OSError(errno.EIO, "file shrank while reading", "")
        chunks.append(chunk)
        newlines += chunk.count(b"\n")
    lines = b"".join(reversed(chunks)).split(b"\n")[:-1]
    if position > 0:
        # The first piece may be the tail of a line that starts earlier.
        lines = lines[1:]
    lines = lines[-count:]
    return lines, end - sum(len(line) + 1 for line in lines)


def at_line_start(fd: int, offset: int) -> bool:
    """Return whether ``offset`` is the start of a line (just after a newline, or 0)."""
    return offset == 0 or os.pread(fd, 1, offset - 1) == b"\n"


def read_lines_between(fd: int, start: int, end: int, batch: int = BLOCK) -> list[tuple[bytes, int]]:
    """Return the whole lines from ``start`` to ``end`` in batches of about ``batch`` bytes.

    Each item is the batch's lines (without the last newline) and the offset
    just after them.  Both offsets must be line starts.
    """
    batches: list[tuple[bytes, int]] = []
    position = start  # next byte to read
    pending = b""  # bytes read after the last batch's final newline
    while position < end:
        data = os.pread(fd, min(batch, end - position), position)
        if not data:
            raise OSError(errno.EIO, "file shrank while reading", "")
        position += len(data)
        pending += data
        cut = pending.rfind(b"\n")
        if cut >= 0:
            batches.append((pending[:cut], position - (len(pending) - cut - 1)))
            pending = pending[cut + 1 :]
    return batches


def repair_torn_tail(path: Path) -> int:
    """Cut an unterminated last line left by a crash; return the bytes removed.

    Only whole lines were ever accepted: a line without its newline is the
    remains of a write that was cut short, never something a client was told
    was saved.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0
    try:
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return 0
        position = size
        while position > 0:
            start = max(0, position - BLOCK)
            chunk = os.pread(fd, position - start, start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            position = start
        else:
            keep = 0
        os.ftruncate(fd, keep)
        return size - keep
    finally:
        os.close(fd)
