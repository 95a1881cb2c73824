"""Reactions, replies and threads, edits: lines of the channel log that point at earlier lines, on both stores."""

from __future__ import annotations

import re
from typing import Any

from wsserver import protocol

from .support import Client, joined, run_cli, seed_log, two_processes
from .support.browser import ChatStore

STAMP = r"\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\]"


async def said(client: Client, *texts: str) -> list[str]:
    """``client`` says ``texts``; return the cursor of each, as it read them back."""
    cursors = []
    for text in texts:
        await client.chat(text)
        while True:
            data = (await client.frame())["data"]
            found = [c for line, c in zip(data["message"].split("\n"), data["cursors"], strict=True)
                     if line.endswith(f": {text}")]
            if found:
                cursors.append(found[0])
                break
    return cursors


async def pair(server: Any, connect: Any) -> tuple[Client, Client]:
    """Alice and Bob in general, each having seen the other arrive."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await alice.users_become(["Alice", "Bob"])
    return alice, bob


async def until_event(client: Client, name: str, predicate: Any) -> dict[str, Any]:
    """Return the data of the first event ``name`` (set aside or to come) whose data ``predicate`` accepts."""
    while True:
        data = (await client.event(name))["data"]
        if predicate(data):
            return data


async def history(client: Client, **request: Any) -> dict[str, Any]:
    await client.send({"type": "history", **request})
    return (await client.event("history"))["data"]


async def test_reactions_are_lines_of_the_log_told_live_and_in_history(chat_store: ChatStore, connect: Any) -> None:
    """React, react again (nothing), another reacts, take back: events with the whole set, log lines, history maps."""
    server = await chat_store.start("--rate-limit", "0")
    alice, bob = await pair(server, connect)
    [hello] = await said(alice, "hello")
    await bob.send({"type": "react", "cursor": hello, "emoji": "👍"})
    expected = {"channel": "general", "cursor": hello, "reactions": {"👍": ["Bob"]}}
    assert (await alice.event("reactions"))["data"] == expected
    assert (await bob.event("reactions"))["data"] == expected
    await bob.send({"type": "react", "cursor": hello, "emoji": "👍"})  # again: nothing written
    await alice.send({"type": "react", "cursor": hello, "emoji": "🎉"})
    assert (await bob.event("reactions"))["data"]["reactions"] == {"👍": ["Bob"], "🎉": ["Alice"]}
    await alice.send({"type": "react", "cursor": hello, "emoji": "👍"})
    assert (await bob.event("reactions"))["data"]["reactions"] == {"👍": ["Bob", "Alice"], "🎉": ["Alice"]}
    await bob.send({"type": "react", "cursor": hello, "emoji": "👍", "remove": True})
    await alice.event("reactions", reactions={"👍": ["Alice"], "🎉": ["Alice"]})
    assert [e["data"]["reactions"] for e in alice.events if e["event"] == "reactions"] == [
        {"👍": ["Bob"], "🎉": ["Alice"]}, {"👍": ["Bob", "Alice"], "🎉": ["Alice"]}], "one event for each change"

    lines = chat_store.lines("general")
    said_at = re.match(STAMP, lines[-5]).group()[1:-1]  # type: ignore[union-attr]
    annotations = [line for line in lines if "'s line of" in line]
    ref = r"#[0-9]+(?:-[0-9]+)?"
    assert [re.sub(rf"^{STAMP} ", "", re.sub(ref, "#REF", line)) for line in annotations] == [
        f"Bob reacted 👍 to Alice's line of {said_at} #REF",
        f"Alice reacted 🎉 to Alice's line of {said_at} #REF",
        f"Alice reacted 👍 to Alice's line of {said_at} #REF",
        f"Bob took back 👍 from Alice's line of {said_at} #REF",
    ], "one line each, the second 👍 of Bob not written"
    assert not any("reacted" in line or "took back" in line for line in alice.lines), "annotation lines are not sent"

    page = await history(bob, limit=10)
    shown = page["message"].split("\n")
    assert shown[-1].endswith("Alice: hello") and not any("reacted" in line for line in shown)
    assert page["reactions"] == {str(len(shown) - 1): {"👍": ["Alice"], "🎉": ["Alice"]}}


async def test_reaction_refusals_name_the_problem(chat_store: ChatStore, connect: Any) -> None:
    """Not one emoji, not a cursor, a System line, a garbage cursor, a 21st emoji: each its sentence, nothing written."""
    server = await chat_store.start("--rate-limit", "0")
    alice, bob = await pair(server, connect)
    [hello] = await said(alice, "hello")
    system = next(c for line, c in zip((await history(bob))["message"].split("\n"),
                                       (await history(bob))["cursors"], strict=True) if "System:" in line)
    for request, sentence in [
        ({"cursor": hello, "emoji": "a"}, protocol.Code.BAD_EMOJI.sentence),
        ({"cursor": hello, "emoji": "👍👍"}, protocol.Code.BAD_EMOJI.sentence),
        ({"cursor": hello}, protocol.Code.BAD_EMOJI.sentence),
        ({"cursor": hello, "emoji": 5}, protocol.Code.BAD_EMOJI.sentence),
        ({"cursor": 5, "emoji": "👍"}, protocol.Code.BAD_REACT.sentence),
        ({"cursor": system, "emoji": "👍"}, protocol.Code.BAD_AROUND.sentence),
        ({"cursor": "nonsense", "emoji": "👍"}, protocol.Code.BAD_AROUND.sentence),
    ]:
        await bob.send({"type": "react", **request})
        assert await bob.refusal() == {"success": False, "message": sentence}, request
    for flag in ["🇫🇷", "👍🏽", "👨‍👩‍👧", "1️⃣", "❤️"]:  # flags, skin tones, ZWJ sequences, keycaps: one emoji each
        await bob.send({"type": "react", "cursor": hello, "emoji": flag})
        await bob.event("reactions")
    many = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰"]
    for emoji in many:
        await bob.send({"type": "react", "cursor": hello, "emoji": emoji})
        await bob.event("reactions")
    written = len(chat_store.lines("general"))
    await alice.send({"type": "react", "cursor": hello, "emoji": "🚀"})
    assert await alice.refusal() == {"success": False, "message": protocol.Refused.of(protocol.Code.TOO_MANY_REACTIONS, limit=protocol.REACTIONS_MOST).sentence}
    await alice.send({"type": "react", "cursor": hello, "emoji": "😀"})  # one of the 20: fine
    await until_event(alice, "reactions", lambda data: data["reactions"].get("😀") == ["Bob", "Alice"])
    assert len(chat_store.lines("general")) == written + 1
    assert protocol.Refused.of(protocol.Code.TOO_MANY_REACTIONS, limit=protocol.REACTIONS_MOST).sentence == "That line has too many different reactions (limit 20)"


async def test_edits_replace_the_text_of_ones_own_recent_lines(chat_store: ChatStore, connect: Any) -> None:
    """An edit: an event, the new text in history; others' lines and bad requests refused with their sentences."""
    server = await chat_store.start("--rate-limit", "0")
    alice, bob = await pair(server, connect)
    [typo] = await said(alice, "helo wrld")
    await alice.send({"type": "edit", "cursor": typo, "message": "hello\nworld"})
    expected = {"channel": "general", "cursor": typo, "message": "hello\\nworld"}
    assert (await bob.event("edited"))["data"] == expected, "the new text escaped as in the log"
    assert chat_store.lines("general")[-1].endswith("Alice edited Alice's line of "
                                                    + chat_store.lines("general")[-2][1:20]
                                                    + " #" + chat_store.lines("general")[-1].split(" #")[1])
    page = await history(bob, limit=5)
    index = page["cursors"].index(typo)
    assert page["message"].split("\n")[index].endswith("Alice: helo wrld"), "the line as written stays"
    assert page["edited"] == {str(index): "hello\\nworld"}
    for request, sentence in [
        ({"cursor": typo, "message": "mine now"}, protocol.Code.NOT_YOURS_TO_EDIT.sentence),
        ({"cursor": typo, "message": 5}, protocol.Code.BAD_EDIT.sentence),
        ({"cursor": typo}, protocol.Code.BAD_EDIT.sentence),
        ({"cursor": typo, "message": "  "}, protocol.Code.EMPTY_MESSAGE.sentence),
        ({"cursor": None, "message": "x"}, protocol.Code.BAD_EDIT_CURSOR.sentence),
        ({"cursor": "nonsense", "message": "x"}, protocol.Code.BAD_AROUND.sentence),
    ]:
        await bob.send({"type": "edit", **request})
        assert await bob.refusal() == {"success": False, "message": sentence}, request
    assert protocol.Code.NOT_YOURS_TO_EDIT.sentence == "You may only edit your own lines, within 24 hours of sending them"


