"""IRC history: time tags that tell a second's lines apart, and the history of private conversations."""

from __future__ import annotations

import re
from typing import Any

from .support import joined
from .support.accounts import PASSWORD, sign_up, socket
from .support.irc import Irc, irc_port

CAPS = "message-tags server-time echo-message batch draft/chathistory"


def tag(line: str, name: str) -> str:
    found = re.search(rf"[@;]{name}=([^; ]+)", line)
    assert found is not None, f"no {name} tag in {line!r}"
    return found.group(1)


async def batch(irc: Irc, command: str) -> list[str]:
    """Send a CHATHISTORY command; return the lines of its batch (without BATCH + and -)."""
    await irc.send(command)
    start = await irc.expect(r" BATCH \+")
    name = start.split(" BATCH +")[1].split()[0]
    lines = []
    while True:
        said = await irc.expect(lambda line: True)
        if said.endswith(f"BATCH -{name}"):
            return lines
        lines.append(said)


async def test_a_seconds_lines_have_distinct_times_in_history_as_live(start_server: Any) -> None:
    """Lines within one second: the milliseconds of ``time`` are their order; CHATHISTORY by time finds each."""
    server = await start_server("--irc-port", "0", "--rate-limit", "0")
    irc = await Irc.connect(await irc_port(server), "carol", caps=CAPS)
    await irc.send("JOIN #general")
    await irc.expect(r" 366 ")
    echoes = []
    for number in range(4):
        await irc.send(f"PRIVMSG #general :line {number}")
        echoes.append(await irc.expect(rf"PRIVMSG #general :?line {number}$"))
    times = [tag(echo, "time") for echo in echoes]
    msgids = [tag(echo, "msgid") for echo in echoes]
    logged = server.file_lines("general")
    for number, when in enumerate(times):
        line = next(line for line in logged if line.endswith(f"carol: line {number}"))
        same = [other for other in logged[:logged.index(line)] if other.startswith(line[:21])]
        assert when == f"{line[1:20].replace(' ', 'T')}.{len(same):03d}Z"  # the n-th line of its second
    assert len(set(times)) == 4

    history = await batch(irc, "CHATHISTORY LATEST #general * 4")
    assert [(tag(said, "time"), tag(said, "msgid")) for said in history] == list(zip(times, msgids, strict=True))
    after = await batch(irc, f"CHATHISTORY AFTER #general timestamp={times[1]} 10")
    assert [tag(said, "msgid") for said in after] == msgids[2:]
    before = await batch(irc, f"CHATHISTORY BEFORE #general timestamp={times[2]} 10")
    assert [tag(said, "msgid") for said in before][-2:] == msgids[:2]


async def test_private_conversations_have_history_and_targets(start_server: Any, connect: Any, person: Any) -> None:
    """CHATHISTORY of a nick: the two accounts' lines (an IRC client's and a page's), with the live tags."""
    server = await start_server("--irc-port", "0", "--accounts", "--sign-up", "open", "--rate-limit", "0")
    port = await irc_port(server)
    page = person()
    assert (await sign_up(page, server, "Alice", password=PASSWORD))[0] == 201
    assert (await sign_up(person(), server, "Bob", password=PASSWORD))[0] == 201
    alice = await Irc.connect(port, "Alice", caps=CAPS, password=f"Alice:{PASSWORD}")
    bob = await Irc.connect(port, "Bob", caps=CAPS, password=f"Bob:{PASSWORD}")
    said = []
    for number in range(3):
        await alice.send(f"PRIVMSG Bob :to bob {number}")
        said.append(await bob.expect(rf"PRIVMSG Bob :?to bob {number}$"))
    web = await joined(await socket(page, server), "Alice")
    await web.send({"type": "private", "to": "Bob", "message": "from the page"})
    said.append(await bob.expect(r"PRIVMSG Bob :from the page$"))
    await bob.send("PRIVMSG Alice :back")
    said.append(await bob.expect(r"PRIVMSG Alice :?back$"))  # the echo
    tags = [(tag(line, "time"), tag(line, "msgid")) for line in said]
    assert len({when for when, _ in tags}) == 5 and len({msgid for _, msgid in tags}) == 5

    history = await batch(bob, "CHATHISTORY LATEST Alice * 10")
    assert [(tag(line, "time"), tag(line, "msgid")) for line in history] == tags
    assert history[-1].endswith(":Bob!user@wsserver PRIVMSG Alice back")
    before = await batch(bob, f"CHATHISTORY BEFORE Alice msgid={tags[2][1]} 10")
    assert [tag(line, "msgid") for line in before] == [tags[0][1], tags[1][1]]
    assert await batch(alice, "CHATHISTORY LATEST Carol * 10") == []  # no conversation: an empty batch

    targets = await batch(bob, "CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z "
                               "timestamp=2262-01-01T00:00:00.000Z 10")
    assert [line.split(" TARGETS ")[1] for line in targets] == [f"Alice {tags[-1][0]}"]


