"""Reading a channel log back: the last lines without scanning, cursors, torn lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsserver.errors import AppendError
from wsserver.store.files import channellog
from wsserver.store.files.channellog import ChannelLog, Cursor, read_last_lines, repair_torn_tail

from .support import REPO


def last_lines(path: Path, count: int) -> tuple[list[bytes], int]:
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_last_lines(fd, os.fstat(fd).st_size, count)
    finally:
        os.close(fd)


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=60), st.integers(0, 70),
       st.integers(3, 64))
def test_last_lines_match_a_naive_read(tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], count: int,
                                        block: int) -> None:
    """The backwards read returns what splitting the whole file would, whatever the block size."""
    path = tmp_path_factory.mktemp("log") / "channel_x.log"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    original = channellog.BLOCK
    channellog.BLOCK = block
    try:
        got, start = last_lines(path, count)
    finally:
        channellog.BLOCK = original
    expected = lines[-count:] if count else []
    assert got == expected
    assert start == path.stat().st_size - sum(len(line) + 1 for line in expected)


def test_history_from_a_large_file_reads_only_its_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the last 100 lines of a 200 MB log reads a few blocks, not the file."""
    path = tmp_path / "channel_big.log"
    line = b"[2026-11-22 14:07:03] Alice: " + b"x" * 70 + b"\n"
    with path.open("wb") as out:
        out.write(line * (200 * 1024 * 1024 // len(line)))
        out.write(b"[2026-11-22 14:07:04] Bob: the end\n")
    read = 0
    real_pread = os.pread

    def counting_pread(fd: int, size: int, offset: int) -> bytes:
        nonlocal read
        read += size
        return real_pread(fd, size, offset)

    monkeypatch.setattr(channellog.os, "pread", counting_pread)
    got, _ = last_lines(path, 100)
    assert len(got) == 100 and got[-1] == b"[2026-11-22 14:07:04] Bob: the end"
    assert read <= 2 * channellog.BLOCK


def test_cursor_round_trip() -> None:
    """A cursor prints and parses back; garbage parses to None."""
    cursor = Cursor((0xFE00, 0x20C39A), 1234)
    assert str(cursor) == "fe00-20c39a-1234"
    assert Cursor.parse(str(cursor)) == cursor
    for garbage in ("", "x", "1-2", "1-2-x", "g-1-2", "1-2-3-4", "-1-2"):
        assert Cursor.parse(garbage) is None


def test_append_is_one_line_per_call(tmp_path: Path) -> None:
    """append writes the line and its newline, appending after what is there."""
    path = tmp_path / "channel_a.log"
    path.write_text("[2026-11-22 14:07:03] Op: first\n")
    log = ChannelLog(path)
    log.open()
    log.append("[2026-11-22 14:07:04] Alice: é")
    log.close()
    assert path.read_bytes() == "[2026-11-22 14:07:03] Op: first\n[2026-11-22 14:07:04] Alice: é\n".encode()


@pytest.mark.parametrize(
    ("content", "kept"),
    [(b"", b""), (b"a\n", b"a\n"), (b"a\nb", b"a\n"), (b"torn", b""), (b"a\n" + b"b" * 200_000, b"a\n")],
)
def test_repair_torn_tail(tmp_path: Path, content: bytes, kept: bytes) -> None:
    """Only an unterminated last line is cut."""
    path = tmp_path / "channel_t.log"
    path.write_bytes(content)
    assert repair_torn_tail(path) == len(content) - len(kept)
    assert path.read_bytes() == kept


def test_a_line_that_does_not_fit_is_never_written_in_part(tmp_path: Path) -> None:
    """Past the file size limit (as on a full disk) the append is refused before any byte is written."""
    probe = f"""
import os, resource, signal, sys
sys.path.insert(0, {str(REPO)!r})
from wsserver.store.files.channellog import ChannelLog
from wsserver.errors import AppendError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))
log = ChannelLog(__import__("pathlib").Path(sys.argv[1]))
log.open()
log.append("x" * 40)
writes = []
real_write = os.write
os.write = lambda fd, data: writes.append(data) or real_write(fd, data)
try:
    log.append("y" * 40)
except AppendError as exc:
    print("refused:", exc.args[0].split(": ", 1)[1], "writes:", len(writes))
"""
    path = tmp_path / "channel_a.log"
    result = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=30)
    assert result.stdout == "refused: file size limit reached writes: 0\n", result.stderr
    assert path.read_bytes() == b"x" * 40 + b"\n"


def test_a_full_disk_leaves_whole_lines_only(full_disk: Path) -> None:
    """On a disk that fills up for real, lines that fit in the last block and lines that need a new one alike:
    each append is whole or refused, and the file holds exactly the accepted lines."""
    log = ChannelLog(full_disk / "channel_full.log")
    log.open()
    accepted: list[bytes] = []
    for number in range(100_000):
        line = f"[2026-12-06 12:00:00] Alice: {number} " + "x" * (number * 37 % 300)
        try:
            log.append(line)
        except AppendError as exc:
            assert "No space left on device" in str(exc)
            break
        accepted.append(line.encode() + b"\n")
    else:
        pytest.fail("a 1 MiB disk never filled up")
    assert len(accepted) > 1000
    assert (full_disk / "channel_full.log").read_bytes() == b"".join(accepted)
    log.close()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(alphabet="ab é\\", max_size=12), min_size=0, max_size=40), st.data())
def test_recent_lines_in_memory_give_what_the_file_gives(tmp_path_factory: Any, texts: list[str], data: Any) -> None:
    """The backlog from the lines kept in memory is the file's own backlog: same lines, same cursors."""
    from wsserver.store.files import feed

    path = tmp_path_factory.mktemp("recent") / "channel_a.log"
    raw = b"".join(text.encode() + b"\n" for text in texts)
    path.write_bytes(raw)
    fd = os.open(path, os.O_RDONLY)
    try:
        file = channellog.identity(os.fstat(fd))
        recent = feed.Recent()
        recent.reset(Cursor(file, 0))
        offset = 0
        lines = raw.split(b"\n")[:-1]
        while lines:  # read back in batches of random sizes, as a tailer does
            take = data.draw(st.integers(1, len(lines)))
            batch, lines = lines[:take], lines[take:]
            body = b"\n".join(batch)
            recent.add(file, offset, channellog.file_lines(file, offset, body))
            offset += len(body) + 1
        cursor = Cursor(file, len(raw))
        starts = [0, *[i + 1 for i, byte in enumerate(raw) if byte == 0x0A]]
        since = data.draw(st.one_of(st.none(), st.sampled_from([str(Cursor(file, s)) for s in starts]),
                                    st.integers(0, len(raw)).map(lambda o: str(Cursor(file, o)))))
        history = data.draw(st.integers(0, 50))
        kept = recent.backlog(cursor, history, since)
        if kept is None:
            # Left to the file: a cursor that is not a line start, or a log with an empty line in it.
            assert "" in texts or (since is not None and since not in [str(Cursor(file, s)) for s in starts])
            return
        read = feed._backlog(fd, cursor, history, since)
        assert kept.recovered == read.recovered
        assert [line for lines in kept.batches for line in lines.split()] == [
            line for lines in read.batches for line in lines.split()]
        if kept.batches and read.batches:
            assert kept.batches[0].start == read.batches[0].start and kept.batches[-1].end == read.batches[-1].end
    finally:
        os.close(fd)