async def test_an_edit_after_24_hours_is_refused(start_server: Any, connect: Any, tmp_path: Any) -> None:
    """A line of one's own sent a day and a minute ago cannot be edited."""
    data = tmp_path / "data"
    seed_log(data, "general", ["[2020-01-01 10:00:00] Alice: old news"])
    server = await start_server("--rate-limit", "0", data_dir=data)
    alice = await joined(await connect(server, "Alice"), "Alice")
    page = await history(alice)
    old = page["cursors"][0]
    await alice.send({"type": "edit", "cursor": old, "message": "new news"})
    assert await alice.refusal() == {"success": False, "message": protocol.Code.NOT_YOURS_TO_EDIT.sentence}


async def test_replies_make_threads_at_the_root(chat_store: ChatStore, connect: Any) -> None:
    """A reply is a chat line with reply_to; a reply to a reply joins the root's thread; thread pages in order."""
    server = await chat_store.start("--rate-limit", "0")
    alice, bob = await pair(server, connect)
    [root] = await said(alice, "deploy at 5?")
    await bob.send({"type": "chat", "message": "yes", "reply_to": root})
    frame = (await alice.until_line_frame("Bob: yes"))
    first = frame["cursors"][-1]
    assert frame["reply_to"] == {str(len(frame["cursors"]) - 1): root}
    assert not any("replied to" in line for line in frame["message"].split("\n"))
    assert (await alice.event("thread"))["data"] == {"channel": "general", "cursor": root, "replies": 1,
                                                       "last": first}
    await alice.send({"type": "chat", "message": "great", "reply_to": first})  # a reply to the reply
    second = (await bob.until_line_frame("Alice: great"))["cursors"][-1]
    await until_event(bob, "thread", lambda data: data == {"channel": "general", "cursor": root, "replies": 2,
                                                           "last": second})
    lines = chat_store.lines("general")
    assert re.fullmatch(rf"{STAMP} Alice replied to Bob's line of [0-9 :-]+ #[0-9-]+ with the next line", lines[-2])
    assert re.fullmatch(rf"{STAMP} Alice: great", lines[-1]), "the reply is an ordinary chat line after its link"

    await bob.send({"type": "thread", "cursor": first})  # any line of the thread: the root's thread
    thread = (await bob.event("thread", root=root))["data"]
    assert [line.split("] ", 1)[1] for line in thread["message"].split("\n")] == [
        "Alice: deploy at 5?", "Bob: yes", "Alice: great"]
    assert thread["cursors"] == [root, first, second] and thread["more"] is False
    assert thread["reply_to"] == {"1": root, "2": first}
    assert thread["threads"] == {"0": {"replies": 2, "last": second}}
    await bob.send({"type": "thread", "cursor": root, "limit": 1})
    paged = (await bob.event("thread", root=root))["data"]
    assert paged["cursors"] == [root, first] and paged["more"] is True
    await bob.send({"type": "thread", "cursor": root, "limit": 1, "after": first})
    rest = (await bob.event("thread", root=root))["data"]
    assert rest["cursors"] == [second] and rest["more"] is False

    page = await history(alice, limit=10)
    at = page["cursors"].index(root)
    assert page["threads"][str(at)] == {"replies": 2, "last": second}
    for request, sentence in [
        ({"type": "chat", "message": "x", "reply_to": 5}, protocol.Code.BAD_REPLY.sentence),
        ({"type": "chat", "message": "x", "reply_to": "nonsense"}, protocol.Code.BAD_AROUND.sentence),
        ({"type": "thread", "cursor": "nonsense"}, protocol.Code.BAD_AROUND.sentence),
        ({"type": "thread", "cursor": 5}, "Invalid thread request: cursor must be a cursor from a frame (a string)"),
        ({"type": "thread", "cursor": root, "limit": 0},
         "Invalid thread request: limit must be a whole number from 1 to 200"),
    ]:
        await alice.send(request)
        assert await alice.refusal() == {"success": False, "message": sentence}, request
    assert protocol.Code.BAD_REPLY.sentence == "Invalid reply: reply_to must be a cursor from a frame (a string)"


