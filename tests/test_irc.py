"""The IRC door (--irc-port): IRC clients and page sockets in the same channels, the same log, the same rules."""

from __future__ import annotations

import base64
import re
from typing import Any

from wsserver.protocol import Code

from .support import joined, run_cli
from .support.accounts import PASSWORD, sign_up, socket
from .support.irc import Irc, irc_port

TAGS = ("message-tags server-time echo-message batch labeled-response draft/chathistory draft/message-redaction "
        "draft/read-marker")


async def test_irc_and_a_page_share_a_channel_its_log_and_private_lines(start_server: Any, connect: Any) -> None:
    """PRIVMSG is a log line the page gets; the page's line reaches IRC with its time and cursor; presence, /msg."""
    server = await start_server("--irc-port", "0", "--rate-limit", "0")
    port = await irc_port(server)
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await Irc.connect(port, "bob", caps="message-tags server-time")
    await bob.send("JOIN #general")
    assert await bob.expect(r"JOIN #general$") == ":bob!user@wsserver JOIN #general"
    names = await bob.expect(r" 353 ")
    assert names.endswith(" 353 bob = #general :Alice bob")
    await alice.users_become(["Alice", "bob"])

    await bob.send("PRIVMSG #general :hello from IRC")
    assert (await alice.until_line("bob: hello from IRC")).endswith("] bob: hello from IRC")
    assert server.file_lines("general")[-1].endswith("] bob: hello from IRC")

    await alice.chat("hello from the page")
    frame = await alice.until_line_frame("Alice: hello from the page")
    stamp = frame["message"][1:20].replace(" ", "T")
    said = await bob.expect("hello from the page")
    logged = server.file_lines("general")
    earlier = [line for line in logged[:logged.index(frame["message"])] if line.startswith(frame["message"][:21])]
    assert said == (f"@time={stamp}.{len(earlier):03d}Z;msgid={frame['cursor']} :Alice!alice@wsserver "
                    "PRIVMSG #general :hello from the page")  # the milliseconds: its order within its second

    await alice.send({"type": "private", "to": "bob", "message": "psst"})
    await alice.event("private")  # its own copy
    assert (await bob.expect(r"PRIVMSG bob ")).endswith(":Alice!alice@wsserver PRIVMSG bob psst")
    await bob.send("PRIVMSG Alice :back to you")
    private = await alice.event("private")
    assert private["data"]["message"].endswith("] bob -> Alice: back to you")

    await bob.send("PRIVMSG #general :\x01ACTION waves\x01")
    await alice.until_line("bob: /me waves")
    await bob.send("QUIT :bye")
    await bob.closed()
    await alice.until_line("System: bob has left the chat")


async def test_bad_input_is_refused_and_writes_nothing(start_server: Any) -> None:
    """A long line (417), invalid UTF-8, an unknown command (421), a bad nick (432), a line in two: no forged line."""
    server = await start_server("--irc-port", "0", "--rate-limit", "0")
    port = await irc_port(server)
    early = await Irc.connect(port)
    await early.send("JOIN #general")
    await early.expect(r" 451 \* :You have not registered")
    await early.send("NICK Al!ce")
    await early.expect(r" 432 \* Al!ce ")
    carol = await Irc.connect(port, "carol")
    await carol.send("JOIN #general")
    await carol.expect(r" 366 ")
    await carol.send("PRIVMSG #general :" + "x" * 600)
    await carol.expect(r" 417 carol :Input line was too long")
    await carol.send(b"PRIVMSG #general :caf\xe9")
    await carol.expect(r"FAIL \* INVALID_UTF8 :Text must be UTF-8")
    await carol.send("FROB x")
    await carol.expect(r" 421 carol FROB :Unknown command")
    await carol.send("PRIVMSG #general :one\r\n[2026-01-01 00:00:00] System: forged")
    await carol.send("PING sync")
    await carol.expect(r"PONG \S+ sync")
    chat = [line[22:] for line in server.file_lines("general") if "System:" not in line]
    assert chat == ["carol: one"], chat
    await carol.send("PRIVMSG #nosuch :x")
    await carol.expect(r" 403 carol #nosuch ")


