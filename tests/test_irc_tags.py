"""IRC clients' client-only tags (IRCv3 message-tags): kept in the log with their line, or alone as a TAGMSG.

Real servers (two processes of one data dir), real IRC connections and a web socket; the logs read back,
``wsserver check`` run on them, and the history asked for again after a restart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .support import joined, run_cli
from .support.accounts import PASSWORD, sign_up
from .support.irc import Irc, irc_port
from .test_irc_history import batch, tag

CAPS = "message-tags server-time echo-message batch draft/chathistory"


async def test_client_tags_go_with_their_line_and_a_tagmsg_is_a_line_of_its_own(
        start_server: Any, connect: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = await start_server("--irc-port", "0", "--rate-limit", "0", data_dir=data)
    second = await start_server("--irc-port", "0", "--rate-limit", "0", data_dir=data)
    alice = await Irc.connect(await irc_port(first), "alice", caps=CAPS + " draft/event-playback")
    bob = await Irc.connect(await irc_port(second), "bob", caps=CAPS)
    carol = await Irc.connect(await irc_port(second), "carol")  # no message-tags: no tags, no TAGMSG
    for irc in (alice, bob, carol):
        await irc.join()
    page = await joined(await connect(first, "Dave"), "Dave")
    await page.users_become(["alice", "bob", "carol", "Dave"])

    await alice.send(r"@+example.com/x=a\sb\:c;fizz=buzz;+draft/channel-context=general PRIVMSG #general :hi")
    echo = await alice.expect(r"PRIVMSG #general :?hi$")
    relay = await bob.expect(r"PRIVMSG #general :?hi$")
    msgid = tag(echo, "msgid")
    for said in (echo, relay):
        assert r";+example.com/x=a\sb\:c;+draft/channel-context=general " in said and "time=" in said
        assert tag(said, "msgid") == msgid and "fizz" not in said
    assert re.fullmatch(r":alice!\S+@wsserver PRIVMSG #general hi", await carol.expect(r"PRIVMSG #general :?hi$"))
    frame = await page.until_line_frame("alice: hi")  # the page gets the line, and the tags beside it
    assert frame["message"].split("\n")[-1].endswith("] alice: hi") and "tagged" not in frame["message"]
    assert frame["tags"] == {str(len(frame["cursors"]) - 1): r"+example.com/x=a\sb\:c;+draft/channel-context=general"}
    logged = first.file_lines("general")[-2:]
    assert [line.split("] ", 1)[1] for line in logged] == [
        r"alice tagged the next line: +example.com/x=a\sb\:c;+draft/channel-context=general", "alice: hi"]

    # A reply keeps its other tags; a TAGMSG is a line of the log that pages are not shown.
    await alice.send(f"@+draft/reply={msgid};+example.com/y=2 PRIVMSG #general :re")
    reply = await bob.expect(r"PRIVMSG #general :?re$")
    assert f"+draft/reply={msgid}" in reply and "+example.com/y=2" in reply
    await alice.send("@+example.com/ping=1;+typing=active TAGMSG #general")
    assert (await bob.expect(r" TAGMSG #general$")).startswith("@+typing=active ")  # typing, as ever
    tagmsg = await bob.expect(r" TAGMSG #general$")
    assert tagmsg.startswith("@+example.com/ping=1;") and "time=" in tagmsg and "typing" not in tagmsg
    assert re.search(r" :alice!\S+@wsserver TAGMSG #general$", tagmsg)
    ping_id = tag(tagmsg, "msgid")
    assert tag(await alice.expect(r"ping=1.* TAGMSG #general$"), "msgid") == ping_id  # its echo
    event = await page.event("tagmsg")
    assert event["data"] == {"channel": "general", "handle": "alice", "tags": "+example.com/ping=1",
                             "cursor": ping_id, "stamp": event["data"]["stamp"]}
    assert first.file_lines("general")[-1].endswith("] alice sent tags to the channel: +example.com/ping=1")
    await alice.send("PRIVMSG #general :after the tagmsg")
    await carol.expect(r"after the tagmsg$")
    assert not [line for line in carol.lines if "TAGMSG" in line and "ping" in line]
    await page.until_line("alice: after the tagmsg")
    assert not [line for line in page.lines if "tags" in line]

    # History: the tags with their line; the TAGMSG with draft/event-playback only.
    history = await batch(alice, "CHATHISTORY LATEST #general * 10")
    playback = [line for line in history if "PRIVMSG" in line or "TAGMSG" in line]
    assert [tag(line, "msgid") for line in playback][-4:-1] == [msgid, tag(reply, "msgid"), ping_id]
    assert r"+example.com/x=a\sb\:c" in playback[-4] and " TAGMSG #general" in playback[-2]
    assert "TAGMSG" not in "\n".join(await batch(bob, "CHATHISTORY LATEST #general * 10"))

    # After a restart (the index from its snapshot), the same; and check finds the logs as written.
    await first.stop()
    await second.stop()
    third = await start_server("--irc-port", "0", "--rate-limit", "0", data_dir=data)
    erin = await Irc.connect(await irc_port(third), "erin", caps=CAPS)
    await erin.join()
    again = await batch(erin, "CHATHISTORY LATEST #general * 10")
    assert r"+example.com/x=a\sb\:c" in next(line for line in again if tag(line, "msgid") == msgid)
    await third.stop()
    assert (await run_cli("check", "--data-dir", str(data))).returncode == 0


async def test_private_client_tags_and_tagmsgs_reach_the_other_end_and_its_history(start_server: Any,
                                                                                   person: Any) -> None:
    server = await start_server("--irc-port", "0", "--accounts", "--sign-up", "open", "--rate-limit", "0")
    port = await irc_port(server)
    for handle in ("Alice", "Bob"):
        assert (await sign_up(person(), server, handle, password=PASSWORD))[0] == 201
    alice = await Irc.connect(port, "Alice", caps=CAPS + " draft/event-playback", password=f"Alice:{PASSWORD}")
    bob = await Irc.connect(port, "Bob", caps="message-tags", password=f"Bob:{PASSWORD}")
    await alice.send("PRIVMSG Bob :hey")
    first = tag(await bob.expect(r"PRIVMSG Bob :?hey$"), "msgid")
    await alice.send(f"@+draft/reply={first};+example.com/z PRIVMSG Bob :again")
    said = await bob.expect(r"PRIVMSG Bob :?again$")
    assert tag(said, "msgid").startswith("general/") and f"+draft/reply={first}" in said and "+example.com/z" in said
    await alice.send("@+draft/react=l😃l;+draft/reply=" + first + " TAGMSG Bob")  # no reaction of the chat's
    tagmsg = await bob.expect(r" TAGMSG Bob$")
    assert "+draft/react=l😃l" in tagmsg and tagmsg.endswith(":Alice!user@wsserver TAGMSG Bob")
    private = (server.data_dir / "private_general.log").read_text().splitlines()
    assert [line.split("] ", 1)[1] for line in private] == [
        "Alice -> Bob: hey", "Alice tagged the next line: +draft/reply=" + first + ";+example.com/z",
        "Alice -> Bob: again", "Alice sent tags to Bob: +draft/react=l😃l;+draft/reply=" + first]
    history = await batch(alice, "CHATHISTORY LATEST Bob * 10")
    assert [re.sub(r"^@\S+ ", "", line) for line in history] == [
        ":Alice!user@wsserver PRIVMSG Bob hey", ":Alice!user@wsserver PRIVMSG Bob again",
        ":Alice!user@wsserver TAGMSG Bob"]
    assert "+example.com/z" in history[1] and tag(history[2], "msgid") == tag(tagmsg, "msgid")
    assert (await run_cli("check", "--data-dir", str(server.data_dir))).returncode == 0


async def test_a_line_that_cannot_be_relayed_whole_is_refused_and_a_long_page_line_fills_each_message(
        start_server: Any, connect: Any) -> None:
    server = await start_server("--irc-port", "0", "--rate-limit", "0", "--max-message-chars", "2000")
    irc = await Irc.connect(await irc_port(server), "erin", caps="message-tags")
    await irc.join()
    page = await joined(await connect(server, "Dave"), "Dave")
    room = 510 - len(":erin!user@wsserver PRIVMSG #general :")
    await irc.send("PRIVMSG #general :" + "x" * (room + 1))
    await irc.expect(r" 417 erin :Input line was too long")
    await irc.send("PRIVMSG #general :" + "y" * room)
    await page.until_line("erin: " + "y" * room)
    await page.chat("z" * 1000)  # from the page: as few messages as fit, each whole
    parts = [re.sub(r"^(@\S+ )?:Dave!dave@wsserver PRIVMSG #general :?", "", await irc.expect(r"PRIVMSG #general :?z"))
             for _ in range(3)]
    assert "".join(parts) == "z" * 1000 and len(parts[0]) == 510 - len(":Dave!dave@wsserver PRIVMSG #general :")


async def test_tags_cross_redis_nodes_with_their_lines_and_history(nodes: Any) -> None:
    """On Redis: a tagged line, a TAGMSG and a tagged private line said on one node reach the other, and its
    history (the index folds the tag line from the stream)."""
    a, b = await nodes("a", "--irc-port", "0"), await nodes("b", "--irc-port", "0")
    alice = await Irc.connect(await irc_port(a), "alice", caps=CAPS)
    bob = await Irc.connect(await irc_port(b), "bob", caps=CAPS + " draft/event-playback")
    for irc in (alice, bob):
        await irc.join()
    await bob.expect(r"JOIN #general$")  # alice's (bob joined after her: his own first)
    await alice.send("@+example.com/x=1 PRIVMSG #general :tagged")
    relayed = await bob.expect(r"PRIVMSG #general :?tagged$")
    assert "+example.com/x=1" in relayed
    await alice.send("@+example.com/ping TAGMSG #general")
    ping = await bob.expect(r" TAGMSG #general$")
    assert ping.startswith("@+example.com/ping;")
    await alice.send("@+example.com/p=2 PRIVMSG bob :private")
    assert "+example.com/p=2" in await bob.expect(r"PRIVMSG bob :?private$")
    history = [line for line in await batch(bob, "CHATHISTORY LATEST #general * 10") if "alice!" in line]
    assert "+example.com/x=1" in history[-2] and tag(history[-1], "msgid") == tag(ping, "msgid")