async def tell_story(alice: Client, bob: Client) -> dict[str, str]:
    """Alice says two lines; Bob reacts to the first, replies to it; Alice edits the second. Return the cursors."""
    first, second = await said(alice, "first", "second")
    await bob.send({"type": "react", "cursor": first, "emoji": "👍"})
    await until_event(alice, "reactions", lambda data: data["cursor"] == first)
    await bob.send({"type": "chat", "message": "a reply", "reply_to": first})
    reply = (await alice.until_line_frame("Bob: a reply"))["cursors"][-1]
    await until_event(alice, "thread", lambda data: data["cursor"] == first)
    await alice.send({"type": "edit", "cursor": second, "message": "second, edited"})
    await until_event(bob, "edited", lambda data: data["cursor"] == second)
    return {"first": first, "second": second, "reply": reply}


def _expected_maps(page: dict[str, Any], story: dict[str, str]) -> None:
    """Assert ``page`` (a lines frame's or history's data) carries the story's reactions, thread, reply and edit."""
    at = {name: str(page["cursors"].index(cursor)) for name, cursor in story.items()}
    assert page["reactions"] == {at["first"]: {"👍": ["Bob"]}}
    assert page["threads"] == {at["first"]: {"replies": 1, "last": story["reply"]}}
    assert page["reply_to"] == {at["reply"]: story["first"]}
    assert page["edited"] == {at["second"]: "second, edited"}


