"""The log line format: escaping round-trips exactly and never yields a line break or control character."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsserver.app.frames import parse_client_frame
from wsserver.errors import BadFrame
from wsserver.lines.logline import EscapeError, escape, format_line, parse_line, unescape

FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
handles = st.from_regex(r"[A-Za-z0-9_]{3,16}", fullmatch=True)


@given(st.text())
def test_escape_round_trips(text: str) -> None:
    """unescape(escape(t)) == t for every string, surrogates included."""
    assert unescape(escape(text)) == text


@given(st.text())
def test_escaped_text_has_no_line_break_or_control(text: str) -> None:
    """Escaped text holds no control character, line separator or surrogate, and encodes as UTF-8."""
    escaped = escape(text)
    assert not FORBIDDEN.search(escaped)
    assert len(escaped.encode("utf-8").split(b"\n")) == 1


@given(handles, st.text())
def test_line_parses_back(handle: str, text: str) -> None:
    """A formatted line parses back to the same handle and text."""
    parsed = parse_line(format_line("2026-11-22 14:07:03", handle, text))
    assert parsed is not None
    assert (parsed.stamp, parsed.handle, parsed.text, parsed.to) == ("2026-11-22 14:07:03", handle, text, None)


def test_known_escapes() -> None:
    """The documented escapes, byte for byte."""
    assert escape("a\nb\rc\td\\e\x00f\x1b\u2028") == "a\\nb\\rc\\td\\\\e\\u0000f\\u001b\\u2028"
    assert format_line("2026-11-22 14:07:03", "Alice", "hi\nthere") == "[2026-11-22 14:07:03] Alice: hi\\nthere"


def test_unknown_escape_is_an_error() -> None:
    """A backslash sequence escaping never writes is reported."""
    with pytest.raises(EscapeError, match=r"unknown escape sequence \\q"):
        unescape("bad \\q")


def test_non_log_lines_do_not_parse() -> None:
    """Text that is not in the log format gives None."""
    assert parse_line("hello") is None
    assert parse_line("[2026-11-22] Alice: x") is None


@given(st.binary(max_size=300))
def test_frame_parser_never_raises_on_bytes(data: bytes) -> None:
    """Arbitrary input only ever yields a request or BadFrame."""
    try:
        parse_client_frame(data.decode("utf-8", errors="surrogateescape"))
    except BadFrame:
        pass


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20))
def test_frame_parser_never_raises_on_json(value: object) -> None:
    """Any JSON value yields a request or BadFrame."""
    import json

    try:
        parse_client_frame(json.dumps(value))
    except BadFrame:
        pass


@given(st.text(max_size=20), st.lists(st.text(max_size=20), max_size=10), st.from_regex(r"\A[0-9]+\.[0-9a-f]{16}\Z"))
def test_presence_frame_spliced_from_json_is_the_event_frame(channel: str, users: list[str], version: str) -> None:
    """The cheap presence frame (handles encoded once, then spliced) is exactly the general event frame."""
    import json

    from wsserver.protocol import event_frame, presence_frame_ends

    head, tail = presence_frame_ends(channel, version)
    spliced = head + ", ".join(json.dumps(user, ensure_ascii=False) for user in users) + tail
    assert spliced == event_frame("presence", {"channel": channel, "users": users, "version": version})
