"""The page in a real headless Chromium (Debian's), driven by Playwright: the users list, typing and private messages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .support import Server, joined, seed_log
from .support.browser import say, wait_for_line

pytestmark = pytest.mark.timeout(120)


async def test_user_list_updates_live_and_starts_msg(server: Server, new_page: Any, connect: Any) -> None:
    """The Users list follows joins and leaves; clicking a name starts /msg to them."""
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    users = page.get_by_role("list", name="Users")
    await users.get_by_role("button", name="Alice", exact=True).wait_for()
    bob = await joined(await connect(server, "Bob"), "Bob")
    await users.get_by_role("button", name="Bob", exact=True).wait_for()
    await page.get_by_label("Channel", exact=True).locator("option", has_text="general (2 users)").wait_for(state="attached")
    await bob.ws.close()
    await users.get_by_role("button", name="Bob", exact=True).wait_for(state="detached")
    carol = await joined(await connect(server, "Carol"), "Carol")
    await users.get_by_role("button", name="Carol", exact=True).click()
    assert await page.get_by_label("Message").input_value() == "/msg Carol "
    await page.get_by_label("Message").press_sequentially("just you")
    await page.get_by_label("Message").press("Enter")
    await page.get_by_role("alert").filter(has_text="Carol has no key yet: not sent").wait_for()
    await page.get_by_role("button", name="Send unencrypted").click()  # Carol's client publishes no key
    frame = await carol.event("private")
    assert frame["data"]["message"].endswith("] Alice -> Carol: just you")


async def test_typing_indicator(server: Server, new_page: Any) -> None:
    """Typing in one page shows "Alice is typing…" in the other, gone once the message is sent."""
    alice = await new_page(server.url + "/?channel=general&handle=Alice")
    bob = await new_page(server.url + "/?channel=general&handle=Bob")
    await alice.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await bob.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await alice.get_by_label("Message").press_sequentially("hel")
    await bob.locator("#typing").filter(has_text="Alice is typing…").wait_for()
    assert await alice.locator("#typing").inner_text() == ""
    await alice.get_by_label("Message").press("Enter")
    await wait_for_line(bob, "hel")
    await bob.locator("#typing").filter(has_text=re.compile("^$")).wait_for()
    assert "typing" not in server.log_path("general").read_text()


async def test_msg_command_is_private(server: Server, new_page: Any) -> None:
    """/msg Bob text reaches Bob and Alice marked private, and not Carol."""
    pages = {}
    for handle in ("Alice", "Bob", "Carol"):
        pages[handle] = await new_page(server.url + f"/?channel=general&handle={handle}")
        await pages[handle].get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await pages["Alice"].get_by_role("list", name="Users").get_by_role("button", name="Carol", exact=True).wait_for()
    await say(pages["Alice"], "/msg Bob the secret")
    for handle in ("Alice", "Bob"):
        row = pages[handle].locator("li.private", has_text="the secret")
        await row.wait_for()
        assert await row.locator(".handle").inner_text() == "Alice → Bob"
    await say(pages["Alice"], "public after")
    await wait_for_line(pages["Carol"], "public after")
    assert await pages["Carol"].get_by_text("the secret").count() == 0
    await say(pages["Alice"], "/msg Nobody hello")
    await pages["Alice"].get_by_role("alert").filter(has_text="User not found").wait_for()


async def test_runs_of_joins_and_leaves_fold_into_one_row(start_server: Any, new_page: Any, connect: Any,
                                                          tmp_path: Any) -> None:
    """Runs of three or more join and leave lines fold into one row naming each handle once; it opens to the lines."""
    stamp = "[2026-11-22 14:00:{:02d}] System: {} has {} the chat"
    seeded = [stamp.format(i, who, verb) for i, (who, verb) in enumerate(
        [("Ann", "joined"), ("Ben", "joined"), ("Cid", "joined"), ("Dee", "joined"), ("Eve", "joined"),
         ("Ben", "left"), ("Fay", "joined"), ("Fay", "left"), ("Fay", "joined"), ("Fay", "left")])]
    server = await start_server("--rate-limit", "0", data_dir=seed_log(tmp_path / "data", "general",
                                                                        [*seeded, "[2026-11-22 14:01:00] Ann: hi"]))
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    folded = page.locator("#lines li.fold summary")
    await folded.first.wait_for()
    # Each handle once, with what it did: not "Ann, Ben, ... joined; Ben left", nor Fay twice on each side.
    assert await folded.first.inner_text() == "Ann, Cid and 2 others joined; Ben joined and left; " \
                                              "Fay joined and left twice"
    await page.get_by_role("log").get_by_text("hi", exact=True).wait_for()
    assert not await page.get_by_text("Cid has joined the chat", exact=True).is_visible()
    await folded.first.click()
    await page.get_by_text("Cid has joined the chat", exact=True).wait_for()
    # Live: Alice's own join line and three more in a row become one row too.
    for handle in ("Bob", "Cyd", "Dan"):
        await joined(await connect(server, handle), handle)
    await folded.nth(1).filter(has_text="Alice, Bob and 2 others joined").wait_for()
    assert await page.locator("#lines > li.fold").count() == 2
    assert page.errors == []