async def test_annotations_survive_a_restart_and_a_resume_tells_what_changed(chat_store: ChatStore,
                                                                               connect: Any) -> None:
    """After a restart the index is rebuilt from the log; a resume gets an event for each line changed since."""
    server = await chat_store.start("--rate-limit", "0")
    alice, bob = await pair(server, connect)
    carol = await joined(await connect(server, "Carol"), "Carol")
    [before] = await said(carol, "before the story")
    await carol.ws.close()
    story = await tell_story(alice, bob)
    await server.stop()
    server = await chat_store.start("--rate-limit", "0")
    dave = await joined(await connect(server, "Dave"), "Dave")
    _expected_maps(await history(dave, limit=20), story)
    back = await connect(server, "Carol", since=before)
    assert (await back.event("resumed"))["data"]["recovered"] is True
    frames = [await back.any_frame() for _ in range(4)]
    lines = [f for f in frames if "event" not in f]
    events = [(f["event"], f["data"]) for f in frames if f.get("event") not in (None, "presence")]
    assert not any("reacted" in line or "replied to" in line or " edited " in line
                   for frame in lines for line in frame["data"]["message"].split("\n"))
    more = [await back.any_frame() for _ in range(3 - len(events))]
    events += [(f["event"], f["data"]) for f in more if f.get("event") not in (None, "presence")]
    assert events == [
        ("reactions", {"channel": "general", "cursor": story["first"], "reactions": {"👍": ["Bob"]}}),
        ("thread", {"channel": "general", "cursor": story["first"], "replies": 1, "last": story["reply"]}),
        ("edited", {"channel": "general", "cursor": story["second"], "message": "second, edited"}),
    ]