async def test_accounts_sign_in_with_sasl_and_history_redact_and_topic(start_server: Any, connect: Any,
                                                                      person: Any) -> None:
    """With --accounts: SASL PLAIN or no entry; CHATHISTORY in a batch; REDACT deletes for the page too; TOPIC."""
    server = await start_server("--irc-port", "0", "--accounts", "--sign-up", "open", "--rate-limit", "0")
    port = await irc_port(server)
    page = person()
    assert (await sign_up(page, server, "Alice", password=PASSWORD))[0] == 201
    assert (await run_cli("accounts", "op", "Alice", "--data-dir", str(server.data_dir))).returncode == 0
    bob = person()
    assert (await sign_up(bob, server, "Bob", password=PASSWORD))[0] == 201
    stranger = await Irc.connect(port)
    for line in ("NICK mallory", "USER m 0 * :M"):
        await stranger.send(line)
    await stranger.expect(r"ERROR :Authentication required")

    irc = await Irc.connect(port)
    await irc.send("CAP LS 302")
    await irc.send(f"CAP REQ :sasl {TAGS}")
    await irc.expect(r"CAP \S+ ACK")
    await irc.send("AUTHENTICATE PLAIN")
    await irc.expect(r"^AUTHENTICATE \+$")
    await irc.send("AUTHENTICATE " + base64.b64encode(f"\0Alice\0{PASSWORD}".encode()).decode())
    await irc.expect(r" 903 ")
    for line in ("NICK whatever", "USER a 0 * :A", "CAP END"):
        await irc.send(line)
    assert (await irc.expect(r" 001 ")).split()[2] == "Alice", "the nick is the account's handle"

    web = await joined(await socket(page, server), "Alice")  # the same account on the page
    await irc.send("JOIN #general")
    await irc.expect(r" 366 ")
    await irc.send("PRIVMSG #general :first")
    echo = await irc.expect(r"PRIVMSG #general :?first$")
    cursor = re.search(r"msgid=([^; ]+)", echo).group(1)  # type: ignore[union-attr]
    await web.until_line("Alice: first")

    await irc.send("@label=h1 CHATHISTORY LATEST #general * 10")
    start = await irc.expect(r"BATCH \+\S+ chathistory #general")
    assert start.startswith("@label=h1 ") or "batch=" in start
    await irc.expect(rf"msgid={re.escape(cursor)} :Alice!\S+@wsserver PRIVMSG #general :?first$")
    await irc.expect(r"BATCH -")

    stamp = re.search(r"time=([^; ]+)", echo).group(1)  # type: ignore[union-attr]
    await irc.send(f"MARKREAD #general timestamp={stamp}")
    await irc.expect(rf"MARKREAD #general timestamp={re.escape(stamp)}$")
    assert (await web.event("read"))["data"]["cursor"] == cursor, "the page's read position is the IRC client's"

    await irc.send(f"REDACT #general {cursor}")
    assert (await web.event("deleted"))["data"]["cursor"] == cursor
    await irc.expect(rf"REDACT #general {re.escape(cursor)}")

    await irc.send("TOPIC #general :release on Friday")
    await irc.expect(r"TOPIC #general :release on Friday")
    assert server.file_lines("general")[-1].endswith("] System: Alice set the topic: release on Friday")
    await irc.send("TOPIC #general")
    await irc.expect(r" 332 Alice #general :release on Friday")

    other = await Irc.connect(port, "Bob", password=f"Bob:{PASSWORD}")  # PASS handle:password signs in too
    await other.send("JOIN #general")
    await other.expect(r" 366 ")
    await other.send("TOPIC #general :mine now")
    await other.expect(rf" 482 Bob #general :{re.escape(Code.NOT_OPERATOR.sentence)}")


