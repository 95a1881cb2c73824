"""The search and bisection functions on real files, against the rule written plainly (hypothesis).

Blocks are made tiny here so that every boundary case (a line across blocks, a line longer
than a block, a needle whose rare byte turns common) happens in a few lines.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsserver.lines.logline import format_line
from wsserver.lines.query import Query
from wsserver.store.files import scan

from .test_search import reference

TEXTS = st.text(alphabet=st.sampled_from("abzZ \n\tAB\\é-"), min_size=1, max_size=30)


def write(tmp_path: Path, lines: list[str]) -> int:
    path = tmp_path / "channel_x.log"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return os.open(path, os.O_RDONLY)


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(TEXTS, min_size=0, max_size=40), needle=TEXTS, block=st.integers(8, 200),
       anchors=st.integers(1, 4), limit=st.integers(1, 5))
def test_search_backwards_pages_to_exactly_the_matching_lines(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str], needle: str, block: int, anchors: int, limit: int,
) -> None:
    lines = [format_line(f"2026-11-22 10:00:{i % 60:02d}", ("Bob", "Eve")[i % 2], text) for i, text in enumerate(texts)]
    fd = write(tmp_path_factory.mktemp("scan"), lines)
    saved = scan.SCAN_BLOCK, scan.ANCHOR_LIMIT
    scan.SCAN_BLOCK, scan.ANCHOR_LIMIT = block, anchors
    try:
        found: list[str] = []
        end: int | None = os.fstat(fd).st_size
        while end:
            result = scan.search_backwards(fd, end, Query(needle), limit, time.monotonic() + 60)
            assert not result.partial and len(result.hits) <= limit
            for raw, after in result.hits:
                line = raw.decode()
                assert os.pread(fd, len(raw) + 1, after - len(raw) - 1) == raw + b"\n"
                found.append(line)
            end = result.resume
        assert found == reference(lines, needle)
    finally:
        scan.SCAN_BLOCK, scan.ANCHOR_LIMIT = saved
        os.close(fd)


def test_a_deadline_cuts_a_scan_after_one_block_and_it_goes_on(tmp_path: Path) -> None:
    lines = [format_line("2026-11-22 10:00:00", "Bob", "zebra" if i == 3 else f"hay {i}") for i in range(400)]
    fd = write(tmp_path, lines)
    saved = scan.SCAN_BLOCK
    scan.SCAN_BLOCK = 1024
    try:
        end: int | None = os.fstat(fd).st_size
        rounds, hits = 0, []
        while end:
            result = scan.search_backwards(fd, end, Query("ZEBRA"), 10, 0.0)  # the deadline has passed
            rounds += 1
            assert result.scanned <= 2 * 1024 and (result.partial or result.resume is None)
            hits += [raw.decode() for raw, _ in result.hits]
            end = result.resume
        assert hits == [lines[3]] and rounds >= os.fstat(fd).st_size // 1024
    finally:
        scan.SCAN_BLOCK = saved
        os.close(fd)


@given(stamps=st.lists(st.integers(0, 59), min_size=0, max_size=60).map(sorted), wanted=st.integers(-1, 61))
@settings(max_examples=150, deadline=None)
def test_find_time_finds_the_first_line_at_or_after(
    tmp_path_factory: pytest.TempPathFactory, stamps: list[int], wanted: int
) -> None:
    lines = [format_line(f"2026-11-22 10:{s:02d}:00", "Bob", "x" * (s * 7 % 50)) for s in stamps]
    fd = write(tmp_path_factory.mktemp("time"), lines)
    try:
        end = os.fstat(fd).st_size
        stamp = "2026-11-22 09:59:59" if wanted < 0 else f"2026-11-22 10:{min(wanted, 59):02d}:{0 if wanted < 60 else 1:02d}"
        offset = scan.find_time(fd, end, stamp)
        index = next((i for i, s in enumerate(lines) if s[1:20] >= stamp), len(lines))
        assert offset == sum(len(line.encode()) + 1 for line in lines[:index])
    finally:
        os.close(fd)


@settings(max_examples=150, deadline=None)
@given(marked=st.lists(st.tuples(st.booleans(), st.integers(0, 40)), min_size=0, max_size=40),
       block=st.integers(4, 120))
def test_scan_marked_finds_each_marked_line_and_the_one_after(
    tmp_path_factory: pytest.TempPathFactory, marked: list[tuple[bool, int]], block: int,
) -> None:
    """Every line holding a marker, and the line after each, once each, in order, whatever the block size."""
    lines = [("x" * length) + (("#M#" if length % 2 else "#N#") if mark else "") for mark, length in marked]
    fd = write(tmp_path_factory.mktemp("marked"), lines)
    ends, offset = [], 0
    for line in lines:
        offset += len(line) + 1
        ends.append(offset)
    def hit(line: str) -> bool:
        return "#M#" in line or "#N#" in line

    expected = [(line.encode(), ends[i]) for i, line in enumerate(lines) if hit(line) or (i > 0 and hit(lines[i - 1]))]
    saved = scan.SCAN_BLOCK
    scan.SCAN_BLOCK = block
    try:
        assert scan.scan_marked(fd, offset, (b"#M#", b"#N#")) == expected
    finally:
        scan.SCAN_BLOCK = saved
        os.close(fd)
