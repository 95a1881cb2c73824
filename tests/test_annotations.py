"""Reactions, replies and threads, edits: lines of the channel log that point at earlier lines, on both stores."""

from __future__ import annotations

import re
from typing import Any

from wsserver import protocol

from .support import Client, joined
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
        ({"cursor": hello, "emoji": "a"}, protocol.BAD_EMOJI),
        ({"cursor": hello, "emoji": "👍👍"}, protocol.BAD_EMOJI),
        ({"cursor": hello}, protocol.BAD_EMOJI),
        ({"cursor": hello, "emoji": 5}, protocol.BAD_EMOJI),
        ({"cursor": 5, "emoji": "👍"}, protocol.BAD_REACT),
        ({"cursor": system, "emoji": "👍"}, protocol.BAD_AROUND),
        ({"cursor": "nonsense", "emoji": "👍"}, protocol.BAD_AROUND),
    ]:
        await bob.send({"type": "react", **request})
        assert await bob.frame() == {"success": False, "message": sentence}, request
    for flag in ["🇫🇷", "👍🏽", "👨‍👩‍👧", "1️⃣", "❤️"]:  # flags, skin tones, ZWJ sequences, keycaps: one emoji each
        await bob.send({"type": "react", "cursor": hello, "emoji": flag})
        await bob.event("reactions")
    many = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰"]
    for emoji in many:
        await bob.send({"type": "react", "cursor": hello, "emoji": emoji})
        await bob.event("reactions")
    written = len(chat_store.lines("general"))
    await alice.send({"type": "react", "cursor": hello, "emoji": "🚀"})
    assert await alice.frame() == {"success": False, "message": protocol.TOO_MANY_REACTIONS}
    await alice.send({"type": "react", "cursor": hello, "emoji": "😀"})  # one of the 20: fine
    await until_event(alice, "reactions", lambda data: data["reactions"].get("😀") == ["Bob", "Alice"])
    assert len(chat_store.lines("general")) == written + 1
    assert protocol.TOO_MANY_REACTIONS == "That line has too many different reactions (limit 20)"