async def test_flooding_is_refused_then_closed_as_a_socket_is(start_server: Any) -> None:
    """Over the rate limit: FAIL with the chat's sentence, and at the third within 10 s ERROR :Excess flood."""
    server = await start_server("--irc-port", "0", "--rate-limit", "1", "--rate-burst", "1")
    port = await irc_port(server)
    dave = await Irc.connect(port, "dave")
    await dave.send("JOIN #general")
    await dave.expect(r" 366 ")
    for index in range(5):
        await dave.send(f"PRIVMSG #general :line {index}")
    await dave.expect(rf"FAIL PRIVMSG RATE_LIMITED :{re.escape(Code.RATE_LIMITED.sentence)}")
    await dave.expect(r"^ERROR :Excess flood$")
    await dave.closed()
    assert [line[22:] for line in server.file_lines("general") if "] dave: " in line] == ["dave: line 0"]


async def test_an_irc_line_reaches_a_page_on_another_redis_node(nodes: Any, connect: Any) -> None:
    """IRC on node a, a page on node b, one channel: each sees the other's lines, and IRC the page's join."""
    a = await nodes("a", "--irc-port", "0", "--rate-limit", "0")
    b = await nodes("b", "--rate-limit", "0")
    erin = await Irc.connect(await irc_port(a), "erin")
    await erin.send("JOIN #general")
    await erin.expect(r" 366 ")
    page = await joined(await connect(b, "Frank"), "Frank")
    await erin.expect(r":Frank!frank@wsserver JOIN #general$")
    await erin.send("PRIVMSG #general :across nodes")
    await page.until_line("erin: across nodes")
    await page.chat("and back")
    await erin.expect(r":Frank!frank@wsserver PRIVMSG #general :?and back$")


async def test_behind_a_trusted_proxy_the_proxy_protocol_names_the_address(start_server: Any) -> None:
    """From --trusted-proxy, the PROXY line's address is the client's: --max-connections-per-ip counts it."""
    server = await start_server("--irc-port", "0", "--trusted-proxy", "127.0.0.1", "--max-connections-per-ip", "1")
    port = await irc_port(server)

    async def through_proxy(address: str) -> Irc:
        client = await Irc.connect(port)
        await client.send(f"PROXY TCP4 {address} 127.0.0.1 50000 6697")
        return client

    first = await through_proxy("203.0.113.7")
    for line in ("NICK gina", "USER g 0 * :G"):
        await first.send(line)
    await first.expect(r" 001 gina ")
    again = await through_proxy("203.0.113.7")
    await again.expect(r"^ERROR :Too many connections from this address$")
    other = await through_proxy("198.51.100.9")
    for line in ("NICK hank", "USER h 0 * :H"):
        await other.send(line)
    await other.expect(r" 001 hank ")
    await server.wait_for_log(re.compile(r"IRC connection gina \(203\.0\.113\.7, IRC\) registered"))


async def test_the_page_shows_an_irc_action_and_its_lines(start_server: Any, new_page: Any) -> None:
    """A page beside an IRC client: its /me is an action row, its notice a plain row, its line the page's own kind."""
    from .support.browser import chat_page, say, wait_for_line

    server = await start_server("--irc-port", "0", "--rate-limit", "0")
    irc = await Irc.connect(await irc_port(server), "ivan", caps="server-time message-tags")
    await irc.send("JOIN #general")
    await irc.expect(r" 366 ")
    page = await chat_page(new_page, server, "Judy")
    await irc.expect(r":Judy!judy@wsserver JOIN #general$")
    await irc.send("PRIVMSG #general :\x01ACTION waves\x01")
    await irc.send("NOTICE #general :deploy at noon")
    await irc.send("PRIVMSG #general :plain words")
    await wait_for_line(page, "plain words")
    action = page.locator("#lines li.action")
    assert await action.locator(".text").text_content() == "waves"
    assert await page.locator("#lines li.notice-line .text").text_content() == "deploy at noon"
    await say(page, "/me nods")
    assert (await irc.expect(r"PRIVMSG #general :\x01ACTION nods\x01$")).endswith(
        ":Judy!judy@wsserver PRIVMSG #general :\x01ACTION nods\x01")
    assert page.errors == []


