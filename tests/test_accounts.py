"""Accounts (--accounts): sign-up in its three modes, sign-in and lockouts, the cookie, sessions and sockets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from wsserver.protocol import Code

from .support import SECRET, Client, eventually, free_port, joined, run_cli, token
from .support.accounts import PASSWORD, code_of, post, sign_in, sign_up, socket


async def test_open_sign_up_signs_in_and_the_socket_is_the_accounts(start_server: Any, person: Any) -> None:
    """An open server: an account made, its cookie (attributes as asked), and its socket joined as its handle."""
    server = await start_server("--accounts", "--sign-up", "open", "--rate-limit", "0")
    alice = person()
    async with alice.post(server.url + "/api/accounts", json={"handle": "Alice", "password": PASSWORD}) as response:
        assert (response.status, await response.json()) == (201, {"handle": "Alice"})
        cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("wsserver_session=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/" in cookie and "Secure" not in cookie and "Max-Age=2592000" in cookie
    async with alice.get(server.url + "/api/session") as response:
        assert await response.json() == {"handle": "Alice", "op": False, "ops": [], "passkeys": []}
    async with alice.get(server.url + "/api/settings") as response:
        settings = await response.json()
    assert (settings["accounts"], settings["sign_up"]) == (True, "open")
    client = await socket(alice, server, handle="Mallory")  # the parameter is ignored: the handle is the account's
    await joined(client, "Alice")
    stranger = person()
    async with stranger.get(server.ws_url(channel="general", handle="Bob")) as response:
        assert (response.status, await response.text()) == (401, "Authentication failed\n")
    async with stranger.get(server.url + "/api/session") as response:
        assert (response.status, await response.json()) == (401, {"error": "Authentication failed"})
    async with stranger.get(server.url + "/api/channels/general/search?q=x") as response:
        assert response.status == 401
    secret = cookie.split(";")[0].split("=", 1)[1]
    kept = "".join(path.read_text(errors="replace") for path in server.data_dir.rglob("*") if path.is_file())
    assert secret not in kept and PASSWORD not in kept, "the data dir keeps digests and hashes only"
    assert secret not in "\n".join(server.lines) and PASSWORD not in "\n".join(server.lines)


async def test_sign_up_refusals_name_the_problem(start_server: Any, person: Any) -> None:
    """Taken (any case, reserved), the handle rule, the password's length, a bad request, a foreign origin."""
    server = await start_server("--accounts", "--sign-up", "open")
    browser = person()
    assert await sign_up(browser, server, "Alice") == (201, {"handle": "Alice"})
    assert await sign_up(person(), server, "ALICE") == (409, {"error": "That handle is taken"})
    assert await sign_up(person(), server, "System") == (409, {"error": "That handle is taken"})
    assert await sign_up(person(), server, "a b") == (
        400, {"error": "A handle is 3 to 16 letters, digits, underscores or dashes, not starting with a dash"})
    assert await sign_up(person(), server, "Bobby", password="short") == (
        400, {"error": "A password is 10 to 1024 characters"})
    status, body, _ = await post(person(), server, "/api/accounts", {"handle": "Carol"})
    assert (status, body) == (400, {"error": "Invalid request: the body must be a JSON object with handle and "
                                              "password (strings)"})
    status, body, _ = await post(person(), server, "/api/accounts", {"handle": "Carol", "password": PASSWORD},
                                 Origin="http://evil.example")
    assert (status, body) == (403, {"error": "Origin not allowed"})


async def test_invitations_and_the_closed_mode(start_server: Any, person: Any) -> None:
    """invite: a link from `wsserver invite`, used up after its uses; closed: only an operator's set-password link."""
    server = await start_server("--accounts")
    assert await sign_up(person(), server, "Alice") == (403, {"error": "This invitation is not valid"})
    made = await run_cli("invite", "--uses", "2", "--data-dir", str(server.data_dir), "--public-url",
                         "https://chat.example.org")
    assert made.returncode == 0 and made.stdout.startswith("https://chat.example.org/?invite=")
    code = code_of(made.stdout)
    assert await sign_up(person(), server, "Alice", code) == (201, {"handle": "Alice"})
    assert await sign_up(person(), server, "alice", code) == (409, {"error": "That handle is taken"})
    assert await sign_up(person(), server, "Bob", code) == (201, {"handle": "Bob"})  # the second use
    assert await sign_up(person(), server, "Carol", code) == (403, {"error": "This invitation is not valid"})
    await server.stop()
    closed = await start_server("--accounts", "--sign-up", "closed", data_dir=server.data_dir)
    assert await sign_up(person(), closed, "Dave") == (403, {"error": "Sign-up is closed"})
    other = code_of((await run_cli("invite", "--data-dir", str(server.data_dir))).stdout)
    assert await sign_up(person(), closed, "Dave", other) == (403, {"error": "This invitation is not valid"})
    link = await run_cli("accounts", "add", "Erin", "--op", "--data-dir", str(server.data_dir))
    assert link.returncode == 0 and link.stdout.startswith("/?invite="), link
    assert await sign_up(person(), closed, "Frank", code_of(link.stdout)) == (
        403, {"error": "This invitation is not valid"})  # a link made for Erin
    erin = person()
    assert await sign_up(erin, closed, "Erin", code_of(link.stdout)) == (201, {"handle": "Erin"})
    async with erin.get(closed.url + "/api/session") as response:
        assert (await response.json())["op"] is True