async def test_targets_orders_the_lines_of_one_second_in_different_logs_as_they_came(start_server: Any,
                                                                                      person: Any) -> None:
    """Lines in two channels and two conversations, one after the other (in one second, as a rule): TARGETS
    lists them in that order, and a bound that is one of their times stands for that line."""
    server = await start_server("--irc-port", "0", "--accounts", "--sign-up", "open", "--rate-limit", "0")
    port = await irc_port(server)
    for handle in ("Alice", "Bob", "Carol"):
        assert (await sign_up(person(), server, handle, password=PASSWORD))[0] == 201
    alice, bob, carol = [await Irc.connect(port, handle, caps=CAPS, password=f"{handle}:{PASSWORD}")
                         for handle in ("Alice", "Bob", "Carol")]
    for irc, channel in ((alice, "#general"), (bob, "#general"), (alice, "#tech"), (carol, "#tech")):
        await irc.join(channel)
    times = {}
    for target, reader in (("#general", bob), ("Bob", bob), ("#tech", carol), ("Carol", carol)):
        await alice.send(f"PRIVMSG {target} :to {target}")
        times[target] = tag(await reader.expect(rf"PRIVMSG {target} :?to {target}$"), "time")

    async def targets(low: str, high: str, limit: int = 10) -> list[str]:
        found = await batch(alice, f"CHATHISTORY TARGETS timestamp={low} timestamp={high} {limit}")
        return [line.split(" TARGETS ")[1] for line in found]

    everything = await targets("2020-01-01T00:00:00.000Z", "2262-01-01T00:00:00.000Z")
    assert everything == [f"{target} {times[target]}" for target in ("#general", "Bob", "#tech", "Carol")]
    assert await targets("2020-01-01T00:00:00.000Z", "2262-01-01T00:00:00.000Z", 2) == everything[:2]
    assert [entry.split()[0] for entry in await targets(times["#general"], "2262-01-01T00:00:00.000Z")] == [
        "Bob", "#tech", "Carol"]
    assert [entry.split()[0] for entry in await targets(times["Carol"], times["#general"])] == ["Bob", "#tech"]


async def test_a_deleted_private_line_is_redacted_for_its_two_ends_and_leaves_the_conversation(
        start_server: Any, person: Any) -> None:
    """REDACT of a nick's line (its sender's only); the page's own deletion reaches IRC as REDACT."""
    server = await start_server("--irc-port", "0", "--accounts", "--sign-up", "open", "--rate-limit", "0")
    port = await irc_port(server)
    page = person()
    assert (await sign_up(page, server, "Alice", password=PASSWORD))[0] == 201
    assert (await sign_up(person(), server, "Bob", password=PASSWORD))[0] == 201
    caps = CAPS + " draft/message-redaction"
    alice = await Irc.connect(port, "Alice", caps=caps, password=f"Alice:{PASSWORD}")
    bob = await Irc.connect(port, "Bob", caps=caps, password=f"Bob:{PASSWORD}")
    web = await joined(await socket(page, server), "Alice")
    await alice.send("PRIVMSG Bob :the code is 1234")
    msgid = tag(await alice.expect(r"PRIVMSG Bob :?the code is 1234$"), "msgid")
    await bob.expect(r"PRIVMSG Bob :?the code is 1234$")
    await alice.send("PRIVMSG Bob :kept")
    kept = tag(await bob.expect(r"PRIVMSG Bob :?kept$"), "msgid")
    channel, cursor = msgid.split("/", 1)
    assert channel == "general"

    await bob.send(f"REDACT Alice {msgid}")
    await bob.expect(rf"FAIL REDACT REDACT_FORBIDDEN Alice {re.escape(msgid)} :You may only delete your own lines")
    await alice.send("REDACT Bob general/0-0-0")
    await alice.expect(r"FAIL REDACT UNKNOWN_MSGID Bob general/0-0-0 :No line at that cursor")
    await alice.send(f"REDACT Bob {msgid} :wrong person")
    said = f"REDACT Bob {msgid} :?wrong person$"
    assert (await alice.expect(said)).startswith(":Alice!"), "with echo-message, to its sender too"
    assert (await bob.expect(said)).startswith(":Alice!")
    assert (await web.event("deleted"))["data"] == {"channel": "general", "cursor": cursor, "private": True}
    history = await batch(bob, "CHATHISTORY LATEST Alice * 10")
    assert [tag(line, "msgid") for line in history] == [kept]

    await web.send({"type": "private", "to": "Bob", "message": "from the page"})
    from_page = tag(await bob.expect(r"PRIVMSG Bob :from the page$"), "msgid")
    await web.send({"type": "delete", "cursor": from_page.split("/", 1)[1], "private": True})
    assert (await bob.expect(r" REDACT Bob ")).endswith(f":Alice!user@wsserver REDACT Bob {from_page}")


