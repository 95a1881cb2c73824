"""Resume tokens: a client joined with a token gets the server's own, for reconnects after the site's expires."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import jwt

from .support import SECRET, eventually, joined, token
from .test_attacks import handshake_status


async def test_a_token_join_gets_a_resume_token_that_lets_it_back(start_server: Any, connect: Any) -> None:
    """After a join with a token: a token event; that token joins the same handle in the same channel."""
    server = await start_server("--jwt-secret", SECRET, "--resume-ttl", "600")
    alice = await joined(await connect(server, None, token=token("Alice", expires_in=60)), "Alice")
    event = await alice.event("token")
    assert set(event["data"]) == {"channel", "token", "expires"} and event["data"]["channel"] == "general"
    assert abs(event["data"]["expires"] - (time.time() + 600)) < 5
    claims = jwt.decode(event["data"]["token"], options={"verify_signature": False})
    assert (claims["sub"], claims["ch"], claims["typ"]) == ("Alice", "general", "resume")
    await alice.ws.close()
    await server.wait_for_log("Alice@general left")
    # The handle parameter is ignored as for any token: it joins as Alice, never as Bob.
    back = await connect(server, "Bob", token=event["data"]["token"])
    await joined(back, "Alice")
    assert not any("Bob" in line for line in server.file_lines("general"))


async def test_a_resume_token_is_refused_elsewhere_and_after_it_expires(
    start_server: Any, connect: Any, session: aiohttp.ClientSession,
) -> None:
    """A resume token is refused (401) in another channel, once expired, and as a site token is not one."""
    server = await start_server("--jwt-secret", SECRET, "--resume-ttl", "2")
    alice = await joined(await connect(server, None, token=token("Alice")), "Alice")
    resume = (await alice.event("token"))["data"]
    assert await handshake_status(session, server.ws_url(channel="tech", token=resume["token"])) == (
        401, "Authentication failed\n")
    # Signed with a key derived from the secret, not with the secret: a forged "resume" claim set fails.
    forged = jwt.encode({"sub": "Alice", "ch": "general", "typ": "resume", "exp": int(time.time()) + 60},
                        "another-secret-of-at-least-32-bytes!", algorithm="HS256")
    assert await handshake_status(session, server.ws_url(channel="general", token=forged)) == (
        401, "Authentication failed\n")
    await eventually(lambda: time.time() > resume["expires"] + 1, timeout=10)  # a token expires with the clock
    assert await handshake_status(session, server.ws_url(channel="general", token=resume["token"])) == (
        401, "Authentication failed\n")


async def test_resume_tokens_are_renewed_while_connected(start_server: Any, connect: Any) -> None:
    """At half of --resume-ttl a connected client gets a fresh token that expires later."""
    server = await start_server("--jwt-secret", SECRET, "--resume-ttl", "2")
    alice = await joined(await connect(server, None, token=token("Alice")), "Alice")
    first = (await alice.event("token"))["data"]
    second = (await alice.event("token", timeout=5))["data"]  # renewed after 1 s
    assert second["expires"] > first["expires"] and second["token"] != first["token"]


async def test_no_token_no_resume_token_and_no_token_in_the_log(start_server: Any, connect: Any) -> None:
    """Without tokens nothing is issued; with them, the server's log (DEBUG) never shows a token."""
    plain = await start_server()
    bob = await joined(await connect(plain, "Bob"), "Bob")
    await bob.chat("marker")
    await bob.until_line("Bob: marker")
    assert not any(frame["event"] == "token" for frame in bob.events)
    server = await start_server("--jwt-secret", SECRET, "--log-level", "DEBUG")
    site_token = token("Alice")
    alice = await joined(await connect(server, None, token=site_token), "Alice")
    resume = (await alice.event("token"))["data"]["token"]
    await alice.chat("hello")
    await alice.until_line("Alice: hello")
    await alice.ws.close()
    await server.wait_for_log("Alice@general left")
    assert not any(site_token in line or resume in line for line in server.lines)


async def test_a_ban_refuses_the_resume_token_of_the_banned(start_server: Any, connect: Any) -> None:
    """A resume token does not get past a ban: the banned handle's reconnect with it is refused with 1008."""
    from .support import run_cli

    server = await start_server("--jwt-secret", SECRET, "--resume-ttl", "600")
    alice = await joined(await connect(server, None, token=token("Alice", expires_in=60)), "Alice")
    resume = (await alice.event("token"))["data"]["token"]
    banned = await run_cli("ban", "general", "Alice", "--data-dir", str(server.data_dir))
    assert banned.returncode == 0, banned.stderr
    assert (await alice.closed())[0] == 1008
    back = await connect(server, None, token=resume)
    assert await back.closed() == (1008, "You are banned from this channel")