async def test_sign_in_refusals_and_the_lockout(start_server: Any, person: Any) -> None:
    """A wrong password and an unknown handle alike; five failures lock the handle out with Retry-After."""
    server = await start_server("--accounts", "--sign-up", "open")
    assert (await sign_up(person(), server, "Alice"))[0] == 201
    wrong = (401, {"error": "Wrong handle or password"})
    assert (await sign_in(person(), server, "Nobody"))[:2] == wrong
    for _ in range(5):
        assert (await sign_in(person(), server, "alice", "wrong password"))[:2] == wrong
    status, body, response = await sign_in(person(), server, "Alice")  # the right one, too late
    assert (status, body) == (429, {"error": "Too many sign-in attempts, try again in 15 minutes"})
    assert 14 * 60 < int(response.headers["Retry-After"]) <= 15 * 60
    assert (await sign_in(person(), server, "Nobody"))[:2] == wrong, "another handle is not locked out"
    await server.wait_for_log("too many sign-in attempts as 'alice'")


async def test_sign_out_and_disable_close_the_sockets_with_their_reason(start_server: Any, person: Any) -> None:
    """Sign out: this device's socket closes with 1008 Signed out; disable (an operator): the others, everywhere."""
    server = await start_server("--accounts", "--sign-up", "open")
    phone, laptop = person(), person()
    assert (await sign_up(phone, server, "Alice"))[0] == 201
    assert (await sign_in(laptop, server, "Alice"))[0] == 200
    on_phone = await joined(await socket(phone, server), "Alice")
    on_laptop = await socket(laptop, server)
    await on_laptop.users_become(["Alice"])  # two devices, one seat: one name in the list
    await on_phone.chat("from the phone")
    await on_laptop.until_line("Alice: from the phone")
    assert len([line for line in on_laptop.lines if line.endswith("System: Alice has joined the chat")]) == 1, \
        "the second device writes no second join line"
    async with phone.delete(server.url + "/api/session") as response:
        assert (response.status, await response.json()) == (200, {"signed_out": 1})
    assert await on_phone.closed() == (1008, "Signed out")
    async with phone.get(server.url + "/api/session") as response:
        assert response.status == 401
    await on_laptop.until_line("Alice")  # still in
    done = await run_cli("accounts", "disable", "Alice", "--data-dir", str(server.data_dir))
    assert done.stdout == "Alice disabled; 1 sessions ended, its sockets close within seconds\n", done
    assert await on_laptop.closed() == (1008, "Your account was disabled")
    await server.wait_for_log("account Alice was disabled or removed: closing its sockets here")
    assert (await sign_in(person(), server, "Alice"))[:2] == (403, {"error": "This account is disabled"})
    assert (await run_cli("accounts", "enable", "Alice", "--data-dir", str(server.data_dir))).returncode == 0
    assert (await sign_in(person(), server, "Alice"))[0] == 200


async def test_sessions_survive_a_restart_and_a_password_change_signs_out_the_others(start_server: Any,
                                                                                      person: Any) -> None:
    """A cookie still signs in after a restart; a new password ends every other session."""
    server = await start_server("--accounts", "--sign-up", "open")
    phone, laptop = person(), person()
    assert (await sign_up(phone, server, "Alice"))[0] == 201
    assert (await sign_in(laptop, server, "Alice"))[0] == 200
    await server.stop()
    again = await start_server("--accounts", "--sign-up", "open", data_dir=server.data_dir)
    on_laptop = await joined(await socket(laptop, again), "Alice")
    status, body, _ = await post(phone, again, "/api/account/password", {"current": "nope", "new": "new password 1"})
    assert (status, body) == (403, {"error": "The current password is wrong"})
    status, body, _ = await post(phone, again, "/api/account/password", {"current": PASSWORD, "new": "new password 1"})
    assert (status, body) == (200, {"handle": "Alice"})
    assert await on_laptop.closed() == (1008, "Signed out")
    async with phone.get(again.url + "/api/session") as response:
        assert response.status == 200, "the device that changed it stays signed in"
    assert (await sign_in(person(), again, "Alice", "new password 1"))[0] == 200


