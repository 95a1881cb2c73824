"""IRC commands about people: WHO with WHOX fields, OPER, user modes (+i, +B), USERHOST, AWAY's 301; an
account's channels joined again when it signs in."""

from __future__ import annotations

from typing import Any

from .support import run_cli
from .support.accounts import PASSWORD, sign_up
from .support.irc import Irc, irc_port

OPERATOR = "boss:a-long-secret"


async def test_who_whox_userhost_and_invisible(start_server: Any) -> None:
    server = await start_server("--irc-port", "0")
    port = await irc_port(server)
    alice = await Irc.connect(port, "alice")
    bob = await Irc.connect(port, "bob")
    await alice.join()
    await bob.join()

    await bob.send("WHO ali*")
    assert (await bob.expect(r" 352 ")).endswith(" 352 bob * user wsserver wsserver alice H :0 Real Name")
    await bob.expect(r" 315 bob ali\* :End of WHO list")
    await bob.send("WHO #general %tcnfar,42")
    rows = [await bob.expect(r" 354 "), await bob.expect(r" 354 ")]
    assert [row.split(" 354 ")[1] for row in rows] == ["bob 42 #general alice H 0 :Real Name",
                                                       "bob 42 #general bob H 0 :Real Name"]
    await bob.send("USERHOST alice nobody")
    assert (await bob.expect(r" 302 ")).endswith(" 302 bob alice=+user@wsserver")

    await alice.send("MODE alice +i")
    await alice.expect(r"MODE alice :?\+i$")
    carol = await Irc.connect(port, "carol")  # shares no channel with alice
    await carol.send("WHO a*")
    assert (await carol.expect(r" 315 | 352 ")).split()[1] == "315", "an invisible nick is not found by a mask"
    await carol.send("WHO alice")
    await carol.expect(r" 352 carol \* user wsserver wsserver alice H ")  # but by its exact nick
    await bob.send("WHO a*")
    await bob.expect(r" 352 bob \* user wsserver wsserver alice H ")  # and by those who share a channel

    await alice.send("AWAY :lunch")
    await alice.expect(r" 306 ")
    await carol.send("PRIVMSG alice :there?")
    assert (await carol.expect(r" 301 ")).endswith(" 301 carol alice lunch")


async def test_oper_operates_every_channel_and_a_bot_is_tagged(start_server: Any) -> None:
    server = await start_server("--irc-port", "0", "--irc-operators", OPERATOR, "--rate-limit", "0")
    port = await irc_port(server)
    alice = await Irc.connect(port, "alice")
    await alice.join()
    mallory = await Irc.connect(port, "mallory")
    await mallory.send("OPER boss wrong")
    await mallory.expect(r" 464 mallory :Password incorrect")
    await mallory.join()
    await mallory.send("KICK #general alice")
    await mallory.expect(r" 482 mallory #general ")

    boss = await Irc.connect(port, "boss", caps="message-tags")
    await boss.join()
    await boss.send("OPER boss a-long-secret")
    await boss.expect(r" 381 boss :You are now an IRC operator")
    await boss.expect(r"MODE boss :?\+o$")
    await boss.send("WHOIS boss")
    await boss.expect(r" 313 boss boss :is an IRC operator")
    await boss.send("KICK #general mallory :spam")
    await boss.expect(r"KICK #general mallory :?spam$")
    assert any(line.endswith("] System: mallory was removed by boss (spam)") for line in server.file_lines("general"))

    await alice.send("MODE alice +B")
    await alice.expect(r"MODE alice :?\+B$")
    await alice.send("PRIVMSG #general :beep")
    said = await boss.expect(r"PRIVMSG #general :?beep$")
    assert said.startswith("@") and "bot" in said.split()[0][1:].split(";")
    await boss.send("MODE boss")
    await boss.expect(r" 221 boss :?\+o$")

    for nick in ("dave1", "dave2"):
        other = await Irc.connect(port, nick)
        for _ in range(3):
            await other.send("OPER boss nope")
        await other.expect(r"ERROR :Too many wrong OPER passwords")


