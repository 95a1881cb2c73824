"""Private lines of a stable identity: in the backlog of every device, on resume and in history pages; kept for
an account that is away and shown at its next join, on both stores; the open mode as it was."""

from __future__ import annotations

from typing import Any

from wsserver.protocol import Code

from .support import SECRET, Client, joined, token
from .support.accounts import sign_up, socket
from .test_keys import ENVELOPE

KEPT = "Bob is not here now: the message is kept, and Bob will see it on joining"


async def backlog_private(client: Client) -> list[str]:
    """Join's private lines: the ``private`` events that came before the users list (marked ``history``)."""
    await client.event("presence")
    found = [frame["data"] for frame in client.events if frame["event"] == "private"]
    assert all(data["history"] is True and data["cursor"] for data in found), found
    return [data["message"].split("] ", 1)[1] for data in found]


async def test_an_account_sees_its_private_lines_on_every_device_and_gets_those_kept_for_it(
        start_server: Any, person: Any) -> None:
    """Backlog on a second device, a line kept while away (the sender told so), a resume, a history page."""
    server = await start_server("--accounts", "--sign-up", "open", "--rate-limit", "0")
    alice, bob, carol = person(), person(), person()
    for browser, handle in ((alice, "Alice"), (bob, "Bob"), (carol, "Carol")):
        assert (await sign_up(browser, server, handle))[0] == 201
    at_alice = await joined(await socket(alice, server), "Alice")
    laptop = await joined(await socket(bob, server), "Bob")
    await at_alice.chat("one")
    await at_alice.send({"type": "private", "to": "bob", "message": "psst"})
    live = (await laptop.event("private"))["data"]
    assert (await at_alice.event("private"))["data"] == live, "the sender's copy"
    assert (live["from"], live["to"], live["cursor"] != "", "history" in live) == ("Alice", "Bob", True, False)
    await at_alice.chat("two")
    await laptop.until_line("Alice: two")

    phone = Client(await bob.ws_connect(server.ws_url(channel="general")))  # the same account, another device
    assert await backlog_private(phone) == ["Alice -> Bob: psst"]
    assert {"Alice: one", "Alice: two"} <= {line.split("] ", 1)[1] for line in phone.lines}
    assert await backlog_private(await socket(carol, server)) == [], "nobody else's private lines"

    # Away: a private line is kept for Bob and the sender is told; to no account at all it is refused.
    resume_from = laptop.frames[-1]["data"]["cursor"]
    await laptop.ws.close()
    await phone.ws.close()
    await at_alice.users_become(["Alice", "Carol"])
    await at_alice.send({"type": "private", "to": "BOB", "message": "when you are back"})
    assert (await at_alice.event("kept"))["data"] == {"channel": "general", "to": "Bob", "message": KEPT}
    assert (await at_alice.event("private"))["data"]["message"].endswith("Alice -> Bob: when you are back")
    await at_alice.send({"type": "private", "to": "Nobody", "message": "lost"})
    assert (await at_alice.refusal())["message"] == Code.USER_NOT_FOUND.sentence
    await at_alice.send({"type": "private", "to": "Bob", "message": ENVELOPE, "encrypted": True})
    assert (await at_alice.event("kept"))["data"]["to"] == "Bob"
    kept = (server.data_dir / "private_general.log").read_text().splitlines()[-2:]
    assert [line.split("] ", 1)[1] for line in kept] == ["Alice -> Bob: when you are back", f"Alice -> Bob: {ENVELOPE}"]

    # Back with since=: the lines after it, and the private lines of that stretch of time.
    back = Client(await bob.ws_connect(server.ws_url(channel="general", since=resume_from)))
    assert (await back.event("resumed"))["data"]["recovered"] is True
    assert await backlog_private(back) == ["Alice -> Bob: psst", "Alice -> Bob: when you are back",
                                           f"Alice -> Bob: {ENVELOPE}"]
    encrypted = [frame["data"] for frame in back.events if frame["event"] == "private"][-1]
    assert encrypted["encrypted"] is True

    # A history page carries them too (the asker's only).
    await back.send({"type": "history", "limit": 10})
    page = (await back.event("history"))["data"]
    assert [data["message"].split("] ", 1)[1] for data in page["private"]][-1] == f"Alice -> Bob: {ENVELOPE}"
    assert all(data["history"] and data["to"] == "Bob" for data in page["private"])


async def test_a_token_identity_has_its_private_lines_on_its_next_device(start_server: Any, connect: Any) -> None:
    """With tokens (a sub is an identity): a device that joins later gets the private lines of its backlog."""
    server = await start_server("--jwt-secret", SECRET, "--rate-limit", "0")
    alice = await joined(await connect(server, None, token=token("Alice")), "Alice")
    await joined(await connect(server, None, token=token("Bob")), "Bob")
    await alice.send({"type": "private", "to": "Bob", "message": "psst"})
    await alice.event("private")
    assert await backlog_private(await connect(server, None, token=token("Bob"))) == ["Alice -> Bob: psst"]
    await alice.send({"type": "private", "to": "Carol", "message": "to no one here"})
    assert (await alice.refusal())["message"] == Code.USER_NOT_FOUND.sentence, "kept only for accounts"


async def test_the_open_mode_keeps_private_lines_out_of_backlogs(server: Any, connect: Any) -> None:
    """Without an identity a handle is not owned: its next holder never reads the private lines of the last."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await alice.send({"type": "private", "to": "Bob", "message": "psst"})
    await bob.event("private")
    await bob.ws.close()
    await alice.users_become(["Alice"])
    assert await backlog_private(await connect(server, "Bob")) == []
    await alice.send({"type": "history", "limit": 10})
    assert "private" not in (await alice.event("history"))["data"]


async def test_kept_lines_cross_redis_nodes(nodes: Any, person: Any) -> None:
    """On Redis: kept on one node, shown at the join on the other."""
    a = await nodes("a", "--accounts", "--sign-up", "open")
    b = await nodes("b", "--accounts", "--sign-up", "open")
    alice, bob = person(), person()
    assert (await sign_up(alice, a, "Alice"))[0] == 201
    assert (await sign_up(bob, b, "Bob"))[0] == 201
    at_alice = await joined(await socket(alice, a), "Alice")
    await at_alice.send({"type": "private", "to": "Bob", "message": "kept on a"})
    assert (await at_alice.event("kept"))["data"]["message"] == KEPT
    # The first join may come before b has read the line back (then it comes live, as to a member).
    first = await socket(bob, b)
    assert (await first.event("private"))["data"]["message"].endswith("Alice -> Bob: kept on a")
    assert await backlog_private(await socket(bob, b)) == ["Alice -> Bob: kept on a"]

