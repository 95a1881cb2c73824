"""The page with accounts: the sign-in screen, creating an account, signing out, and a session ended elsewhere."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .support import Server
from .support.browser import axe_violations, say, wait_for_line

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


async def create_account(page: Any, handle: str) -> None:
    await page.get_by_role("heading", name="Sign in").wait_for()
    form = page.get_by_role("form", name="Sign in")
    await form.get_by_label("Handle").fill(handle)
    await form.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()


@pytest.mark.parametrize(("width", "scheme"), [(1280, "light"), (375, "dark")])
async def test_create_an_account_chat_and_sign_out(start_server: Any, new_page: Any, width: int, scheme: str) -> None:
    """Sign-up open: Create account, the handle is the account's, chat, Sign out back to the sign-in screen; axe clean."""
    server: Server = await start_server("--accounts", "--sign-up", "open")
    page = await new_page(server.url + "/?channel=general", width=width, color_scheme=scheme)
    await page.get_by_role("heading", name="Sign in").wait_for()
    assert await axe_violations(page) == []
    await create_account(page, "Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to general as Alice")).wait_for()
    await say(page, "hello as an account")
    await wait_for_line(page, "hello as an account")
    assert await axe_violations(page) == []
    if width == 375:  # the header's buttons are in the channel's menu on a phone
        await page.get_by_role("button", name="Channel menu").click()
        await page.get_by_role("menuitem", name="Account").click()
    else:
        await page.get_by_role("button", name="Account", exact=True).click()
    dialog = page.get_by_role("dialog", name="Account")
    await dialog.get_by_text("Signed in as Alice.").wait_for()
    await dialog.get_by_label("Current password").fill("not it")
    await dialog.get_by_label("New password").fill("a new password 2")
    await dialog.get_by_role("button", name="Change password").click()
    await dialog.get_by_role("status").filter(has_text="The current password is wrong").wait_for()
    await dialog.get_by_label("Current password").fill(PASSWORD)
    await dialog.get_by_role("button", name="Change password").click()
    await dialog.get_by_role("status").filter(has_text="Password changed.").wait_for()
    assert await axe_violations(page) == []
    await dialog.get_by_role("button", name="Sign out", exact=True).click()
    await page.get_by_role("heading", name="Sign in").wait_for()
    again = await new_page(server.url + "/")
    form = again.get_by_role("form", name="Sign in")
    await form.get_by_label("Handle").fill("Alice")
    await form.get_by_label("Password").fill(PASSWORD)  # the old one: changed above
    await again.get_by_role("button", name="Sign in", exact=True).click()
    await again.get_by_role("alert").filter(has_text="Wrong handle or password").wait_for()
    assert page.errors == [] and again.errors == []


async def test_a_session_ended_elsewhere_shows_the_sign_in_screen_with_why(start_server: Any, new_page: Any) -> None:
    """Signed out everywhere from another device: the socket closes with Signed out, and the page says so."""
    server: Server = await start_server("--accounts", "--sign-up", "open")
    laptop = await new_page(server.url + "/?channel=general")
    await create_account(laptop, "Alice")
    await laptop.get_by_role("status").filter(has_text=re.compile("^Connected to general as Alice")).wait_for()
    phone = await new_page(server.url + "/")
    form = phone.get_by_role("form", name="Sign in")
    await form.get_by_label("Handle").fill("Alice")
    await form.get_by_label("Password").fill(PASSWORD)
    await phone.get_by_role("button", name="Sign in", exact=True).click()
    await phone.get_by_role("button", name="Connect").wait_for()
    assert await phone.locator("#join").get_by_label("Handle").input_value() == "Alice"
    response = await phone.request.delete(server.url + "/api/sessions")
    assert response.status == 200
    await laptop.get_by_role("alert").filter(has_text="Signed out").wait_for()
    await laptop.get_by_role("heading", name="Sign in").wait_for()