async def test_event_playback_replays_joins_and_topics(start_server: Any) -> None:
    """With draft/event-playback a history answer holds the channel's events as they were said live."""
    server = await start_server("--irc-port", "0", "--rate-limit", "0", "--allow-new-channels")
    port = await irc_port(server)
    irc = await Irc.connect(port, "erin", caps=CAPS + " draft/event-playback")
    await irc.send("JOIN #lab")
    joined = await irc.expect(r"JOIN #lab$")
    await irc.send("TOPIC #lab :lab experiments")
    topic = await irc.expect(r"TOPIC #lab :lab experiments$")
    await irc.send("PRIVMSG #lab :first line")
    said = await irc.expect(r"PRIVMSG #lab :first line$")
    history = await batch(irc, "CHATHISTORY LATEST #lab * 10")
    assert [line.split(" ", 2)[2] for line in history] == [
        "JOIN #lab", "TOPIC #lab :lab experiments", "PRIVMSG #lab :first line"]
    assert [tag(line, "msgid") for line in history[1:]] == [tag(topic, "msgid"), tag(said, "msgid")]
    assert joined.startswith(":erin!")  # the live JOIN carries no tags; its replay does
    plain = await Irc.connect(port, "frank", caps=CAPS)
    await plain.join("#lab")
    assert [line.split(" ", 2)[2] for line in await batch(plain, "CHATHISTORY LATEST #lab * 10")] == [
        "PRIVMSG #lab :first line"]


async def test_a_private_conversation_has_a_read_marker_that_never_goes_back(start_server: Any, person: Any,
                                                                              nodes: Any) -> None:
    """MARKREAD nick: a time kept per identity and nick (both stores), said back, never moved back, and told to
    the identity's other session."""
    for server in (await start_server("--irc-port", "0", "--accounts", "--sign-up", "open"),
                   await nodes("a", "--irc-port", "0", "--accounts", "--sign-up", "open")):
        port = await irc_port(server)
        assert (await sign_up(person(), server, "Alice", password=PASSWORD))[0] == 201
        caps = "draft/read-marker message-tags"
        laptop = await Irc.connect(port, "Alice", caps=caps, password=f"Alice:{PASSWORD}")
        phone = await Irc.connect(port, "Alice", caps=caps, password=f"Alice:{PASSWORD}")
        await laptop.send("MARKREAD bob")
        await laptop.expect(r" MARKREAD bob \*$")
        await laptop.send("MARKREAD bob timestamp=2026-11-22T10:00:00.500Z")
        await laptop.expect(r" MARKREAD bob timestamp=2026-11-22T10:00:00\.500Z$")
        await phone.expect(r" MARKREAD bob timestamp=2026-11-22T10:00:00\.500Z$")
        await laptop.send("MARKREAD Bob timestamp=2026-11-21T09:00:00.000Z")  # earlier: it stays
        await laptop.expect(r" MARKREAD Bob timestamp=2026-11-22T10:00:00\.500Z$")
        await phone.send("MARKREAD bob")
        await phone.expect(r" MARKREAD bob timestamp=2026-11-22T10:00:00\.500Z$")
        await laptop.send("MARKREAD bob timestamp=yesterday")
        await laptop.expect(r" FAIL MARKREAD INVALID_PARAMS bob :A read marker is timestamp=")
