"""The page in a real headless Chromium (Debian's), driven by Playwright: deleting, kicking, banning and muting."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .support import Server, joined, run_cli
from .support.browser import axe_violations, say, wait_for_line

pytestmark = pytest.mark.timeout(120)


async def test_deleting_ones_own_line_in_the_page(server: Server, new_page: Any, connect: Any) -> None:
    """Own lines have a Delete control, confirmed in a dialog; the line shows as deleted everywhere."""
    bob = await joined(await connect(server, "Bob"), "Bob")
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await bob.chat("a line of Bob")
    await wait_for_line(page, "a line of Bob")
    await say(page, "oops, wrong window")
    await wait_for_line(page, "oops, wrong window")
    assert await page.locator("li", has_text="a line of Bob").get_by_role("button", name="Delete").count() == 0  # not Alice's
    await page.get_by_role("button", name=re.compile("^Delete the line of Alice")).click()
    dialog = page.get_by_role("dialog", name="Delete this message?")
    await dialog.wait_for()
    assert await dialog.get_by_label("For").is_hidden()
    await dialog.get_by_role("button", name="Delete", exact=True).click()
    await page.locator("li.deleted .text", has_text="message deleted").wait_for()
    cursor = (await bob.event("deleted"))["data"]["cursor"]
    assert await page.locator("li.deleted").get_attribute("data-cursor") == cursor
    assert await page.get_by_role("log").get_by_text("oops, wrong window").count() == 0
    # One act, one row: the moderation line is in the list (the log holds it) but not shown beside it.
    await page.get_by_role("log").locator("li", has_text="was deleted by Alice").wait_for(state="attached")
    assert await page.get_by_role("log").locator("li", has_text="was deleted by Alice").is_hidden()
    # Reloaded, the page shows it deleted from its history too.
    await page.reload()
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await page.locator("li.deleted .text", has_text="message deleted").wait_for()
    assert page.errors == []


async def test_deleting_ones_own_private_line_in_the_page(server: Server, new_page: Any, connect: Any) -> None:
    """A private line of one's own has a Delete control; the other end is told, and both show it deleted."""
    bob = await joined(await connect(server, "Bob"), "Bob")
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await bob.send({"type": "private", "to": "Alice", "message": "a private line of Bob"})
    await wait_for_line(page, "a private line of Bob")
    await say(page, "/msg Bob the wrong password")
    await page.get_by_role("button", name="Send unencrypted").click()  # Bob's socket has no key
    sent = (await bob.event("private", to="Bob"))["data"]
    await wait_for_line(page, "the wrong password")
    assert await page.locator("li", has_text="a private line of Bob").get_by_role("button", name="Delete").count() == 0
    await page.locator("li.private", has_text="the wrong password").get_by_role(
        "button", name=re.compile("^Delete the line of Alice")).click()
    dialog = page.get_by_role("dialog", name="Delete this message?")
    await dialog.get_by_role("button", name="Delete", exact=True).click()
    assert (await bob.event("deleted"))["data"] == {"channel": "general", "cursor": sent["cursor"], "private": True}
    deleted = page.locator("li.private.deleted")
    await deleted.locator(".text", has_text="message deleted").wait_for()
    assert await deleted.get_attribute("data-private") == sent["cursor"]
    assert await page.get_by_role("log").get_by_text("the wrong password").count() == 0
    assert page.errors == []


async def test_a_channel_operator_bans_from_the_users_list_by_keyboard(start_server: Any, new_page: Any,
                                                                       connect: Any) -> None:
    """An operator's page has Kick, Ban and Mute beside each name; Ban asks for how long and why."""
    import time

    import jwt

    secret = "a-test-secret-of-at-least-32-bytes!!"
    server = await start_server("--jwt-secret", secret, "--rate-limit", "0")

    def token(handle: str, **claims: Any) -> str:
        return str(jwt.encode({"sub": handle, "exp": int(time.time()) + 300, **claims}, secret, algorithm="HS256"))

    bob = await joined(await connect(server, None, token=token("Bob")), "Bob")
    page = await new_page(server.url + f"/?channel=general&token={token('Olga', ops=['general'])}")
    await page.get_by_role("status").filter(has_text="Connected to general as Olga").wait_for()
    users = page.get_by_role("list", name="Users")
    await users.get_by_role("button", name="Ban Bob").wait_for()
    assert await users.get_by_role("button", name="Kick Olga").count() == 0  # not oneself
    await bob.chat("spam spam spam")
    await wait_for_line(page, "spam spam spam")
    await page.get_by_role("button", name=re.compile("^Delete the line of Bob")).wait_for()  # an operator's
    await users.get_by_role("button", name="Ban Bob").focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Ban Bob?")
    await dialog.wait_for()
    assert await axe_violations(page) == []
    await dialog.get_by_label("For").select_option(label="1 hour")
    await dialog.get_by_label("Reason (optional)").fill("spam")
    await dialog.get_by_label("Reason (optional)").press("Enter")
    assert await bob.closed() == (1008, "You are banned from this channel: spam")
    await wait_for_line(page, "Bob was banned by Olga for 1h (spam)")
    await users.get_by_role("button", name="Ban Bob").wait_for(state="detached")


async def test_refusals_of_moderation_show_in_the_alert_and_a_kick_does_not_reconnect(
    server: Server, new_page: Any
) -> None:
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    data = str(server.data_dir)
    assert (await run_cli("mute", "general", "Alice", "--data-dir", data))[0] == 0
    await wait_for_line(page, "Alice was muted by the operator until unmuted")
    await say(page, "can I talk?")
    await page.get_by_role("alert").filter(has_text="You are muted in this channel").wait_for()
    assert (await run_cli("kick", "general", "Alice", "--reason", "cool off", "--data-dir", data))[0] == 0
    await page.get_by_role("alert").filter(has_text="You were removed from the channel: cool off").wait_for()
    await page.locator("#state").filter(has_text="Disconnected").wait_for()