async def test_the_operator_commands_list_op_reset_and_remove(start_server: Any, person: Any, tmp_path: Path) -> None:
    """accounts list shows the accounts; op makes a channel operator; reset and remove end sessions."""
    server = await start_server("--accounts", "--sign-up", "open")
    data = ("--data-dir", str(server.data_dir))
    assert (await sign_up(person(), server, "Alice"))[0] == 201
    assert (await run_cli("accounts", "op", "Alice", "--channel", "tech", *data)).stdout == (
        "Alice is now an operator of tech\n")
    listing = (await run_cli("accounts", "list", *data)).stdout.splitlines()
    assert listing[0] == "handle\tcreated\tlast seen\top\tdisabled\tpasskeys\tsessions"
    assert listing[1].startswith("Alice\t") and listing[1].endswith("\ttech\tno\t0\t1")
    link = (await run_cli("accounts", "reset", "Alice", *data)).stdout
    assert (await sign_in(person(), server, "Alice"))[:2] == (401, {"error": "Wrong handle or password"})
    assert await sign_up(person(), server, "Alice", code_of(link), "a new password") == (201, {"handle": "Alice"})
    assert (await run_cli("accounts", "remove", "Alice", *data)).returncode == 0
    assert await sign_up(person(), server, "Alice") == (409, {"error": "That handle is taken"})
    assert (await run_cli("accounts", "remove", "Alice", *data)) == (
        2, "", f"wsserver: no account 'Alice' in {server.data_dir}\n")
    assert Code.HANDLE_IN_USE.sentence == "That handle is taken"


@pytest.mark.redis
async def test_accounts_on_a_redis_store_across_two_nodes(nodes: Any, person: Any, redis_server: Any) -> None:
    """On Redis: an account made on one node signs in on the other; a lockout and a disable hold on both."""
    a = await nodes("a", "--accounts", "--sign-up", "open")
    b = await nodes("b", "--accounts", "--sign-up", "open")
    alice = person()
    assert await sign_up(alice, a, "Alice") == (201, {"handle": "Alice"})
    on_b = await joined(await socket(alice, b), "Alice")
    for _ in range(5):
        await sign_in(person(), a, "Alice", "wrong password")
    assert (await sign_in(person(), b, "Alice"))[0] == 429
    done = await run_cli("accounts", "disable", "Alice", "--store", redis_server.url)
    assert done.returncode == 0, done
    assert await on_b.closed() == (1008, "Your account was disabled")