async def test_a_restart_is_not_a_leave_for_irc_clients_either(start_server: Any, tmp_path: Any) -> None:
    """SIGTERM: the IRC client is told ERROR, its seat is left away (no leave line), and it comes back silently."""
    server = await start_server("--irc-port", "0", "--rejoin-grace", "30")
    kim = await Irc.connect(await irc_port(server), "kim")
    await kim.send("JOIN #general")
    await kim.expect(r" 366 ")
    assert await server.stop() == 0
    await kim.expect(r"^ERROR :Server shutting down$")
    lines = [line[22:] for line in server.file_lines("general")]
    assert lines == ["System: kim has joined the chat", "System: The server is restarting"], lines
    again = await start_server("--irc-port", "0", "--rejoin-grace", "30", data_dir=server.data_dir)
    back = await Irc.connect(await irc_port(again), "kim")
    await back.send("JOIN #general")
    await back.expect(r" 366 ")
    await back.send("PRIVMSG #general :back")
    await back.send("PING sync")
    await back.expect(r"PONG \S+ sync")
    assert "System: kim has joined the chat" not in [line[22:] for line in again.file_lines("general")][2:]


async def test_guests_beside_accounts_never_take_an_accounts_handle(start_server: Any, person: Any) -> None:
    """--irc-guests: a client without a sign-in registers, unless its nick is an account's (433)."""
    server = await start_server("--irc-port", "0", "--accounts", "--sign-up", "open", "--irc-guests",
                                "--password-min-chars", "6")
    assert (await sign_up(person(), server, "Alice", password="sesame"))[0] == 201
    port = await irc_port(server)
    guest = await Irc.connect(port, "zed")
    await guest.send("JOIN #general")
    await guest.expect(r" 366 zed #general ")
    taken = await Irc.connect(port)
    for line in ("NICK alice", "USER a 0 * :A"):
        await taken.send(line)
    await taken.expect(r" 433 \S+ alice :That nick is an account's: sign in with SASL")
    await guest.send("NICK Alice")
    await guest.expect(r" 433 zed Alice ")
    short = await sign_up(person(), server, "Bobby", password="five5")
    assert short == (400, {"error": "A password is 6 to 1024 characters"})


async def test_a_topic_is_the_channels_for_every_door(start_server: Any, connect: Any, new_page: Any) -> None:
    """An operator's page sets it with /topic: the log line, IRC's TOPIC, a joiner's topic event, the page shows it."""
    from .support import SECRET, token
    from .support.browser import say

    server = await start_server("--irc-port", "0", "--jwt-secret", SECRET, "--rate-limit", "0")
    irc = await Irc.connect(await irc_port(server), "lee", password=token("lee"))
    await irc.send("JOIN #general")
    await irc.expect(r" 366 ")
    mia = await joined(await connect(server, None, token=token("Mia")), "Mia")
    await mia.send({"type": "topic", "topic": "not mine to set"})
    assert (await mia.refusal())["message"] == Code.NOT_OPERATOR.sentence
    page = await new_page(server.url + "/?channel=general&token=" + token("Ops", op=True))
    await page.get_by_role("status").filter(has_text="Connected to general as Ops").wait_for()
    await say(page, "/topic release on Friday")
    await page.locator("#room-topic").filter(has_text="release on Friday").wait_for()
    assert (await irc.expect(r"TOPIC #general")).endswith(":Ops!ops@wsserver TOPIC #general :release on Friday")
    assert server.file_lines("general")[-1].endswith("] System: Ops set the topic: release on Friday")
    late = await connect(server, None, token=token("Ned"))
    event = await late.event("topic")
    assert (event["data"]["topic"], event["data"]["by"]) == ("release on Friday", "Ops")
    await irc.send("TOPIC #general")
    await irc.expect(r" 332 lee #general :release on Friday$")
    assert page.errors == []


async def test_a_shutdown_with_irc_clients_logs_no_error(start_server: Any) -> None:
    """SIGTERM with IRC connections in a channel: each is told, and the server's log holds no error or traceback."""
    server = await start_server("--irc-port", "0", "--rate-limit", "0")
    port = await irc_port(server)
    clients = [await Irc.connect(port, f"user{number}") for number in range(20)]
    for irc in clients:
        await irc.join()
    assert await server.stop() == 0
    for irc in clients:
        await irc.expect(r"^ERROR :Server shutting down$")
    assert not [line for line in server.lines if "ERROR" in line or "Traceback" in line or "Cancelled" in line]
