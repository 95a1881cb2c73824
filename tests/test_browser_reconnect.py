"""The page in a real headless Chromium (Debian's), driven by Playwright: restarts, resumes, tokens and reconnection, on both stores."""

from __future__ import annotations

import re
import signal
from typing import Any

import pytest

from .support import Server, eventually, free_port, joined
from .support.browser import ChatStore, connect_by_form, say, shown_lines, wait_for_line
from .support.clients import version_of

pytestmark = pytest.mark.timeout(120)


async def test_restart_reconnects_without_duplicates(chat_store: ChatStore, new_page: Any) -> None:
    """After a server restart the page reconnects by itself and shows every line exactly once (both stores)."""
    port = free_port()
    first = await chat_store.start("--port", str(port), "--rate-limit", "0")
    page = await new_page(first.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await say(page, "before restart")
    await wait_for_line(page, "before restart")
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    assert await first.stop(signal.SIGTERM) == 0
    await page.get_by_role("status").filter(has_text=re.compile(r"Reconnecting in \d+ s")).wait_for()
    await chat_store.start("--port", str(port), "--rate-limit", "0")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for(timeout=20_000)
    await say(page, "after restart")
    await wait_for_line(page, "after restart")
    assert await shown_lines(page) == chat_store.lines("general"), "each line of the log once, in order"
    # It resumed with the version of the users list it held (the same set: its seat was kept), so it was sent
    # no list, and still shows it.
    assert f"presence={version_of(['Alice'])}" in sockets[-1] and "since=" in sockets[-1]
    await page.get_by_role("list", name="Users").get_by_role("button", name="Alice", exact=True).wait_for()
    assert await page.get_by_text("may not be shown").count() == 0
    assert page.errors == []


async def test_disconnect_does_not_reconnect(server: Server, new_page: Any) -> None:
    """Disconnect closes the socket, writes the leave line and stays disconnected."""
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await page.get_by_role("button", name="Disconnect").click()
    await page.get_by_role("status").filter(has_text="Disconnected").wait_for()
    await eventually(lambda: server.file_lines("general")[-1].endswith("System: Alice has left the chat"))
    # Proving that nothing happens takes a wait: longer than the shortest reconnect delay (1 s).
    await page.wait_for_timeout(1500)
    assert await page.locator("#state").inner_text() == "Disconnected"
    assert sum("Alice@general joined" in line for line in server.lines) == 1
    assert await page.get_by_label("Message").is_disabled()


async def test_reconnect_resumes_with_no_gap(chat_store: ChatStore, new_page: Any, connect: Any) -> None:
    """Lines written while the page was away, beyond its history length, appear once after it reconnects."""
    port = free_port()
    first = await chat_store.start("--port", str(port), "--rate-limit", "0", "--history", "3")
    page = await new_page(first.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await first.stop(signal.SIGTERM)
    await page.get_by_role("status").filter(has_text=re.compile(r"Reconnecting")).wait_for()
    # Another server on the same store writes while the page is away.
    writer_server = await chat_store.start("--rate-limit", "0")
    writer = await joined(await connect(writer_server, "Writer"), "Writer")
    for i in range(20):
        await writer.chat(f"while away {i}")
    await writer.until_line("while away 19")
    await chat_store.start("--port", str(port), "--rate-limit", "0", "--history", "3")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for(timeout=20_000)
    await wait_for_line(page, "while away 19")
    await writer.chat("live again")
    await wait_for_line(page, "live again")
    shown = await shown_lines(page)
    assert shown == chat_store.lines("general")[: len(shown)] and len(shown) >= 24
    assert await page.get_by_text("may not be shown").count() == 0


async def test_scrolling_up_loads_older_lines(chat_store: ChatStore, new_page: Any) -> None:
    """Scrolling to the top pages older lines in, until the first line of the log (both stores)."""
    old = [f"[2026-11-22 10:00:00] Old: old line {i}" for i in range(250)]
    chat_store.seed("general", old)
    server = await chat_store.start("--history", "20")
    page = await new_page(server.url + "/?channel=general&handle=Alice", height=600)
    await wait_for_line(page, "old line 249")
    log = page.get_by_role("log")
    for expected in ("old line 130", "old line 30", "old line 0"):
        await log.evaluate("l => { l.scrollTop = 0; l.dispatchEvent(new Event('scroll')); }")
        await wait_for_line(page, expected)
    await wait_for_line(page, "Alice has joined the chat")
    assert await shown_lines(page) == chat_store.lines("general")
    assert (await shown_lines(page))[:250] == old
    assert page.errors == []


async def test_token_link_joins_as_the_token_subject(start_server: Any, new_page: Any) -> None:
    """With --jwt-secret, a link carrying token= joins as the token's sub, whatever handle the page shows."""
    import time

    import jwt

    secret = "a-test-secret-of-at-least-32-bytes!!"
    server = await start_server("--jwt-secret", secret)
    token = jwt.encode({"sub": "Alice", "exp": int(time.time()) + 60}, secret, algorithm="HS256")
    page = await new_page(server.url + f"/?channel=general&token={token}&handle=Mallory")
    await page.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    assert await page.get_by_label("Handle").input_value() == "Alice"
    await say(page, "signed in")
    await page.locator("li.own", has_text="signed in").wait_for()
    refused = await new_page(server.url + "/?channel=general&handle=Bob")
    await refused.get_by_role("status").filter(has_text=re.compile("Reconnecting|Disconnected")).wait_for()


async def test_a_token_page_outlives_its_token_across_a_restart(start_server: Any, new_page: Any) -> None:
    """A page opened with a token that expires in seconds reconnects after a restart past that, with the
    server's resume token; the token is gone from the address bar as soon as the page has read it."""
    import time

    import jwt

    secret = "a-test-secret-of-at-least-32-bytes!!"
    port = str(free_port())
    first = await start_server("--jwt-secret", secret, "--port", port)
    expires = int(time.time()) + 3
    site_token = jwt.encode({"sub": "Alice", "exp": expires}, secret, algorithm="HS256")
    page = await new_page(first.url + f"/?channel=general&token={site_token}")
    await page.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    assert await page.evaluate("location.search") == "?channel=general"
    await eventually(lambda: time.time() > expires + 1, timeout=10)  # the site's token has expired
    assert await first.stop(signal.SIGTERM) == 0
    await page.get_by_role("status").filter(has_text=re.compile(r"Reconnecting in \d+ s")).wait_for()
    second = await start_server("--jwt-secret", secret, "--port", port, data_dir=first.data_dir)
    await page.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for(timeout=20_000)
    await say(page, "still signed in")
    await wait_for_line(page, "still signed in")
    await second.wait_for_log("Alice@general came back")  # with since=, inside the grace: no join line
    # Disconnect, then Connect again to the same channel: the resume token still serves.
    await page.get_by_role("button", name="Disconnect").click()
    await page.get_by_role("status").filter(has_text="Disconnected").wait_for()
    await page.get_by_role("button", name="Connect").click()
    await page.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    assert page.errors == []


async def test_refused_before_the_upgrade_is_said(start_server: Any, new_page: Any) -> None:
    """A socket refused at the HTTP level (here: origin not allowed) tells the person, and retries."""
    server = await start_server("--allowed-origins", "https://elsewhere.example")
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("alert").filter(has_text="Could not connect to the chat server").wait_for()
    await page.get_by_role("status").filter(has_text=re.compile(r"Reconnecting in \d+ s")).wait_for()
    await server.wait_for_log("refused a socket from 127.0.0.1: Origin not allowed")


async def test_the_page_on_two_nodes_sharing_redis(nodes: Any, new_page: Any) -> None:
    """Pages on two Redis nodes: channel counts, user lists, lines and /msg all cross nodes."""
    a, b = await nodes("a"), await nodes("b")
    alice = await new_page(a.url + "/?channel=general&handle=Alice")
    await alice.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    bob = await new_page(b.url + "/")
    await bob.get_by_label("Channel", exact=True).locator("option", has_text="general (1 user)").wait_for(state="attached")
    await connect_by_form(bob, "Bob")
    await wait_for_line(alice, "Bob has joined the chat")
    for page in (alice, bob):
        users = page.get_by_role("list", name="Users")
        await users.get_by_role("button", name="Alice", exact=True).wait_for()
        await users.get_by_role("button", name="Bob", exact=True).wait_for()
    await say(alice, "hello across nodes")
    await wait_for_line(bob, "hello across nodes")
    await say(bob, "/msg Alice just you")
    row = alice.locator("li.private", has_text="just you")
    await row.wait_for()
    assert await row.locator(".handle").inner_text() == "Bob → Alice"
    taken = await new_page(b.url + "/?channel=general&handle=alice")
    await taken.get_by_role("alert").filter(has_text="User already registered").wait_for()
    assert alice.errors == [] and bob.errors == []
