"""The log grammar of IRC clients' client-only tags: what is kept, how it reads back, what cannot forge it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wsserver.hub.rules import tags_problem
from wsserver.irc.message import client_tags, parse, tags_of
from wsserver.lines.annotation import TAGGED, TAGMSG, parse_annotation, parse_tag_line, tag_line
from wsserver.lines.logline import format_line
from wsserver.protocol import Code

STAMP = "2026-12-06 10:00:00"


def test_only_client_tags_are_kept_and_read_back_as_sent() -> None:
    message = parse(r"@+a=x\sy\:z\\w;b=1;+draft/reply=fe-1;+empty=;+bare;+bad=tab" "\there;+ok\\/=no PRIVMSG #c :hi")
    assert message is not None
    kept = client_tags(message.tags)
    assert kept == r"+a=x\sy\:z\\w;+draft/reply=fe-1;+empty;+bare"
    assert tags_of(str(kept)) == {"+a": "x y;z\\w", "+draft/reply": "fe-1", "+empty": "", "+bare": ""}
    assert client_tags(message.tags, ("+draft/reply", "+a", "+empty", "+bare")) is None
    assert tags_problem(kept) is None
    for bad in ("+a=x y", "a=1", r"+a=x\;y", "+a=" + "x" * 4094, "+a=1;", "+a\n"):
        assert tags_problem(bad) == tags_problem("a=1") and tags_problem(bad) is not None
    assert tags_problem("a=1").code is Code.INVALID_FORMAT  # type: ignore[union-attr]


def test_the_three_tag_lines_and_where_each_belongs() -> None:
    tagged = tag_line(STAMP, "Erin", "+a=1")
    channel = tag_line(STAMP, "Erin", "+b", alone=True)
    person = tag_line(STAMP, "Erin", "+c", "Bob", alone=True)
    assert (tagged, channel, person) == (f"[{STAMP}] Erin tagged the next line: +a=1",
                                         f"[{STAMP}] Erin sent tags to the channel: +b",
                                         f"[{STAMP}] Erin sent tags to Bob: +c")
    assert [parse_annotation(line).kind for line in (tagged, channel)] == [TAGGED, TAGMSG]  # type: ignore[union-attr]
    assert parse_annotation(person) is None, "a TAGMSG to a person is no line of a channel log"
    assert parse_tag_line(channel, True) is None, "nor one to the channel of a private log"
    found = parse_tag_line(person, True)
    assert found is not None and (found.handle, found.author, found.text) == ("Erin", "Bob", "+c")


@given(st.text())
def test_no_chat_text_reads_as_a_tag_line(text: str) -> None:
    for line in (format_line(STAMP, "Mallory", text), format_line(STAMP, "Mallory", text, "Bob")):
        assert parse_tag_line(line) is None and parse_tag_line(line, True) is None