async def test_a_bots_lines_and_name_are_marked(start_server: Any, new_page: Any,
                                               session: Any) -> None:
    """The page marks a bot's lines and its name in the Users list with `bot`, from the server's list of bots."""
    from .support import run_cli

    server: Server = await start_server("--accounts", "--sign-up", "open")
    key = (await run_cli("accounts", "add-bot", "deploybot", "--data-dir", str(server.data_dir))).stdout.strip()
    page = await new_page(server.url + "/?channel=general")
    await create_account(page, "Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to general as Alice")).wait_for()
    async with session.post(server.url + "/api/channels/general/messages", json={"text": "build 1.4.2 is green"},
                            headers={"Authorization": f"Bearer {key}"}) as response:
        assert response.status == 201
    line = page.locator("#log li.line.bot").filter(has_text="build 1.4.2 is green")
    await line.wait_for()
    assert await line.locator(".bot-tag").inner_text() == "bot"
    from .support import Client

    bot = Client(await session.ws_connect(server.ws_url(channel="general"), headers={"Authorization": f"Bearer {key}"}))
    await bot.until_line("deploybot has joined")
    await page.locator("#users li").filter(has_text="deploybot").locator(".bot-tag").wait_for()
    assert await axe_violations(page) == []


async def test_signing_in_with_the_keyboard_alone(start_server: Any, new_page: Any) -> None:
    """The sign-in screen takes focus in the handle field; Tab, type, Enter sign in without a pointer."""
    from .support import run_cli

    server: Server = await start_server("--accounts")  # sign-up by invitation: an account made by link first
    link = (await run_cli("accounts", "add", "Alice", "--data-dir", str(server.data_dir))).stdout.strip()
    page = await new_page(server.url + link)
    await page.get_by_role("heading", name="Sign in").wait_for()
    await page.keyboard.type("Alice")  # the handle field has focus
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Tab")  # Sign in
    await page.keyboard.press("Tab")  # Create account: the link's invitation sets the password
    await page.keyboard.press("Enter")
    await page.get_by_role("button", name="Account", exact=True).wait_for()
    await page.get_by_role("button", name="Account", exact=True).focus()
    await page.keyboard.press("Enter")
    await page.get_by_role("dialog", name="Account").get_by_text("Signed in as Alice.").wait_for()
    await page.keyboard.press("Escape")
    await page.get_by_role("dialog", name="Account").wait_for(state="hidden")
    assert page.errors == []



async def test_a_private_line_kept_for_an_account_is_in_its_log_when_it_signs_in(start_server: Any, new_page: Any,
                                                                                 person: Any) -> None:
    """/msg to an account away: the sender's page says it was kept; the account's page shows it among the lines."""
    from .support.accounts import sign_up

    server: Server = await start_server("--accounts", "--sign-up", "open")
    assert (await sign_up(person(), server, "Bob", password=PASSWORD))[0] == 201
    alice = await new_page(server.url + "/?channel=general")
    await create_account(alice, "Alice")
    await say(alice, "before the private line")
    await wait_for_line(alice, "before the private line")
    await say(alice, "/msg Bob kept for you")
    # Bob has no public key (he never joined): the page cannot encrypt for him, and asks.
    await alice.get_by_role("alert").filter(has_text="Bob has no key yet: not sent").wait_for()
    await alice.get_by_role("button", name="Send unencrypted").click()
    await alice.get_by_text("Bob is not here now: the message is kept, and Bob will see it on joining").wait_for()
    await alice.locator("#lines li.private").filter(has_text="kept for you").wait_for()

    bob = await new_page(server.url + "/?channel=general")
    form = bob.get_by_role("form", name="Sign in")
    await form.get_by_label("Handle").fill("Bob")
    await form.get_by_label("Password").fill(PASSWORD)
    await bob.get_by_role("button", name="Sign in", exact=True).click()
    row = bob.locator("#lines li.private").filter(has_text="kept for you")
    await row.wait_for()
    assert await row.locator(".handle").text_content() == "Alice → Bob"
    texts = await bob.locator("#lines li.line").all_text_contents()
    where = {text: i for i, text in enumerate(texts)}
    assert min(i for text, i in where.items() if "before the private line" in text) < min(
        i for text, i in where.items() if "kept for you" in text), texts
    await bob.reload()  # the signed-in page again: from the backlog once more, once
    await bob.locator("#lines li.private").filter(has_text="kept for you").wait_for()
    await say(bob, "marker")
    await wait_for_line(bob, "marker")
    assert await bob.locator("#lines li.private").filter(has_text="kept for you").count() == 1
    assert alice.errors == [] and bob.errors == []