async def _across(first: Any, second: Any, connect: Any) -> None:
    """Alice on one process or node, Bob on the other: each sees the other's annotations live; a joiner all of them."""
    alice = await joined(await connect(first, "Alice"), "Alice")
    bob = await joined(await connect(second, "Bob"), "Bob")
    await alice.users_become(["Alice", "Bob"])
    story = await tell_story(alice, bob)
    carol = await connect(second, "Carol")
    backlog = (await carol.frame())["data"]
    _expected_maps(backlog, story)


async def test_annotations_across_two_processes(start_server: Any, connect: Any, tmp_path: Any) -> None:
    """Two processes on one data dir."""
    await _across(*await two_processes(start_server, tmp_path / "data"), connect)


async def test_annotations_across_two_redis_nodes(nodes: Any, connect: Any) -> None:
    """Two nodes on one Redis."""
    await _across(await nodes("a"), await nodes("b"), connect)


async def test_muted_and_rate_limited_users_cannot_annotate(start_server: Any, connect: Any) -> None:
    """A muted user may not react, reply or edit; reactions count against the rate limit like a message."""
    server = await start_server("--rate-limit", "1", "--rate-burst", "3")
    alice, bob = await pair(server, connect)
    [line] = await said(alice, "hello")
    assert (await run_cli("mute", "general", "Bob", "--data-dir", str(server.data_dir)))[0] == 0
    await alice.until_line("Bob was muted")
    await bob.until_line("Bob was muted")
    for request in [{"type": "react", "cursor": line, "emoji": "👍"},
                    {"type": "chat", "message": "x", "reply_to": line},
                    {"type": "edit", "cursor": line, "message": "x"}]:
        await bob.send(request)
        assert await bob.refusal() == {"success": False, "message": protocol.Code.MUTED.sentence}, request
    for emoji in ("👍", "🎉", "🚀", "🔥", "👀"):  # a burst of three: the fourth at once is refused
        await alice.send({"type": "react", "cursor": line, "emoji": emoji})
    assert await alice.refusal() == {"success": False, "message": protocol.Code.RATE_LIMITED.sentence}


async def test_pages_count_lines_not_annotations(chat_store: ChatStore, connect: Any) -> None:
    """After a run of 60 reactions, a page of 5 and a joiner's backlog still hold lines, none of them reactions."""
    server = await chat_store.start("--rate-limit", "0", "--history", "5")
    alice, bob = await pair(server, connect)
    cursors = await said(alice, *(f"line {i}" for i in range(6)))
    many = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰", "🙂"]
    for cursor in cursors[:4]:
        for emoji in many[:15]:
            await bob.send({"type": "react", "cursor": cursor, "emoji": emoji})
    await until_event(alice, "reactions", lambda data: data["cursor"] == cursors[3] and len(data["reactions"]) == 15)
    page = await history(alice, limit=5)
    assert [line.split(": ", 1)[1] for line in page["message"].split("\n")] == [f"line {i}" for i in range(1, 6)]
    assert sorted(page["reactions"]) == ["0", "1", "2"]
    carol = await connect(server, "Carol")
    backlog = (await carol.frame())["data"]
    shown = backlog["message"].split("\n")
    assert len(shown) >= 5 and not any("reacted" in line for line in shown), "five lines, not five reactions"
