"""The tailer in one process: whole lines only, each once, through rotation and truncation."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from wsserver.store.files.channellog import ChannelLog, Cursor
from wsserver.store.files.tailer import READ_SIZE, Tailer


class Collect:
    def __init__(self) -> None:
        self.batches: list[bytes] = []
        self.cursors: list[Cursor] = []

    def __call__(self, data: bytes, cursor: Cursor) -> None:
        self.batches.append(data)
        self.cursors.append(cursor)

    @property
    def lines(self) -> list[bytes]:
        return b"".join(self.batches).split(b"\n")[:-1]


async def test_partial_line_waits_for_its_newline(tmp_path: Path, follow: Any) -> None:
    """A line is delivered only when its newline is in the file, and whole."""
    path = tmp_path / "channel_a.log"
    path.write_bytes(b"old\n")
    _, got, tailer = follow(path)
    with path.open("ab", buffering=0) as out:
        out.write(b"first ha")
        await tailer.catch_up()
        assert got.batches == []
        out.write(b"lf\nsecond\nthi")
        await tailer.catch_up()
        assert got.lines == [b"first half", b"second"]
        out.write(b"rd\n")
        await tailer.catch_up()
    assert got.lines == [b"first half", b"second", b"third"]
    assert got.cursors[-1].offset == path.stat().st_size


async def test_an_incomplete_line_cut_off_and_written_over_is_dropped(tmp_path: Path, follow: Any) -> None:
    """A torn line a writer cut off again is never glued to the line written in its place."""
    path = tmp_path / "channel_a.log"
    path.write_bytes(b"old\n")
    _, got, tailer = follow(path)
    with path.open("ab", buffering=0) as out:
        out.write(b"torn li")
        await tailer.catch_up()
        assert got.batches == []  # kept until its newline comes
        os.truncate(path, 4)  # the writer cuts it off, and the next line lands where it began
        out.write(b"the next line\n")
        await tailer.catch_up()
    assert got.lines == [b"the next line"]
    assert got.cursors[-1].offset == path.stat().st_size


async def test_a_torn_start_is_skipped(tmp_path: Path, follow: Any) -> None:
    """Started while a line is half written, the tailer begins after the last whole line."""
    path = tmp_path / "channel_a.log"
    path.write_bytes(b"old\nhalf")
    _, got, tailer = follow(path)
    with path.open("ab") as out:
        out.write(b" done\nnext\n")
    await tailer.catch_up()
    assert got.lines == [b"half done", b"next"]


async def test_big_backlog_comes_in_bounded_batches(tmp_path: Path, follow: Any) -> None:
    """A backlog larger than one read is delivered whole, in batches of about READ_SIZE bytes."""
    path = tmp_path / "channel_a.log"
    path.write_bytes(b"")
    _, got, tailer = follow(path)
    lines = [f"line {i} ".encode() + b"z" * 90 for i in range(5000)]
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    await tailer.catch_up()
    assert got.lines == lines
    assert max(len(batch) for batch in got.batches) <= READ_SIZE + len(lines[-1]) + 1  # plus a line split by a read


@pytest.fixture
async def follow() -> AsyncIterator[Callable[[Path], tuple[ChannelLog, Collect, Tailer]]]:
    """Open a writer and a tailer on a path, wired as a channel wires them; both closed after the test."""
    opened: list[tuple[ChannelLog, Tailer]] = []

    def start(path: Path) -> tuple[ChannelLog, Collect, Tailer]:
        log = ChannelLog(path)
        log.open()
        got = Collect()
        tailer = Tailer(path, got, on_replaced=log.reopen)
        tailer.start()
        opened.append((log, tailer))
        return log, got, tailer

    yield start
    for log, tailer in opened:
        log.close()
        await tailer.stop()


async def test_rename_rotation_loses_and_repeats_nothing(tmp_path: Path, follow: Any) -> None:
    """Lines written before and after a rename-and-create rotation are each delivered once."""
    path = tmp_path / "channel_a.log"
    log, got, tailer = follow(path)
    log.append("one")
    await tailer.catch_up()
    os.rename(path, tmp_path / "channel_a.log.1")
    log.append("two")  # still lands in the renamed file
    path.write_bytes(b"")  # the rotation's "create"
    await tailer.catch_up()
    log.append("three")  # the writer has moved to the new file
    await tailer.catch_up()
    assert got.lines == [b"one", b"two", b"three"]
    assert path.read_bytes() == b"three\n"


async def test_truncation_restarts_from_the_start(tmp_path: Path, follow: Any) -> None:
    """After copytruncate, lines written to the emptied file are delivered."""
    path = tmp_path / "channel_a.log"
    log, got, tailer = follow(path)
    log.append("before")
    await tailer.catch_up()
    os.truncate(path, 0)
    log.append("after")
    await tailer.catch_up()
    assert got.lines == [b"before", b"after"]


async def test_truncation_noticed_even_after_regrowth(tmp_path: Path, follow: Any) -> None:
    """A file truncated and grown past the old offset before the tailer looks is still followed from 0."""
    path = tmp_path / "channel_a.log"
    log, got, tailer = follow(path)
    log.append("a first line")
    await tailer.catch_up()
    os.truncate(path, 0)
    for word in ("fresh", "lines", "longer", "than", "before"):
        log.append(word)
    await tailer.catch_up()
    assert got.lines == [b"a first line", b"fresh", b"lines", b"longer", b"than", b"before"]