async def test_setname_extended_monitor_and_invite(start_server: Any) -> None:
    server = await start_server("--irc-port", "0")
    port = await irc_port(server)
    watcher = await Irc.connect(port, "watcher", caps="extended-monitor away-notify setname")
    await watcher.send("MONITOR + dana")
    await watcher.expect(r" 731 watcher :?dana$")
    dana = await Irc.connect(port, "dana", caps="setname")
    await watcher.expect(r" 730 watcher :?dana!user@wsserver$")
    await dana.send("AWAY :back soon")
    await watcher.expect(r"^:dana!user@wsserver AWAY :back soon$")  # told though they share no channel
    await dana.send("SETNAME :Dana Scully")
    await dana.expect(r"^:dana!user@wsserver SETNAME :Dana Scully$")
    await watcher.expect(r"^:dana!user@wsserver SETNAME :Dana Scully$")
    await dana.send("SETNAME :" + "x" * 101)
    await dana.expect(r"FAIL SETNAME INVALID_REALNAME :A real name is 1 to 100 characters")

    await dana.join()
    await dana.send("INVITE watcher #general")
    await dana.expect(r" 341 dana watcher #general$")
    await watcher.expect(r"^:dana!user@wsserver INVITE watcher #general$")
    await dana.send("INVITE nobody #general")
    await dana.expect(r" 401 dana nobody ")
    await watcher.send("INVITE dana #general")
    await watcher.expect(r" 442 watcher #general ")


async def test_registering_during_sasl_aborts_it(start_server: Any) -> None:
    server = await start_server("--irc-port", "0", "--accounts", "--irc-guests")
    irc = await Irc.connect(await irc_port(server))
    for line in ("CAP LS 302", "CAP REQ :sasl", "AUTHENTICATE PLAIN"):
        await irc.send(line)
    await irc.expect(r"^AUTHENTICATE \+$")
    for line in ("NICK guest1", "USER g 0 * :G", "CAP END"):
        await irc.send(line)
    await irc.expect(r" 906 guest1 :SASL authentication aborted")
    await irc.expect(r" 001 guest1 ")


async def test_an_accounts_session_is_joined_again_to_its_channels(start_server: Any, person: Any) -> None:
    """Always-on: an account's IRC session starts in the channels its sessions sat in, not those it left or was
    kicked from; with draft/read-marker each with its MARKREAD before the NAMES, as a JOIN's."""
    server = await start_server("--irc-port", "0", "--accounts", "--sign-up", "open", "--rate-limit", "0")
    assert (await sign_up(person(), server, "Alice", password=PASSWORD))[0] == 201
    port = await irc_port(server)
    first = await Irc.connect(port, "Alice", caps="draft/read-marker", password=f"Alice:{PASSWORD}")
    for channel in ("#general", "#tech"):
        await first.join(channel)
    await first.send("PART #tech")
    await first.expect(r"PART #tech")
    first.close()

    second = await Irc.connect(port, "Alice", caps="draft/read-marker", password=f"Alice:{PASSWORD}")
    await second.expect(r"^:Alice!\S+ JOIN #general$")
    await second.expect(r"^:\S+ MARKREAD #general \*$")
    await second.expect(r" 366 Alice #general ")
    await second.send("PING :burst-done")
    await second.expect(r"PONG \S+ :?burst-done")
    assert not [text for text in second.lines if "#tech" in text], "a parted channel is not joined again"
    await second.send("JOIN #general")  # what a client that joins by itself does: nothing more happens
    await second.send("PING :again")
    await second.expect(r"PONG \S+ :?again")

    data = str(server.data_dir)
    assert (await run_cli("kick", "general", "Alice", "--reason", "cool off", "--data-dir", data))[0] == 0
    await second.expect(r"KICK #general Alice :?cool off")
    second.close()
    third = await Irc.connect(port, "Alice", password=f"Alice:{PASSWORD}")
    await third.send("PING :burst-done")
    await third.expect(r"PONG \S+ :?burst-done")
    assert not [text for text in third.lines if " JOIN " in text], "kicked: not joined again"