async def test_a_bot_posts_over_http_and_reads_over_a_socket(start_server: Any, person: Any,
                                                              session: aiohttp.ClientSession) -> None:
    """add-bot prints a key once; the bot posts (201 with the line's cursor) in its channels only, under the rules."""
    server = await start_server("--accounts", "--sign-up", "open", "--rate-limit", "1", "--rate-burst", "3")
    data = ("--data-dir", str(server.data_dir))
    made = await run_cli("accounts", "add-bot", "deploybot", "--channels", "general", *data)
    key = made.stdout.strip()
    assert made.returncode == 0 and key.startswith("wsb_") and len(key) >= 44, made
    bearer = {"Authorization": f"Bearer {key}"}
    alice = person()
    assert (await sign_up(alice, server, "Alice"))[0] == 201
    reader = await joined(await socket(alice, server), "Alice")
    url = server.url + "/api/channels/{}/messages"
    async with session.post(url.format("general"), json={"text": "deploy done"}, headers=bearer) as response:
        assert response.status == 201
        cursor = (await response.json())["cursor"]
    frame = await reader.until_line_frame("deploybot: deploy done")
    assert frame["cursors"][frame["message"].split("\n").index(
        next(line for line in frame["message"].split("\n") if line.endswith("deploybot: deploy done")))] == cursor
    for body, headers, where, expected in (
        ({"text": "x"}, bearer, "tech", (403, {"error": "Not allowed in this channel"})),
        ({"text": "x"}, {}, "general", (401, {"error": "Authentication failed"})),
        ({"text": "x"}, {"Authorization": "Bearer wsb_not-a-key"}, "general", (401, {"error": "Authentication failed"})),
        ({"text": "   "}, bearer, "general", (400, {"error": "Message is empty"})),
        ({"text": "x" * 2001}, bearer, "general", (400, {"error": "Message is too long (limit 2000 characters)"})),
        ({"words": "x"}, bearer, "general", (400, {"error": "Invalid request: the body must be a JSON object with "
                                                            "text (strings)"})),
        ({"text": "x"}, bearer, "nowhere", (404, {"error": "Unknown channel: nowhere"})),
    ):
        async with session.post(url.format(where), json=body, headers=headers) as response:
            assert (response.status, await response.json()) == expected, (body, where)
    statuses = []
    for number in range(4):
        async with session.post(url.format("general"), json={"text": f"burst {number}"}, headers=bearer) as response:
            statuses.append(response.status)
    assert statuses[-1] == 429 and 201 in statuses
    bot = Client(await session.ws_connect(server.ws_url(channel="general", handle="x"), headers=bearer))
    await joined(bot, "deploybot")
    async with session.get(server.ws_url(channel="tech"), headers=bearer) as response:
        assert (response.status, await response.text()) == (403, "Not allowed in this channel\n")
    rotated = await run_cli("accounts", "rotate-key", "deploybot", *data)
    assert rotated.returncode == 0 and rotated.stdout.strip() != key
    assert await bot.closed() == (1008, "Signed out")
    async with session.post(url.format("general"), json={"text": "old key"}, headers=bearer) as response:
        assert response.status == 401
    fresh = {"Authorization": f"Bearer {rotated.stdout.strip()}"}
    async with session.post(url.format("general"), json={"text": "new key"}, headers=fresh) as response:
        assert response.status == 201
    assert (await run_cli("accounts", "remove-bot", "deploybot", *data)).returncode == 0
    async with session.post(url.format("general"), json={"text": "gone"}, headers=fresh) as response:
        assert response.status == 401
    assert key not in "\n".join(server.lines)


async def test_two_workers_share_accounts_lockouts_and_a_ban_holds_on_every_device(start_server: Any,
                                                                                   person: Any) -> None:
    """On --workers 2: a lockout counts failures on both workers; a ban on the account's handle refuses each device."""
    server = await start_server("--accounts", "--sign-up", "open", "--workers", "2", "--port", str(free_port()))
    await eventually(lambda: len([line for line in server.lines if re.search(r"worker \d+\[\d+\] wsserver: listening",
                                                                                 line)]) == 2)
    phone, laptop = person(), person()
    assert (await sign_up(phone, server, "Alice"))[0] == 201
    assert (await sign_in(laptop, server, "Alice"))[0] == 200
    for _ in range(5):  # each on a fresh connection: the kernel spreads them over the two workers
        assert (await sign_in(person(), server, "Alice", "wrong password"))[0] == 401
    for _ in range(4):
        assert (await sign_in(person(), server, "Alice"))[0] == 429, "locked out whichever worker answers"
    assert (await run_cli("ban", "general", "Alice", "--data-dir", str(server.data_dir))).returncode == 0
    for device in (phone, laptop):
        refused = await socket(device, server)
        assert await refused.refusal() == {"success": False, "message": "You are banned from this channel"}


async def test_twenty_failures_from_one_address_lock_that_address_out(start_server: Any, person: Any) -> None:
    """Twenty failed sign-ins from one address, each for another handle, lock out every handle from it."""
    server = await start_server("--accounts", "--sign-up", "open")
    assert (await sign_up(person(), server, "Alice"))[0] == 201
    for number in range(20):
        assert (await sign_in(person(), server, f"guess{number}", "wrong password"))[0] == 401
    status, body, response = await sign_in(person(), server, "Alice")  # the right password, from that address
    assert (status, body) == (429, {"error": "Too many sign-in attempts, try again in 15 minutes"})
    assert int(response.headers["Retry-After"]) > 14 * 60


async def test_a_site_token_still_works_beside_accounts(start_server: Any, person: Any,
                                                        session: aiohttp.ClientSession) -> None:
    """With --accounts and --jwt-secret, a site's token opens a socket as before; neither one: 401."""
    server = await start_server("--accounts", "--sign-up", "open", "--jwt-secret", SECRET)
    by_token = Client(await session.ws_connect(server.ws_url(channel="general", token=token("Tina"))))
    await joined(by_token, "Tina")
    alice = person()
    assert (await sign_up(alice, server, "Alice"))[0] == 201
    await joined(await socket(alice, server), "Alice")
    async with session.get(server.ws_url(channel="general", handle="Eve")) as response:
        assert (response.status, await response.text()) == (401, "Authentication failed\n")
