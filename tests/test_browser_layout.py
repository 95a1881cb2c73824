"""The page in a real headless Chromium (Debian's), driven by Playwright: keyboard use, phone widths and an accessibility audit."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .support import Server, joined
from .support.browser import axe_violations, connect_by_form, say, wait_for_line

pytestmark = pytest.mark.timeout(120)


async def test_keyboard_only(server: Server, new_page: Any) -> None:
    """Everything works from the keyboard: fill the form, connect with Enter, send with Enter."""
    page = await new_page(server.url + "/")
    await page.get_by_label("Channel", exact=True).locator("option").first.wait_for(state="attached")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "channel"
    await page.keyboard.press("Tab")
    await page.keyboard.type("Keys")
    await page.keyboard.press("Enter")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await page.get_by_label("Message").focus()
    await page.keyboard.type("typed")
    await page.keyboard.press("Enter")
    await wait_for_line(page, "typed")


async def test_phone_width(server: Server, new_page: Any) -> None:
    """At 375 px wide the connect screen's controls are on screen and nothing overflows sideways."""
    page = await new_page(server.url + "/", width=375, height=700)
    await page.get_by_label("Channel", exact=True).locator("option").first.wait_for(state="attached")
    await _on_screen(page, page.get_by_label("Channel", exact=True), page.get_by_label("Handle"),
                     page.get_by_role("button", name="Connect"))


async def test_the_phone_layout_gives_the_log_the_screen(server: Server, new_page: Any, connect: Any) -> None:
    """At 375 x 740: one header row, the log at least 60 % of the height, the message box on screen in one row,
    nothing sideways; the channel's menu holds the rest and works by keyboard; Search is a panel over the log and
    Users a drawer, each closed by Escape."""
    page = await new_page(server.url + "/?channel=general&handle=Alice", width=375, height=740)
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await joined(await connect(server, "Bob"), "Bob")
    await page.get_by_role("button", name="general users").wait_for()
    channels, name = page.get_by_role("button", name="Channels"), page.get_by_role("button", name="general users")
    menu_button = page.get_by_role("button", name="Channel menu")
    assert await menu_button.get_attribute("aria-haspopup") == "menu"
    row = [await control.bounding_box() for control in (channels, name, menu_button)]
    assert all(box is not None for box in row)
    assert max(box["y"] + box["height"] / 2 for box in row) - min(box["y"] + box["height"] / 2 for box in row) < 4
    log = await page.get_by_role("log").bounding_box()
    assert log is not None and log["height"] / 740 >= 0.6, f"the log has {log['height'] / 740:.0%} of the height"
    message, send = page.get_by_label("Message"), page.get_by_role("button", name="Send")
    assert await page.get_by_label("Attach").count() == 1, "the paperclip is named Attach"
    await _on_screen(page, channels, name, menu_button, message, page.locator(".attach label"), send, height=740)
    boxes = [await locator.bounding_box() for locator in (page.locator(".attach label"), message, send)]
    assert max(b["y"] + b["height"] for b in boxes) - min(b["y"] for b in boxes) < 60, "the message box is one row"
    assert await page.locator("#encrypt-toggle").is_hidden()
    # Every control by keyboard: Tab reaches the header's three buttons, the log, the box, Attach and Send.
    reached = set()
    await page.locator("body").focus()
    for _ in range(12):
        await page.keyboard.press("Tab")
        reached.add(await page.evaluate("document.activeElement.id || document.activeElement.className"))
    assert {"drawer", "people-toggle", "channel-menu-button", "log", "message", "attach", "send"} <= reached, reached
    # The menu: Enter opens it on its first item, arrows move, Escape closes back to its button.
    await menu_button.focus()
    await page.keyboard.press("Enter")
    items = page.get_by_role("menu", name="Channel menu").get_by_role(re.compile("menuitem"))
    assert await page.get_by_role("menu", name="Channel menu").locator("[role^=menuitem]:visible").all_text_contents() == [
        "Encrypt with passphrase", "Users", "Search", "Go to date", "Notifications", "Dark theme", "Formatting help",
        "Disconnect"]
    assert await page.evaluate("document.activeElement.textContent") == "Encrypt with passphrase"
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowDown")
    assert await page.evaluate("document.activeElement.textContent") == "Search"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "search"
    await page.keyboard.type("Bob")
    await page.keyboard.press("Enter")
    await page.get_by_role("status").filter(has_text="1 line found").wait_for()
    await _on_screen(page, page.get_by_label("Search", exact=True), height=740)
    await page.keyboard.press("Escape")
    await page.get_by_label("Search", exact=True).wait_for(state="hidden")
    assert await page.evaluate("document.activeElement.id") == "channel-menu-button"
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("End")
    assert await page.evaluate("document.activeElement.textContent") == "Disconnect"
    await page.keyboard.press("Escape")
    assert await items.first.is_hidden() and await page.evaluate("document.activeElement.id") == "channel-menu-button"
    # Users: the channel's name opens the drawer; Escape closes it back to the name.
    await name.click()
    users = page.get_by_role("list", name="Users")
    await users.get_by_role("button", name="Bob", exact=True).wait_for()
    assert await name.get_attribute("aria-expanded") == "true"
    await page.keyboard.press("Escape")
    await users.wait_for(state="hidden")
    assert await page.evaluate("document.activeElement.id") == "people-toggle"
    assert await axe_violations(page) == []
    assert page.errors == []


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
async def test_the_drawers_respect_reduced_motion(server: Server, new_page: Any, motion: str) -> None:
    page = await new_page(server.url + "/?channel=general&handle=Alice", width=375, height=740, reduced_motion=motion)
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await page.get_by_role("button", name="general users").click()
    animation = await page.locator("#people").evaluate("p => getComputedStyle(p).animationName")
    assert animation == ("none" if motion == "reduce" else "slide-from-right")


async def test_the_wide_layout_keeps_its_controls_and_the_menu_holds_the_passphrase(server: Server,
                                                                                 new_page: Any) -> None:
    page = await new_page(server.url + "/?channel=general&handle=Alice", width=1280, height=800)
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    for control in (page.get_by_label("Search", exact=True), page.get_by_label("Go to date"),
                    page.get_by_role("button", name="Disconnect"), page.get_by_role("button", name="Dark theme"),
                    page.get_by_role("list", name="Users"), page.get_by_role("button", name="Formatting help")):
        assert await control.is_visible()
    assert await page.locator("#encrypt-toggle").is_hidden()
    await page.get_by_role("button", name="Channel menu").click()
    menu = page.get_by_role("menu", name="Channel menu")
    assert await menu.locator("[role^=menuitem]:visible").all_text_contents() == ["Encrypt with passphrase"]
    assert await axe_violations(page) == []


async def _on_screen(page: Any, *locators: Any, height: int = 700) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    for locator in locators:
        box = await locator.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, "on screen without scrolling"


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 375])
async def test_accessibility_audit(server: Server, new_page: Any, connect: Any, width: int, scheme: str) -> None:
    """axe-core finds no WCAG 2.1 A/AA violation in either theme: empty, connected with lines, users, a mention,
    a link, unread badges, search results; nothing scrolls sideways."""
    page = await new_page(server.url + "/", width=width, color_scheme=scheme)
    await page.get_by_label("Channel", exact=True).locator("option", has_text="general").wait_for(state="attached")
    assert await axe_violations(page) == []
    bob = await joined(await connect(server, "Bob"), "Bob")
    await connect_by_form(page, "Alice")
    assert await page.evaluate("document.documentElement.dataset.theme") == scheme, "the system's theme"
    await bob.chat("a line from Bob for @Alice: https://example.org/x")
    await page.get_by_role("log").locator("li.line", has_text="a line from Bob for").wait_for()
    await (await joined(await connect(server, "Bob", "tech"), "Bob")).chat("unread in tech, @Alice")
    await page.wait_for_function("document.title === '(1) wsserver'")
    if width == 375:
        await page.get_by_role("button", name="Channels").click()
        await page.get_by_role("navigation", name="Channels").get_by_role("button", name="Leave general").wait_for()
        assert await axe_violations(page) == []
        await page.get_by_role("button", name="Close channels").click()
    await say(page, "/msg Bob a private line")
    await page.get_by_role("button", name="Send unencrypted").click()  # Bob's client publishes no key
    await page.locator("li.private", has_text="a private line").wait_for()
    if width == 375:
        await page.get_by_role("button", name="general users").click()
    await page.get_by_role("list", name="Users").get_by_role("button", name="Bob", exact=True).wait_for()
    assert await axe_violations(page) == []
    if width == 375:
        await page.keyboard.press("Escape")
        await page.get_by_role("button", name="Channel menu").click()
        assert await axe_violations(page) == []
        await page.get_by_role("menuitem", name="Search").click()
    await page.get_by_label("Search", exact=True).fill("line")
    await page.get_by_role("button", name="Find").click()
    await page.get_by_role("status").filter(has_text="1 line found").wait_for()
    await page.get_by_role("list", name="Search results").get_by_role("button").click()
    await page.get_by_text("Lines around a search result").wait_for()
    assert await axe_violations(page) == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.errors == []


@pytest.mark.parametrize("width", [1280, 375])
async def test_the_message_box_is_on_screen_and_the_log_reads_as_a_conversation(server: Server, new_page: Any,
                                                                                connect: Any, width: int) -> None:
    """At 800 px high the message box is on screen after 60 lines; one author's lines group, a day has a
    separator, a URL is a safe link; the theme toggle overrides the system's."""
    page = await new_page(server.url + "/?channel=general&handle=Alice", width=width, height=800)
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    bob = await joined(await connect(server, "Bob"), "Bob")
    for i in range(60):
        await bob.chat(f"line {i}")
    await bob.chat("docs at https://example.org/a?b=1, see")
    await wait_for_line(page, "line 59")
    box = await page.get_by_label("Message").bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 800
    assert await page.evaluate("document.documentElement.scrollHeight") <= 800, "the log scrolls, not the page"
    rows = page.get_by_role("log").locator("li.line").filter(
        has=page.locator("span.text", has_text=re.compile(r"^line \d+$")))
    assert "cont" not in str(await rows.nth(0).get_attribute("class")).split()
    assert "cont" in str(await rows.nth(1).get_attribute("class")).split(), "same author within 5 minutes"
    assert await page.get_by_role("log").locator("li.day").count() == 1
    link = page.get_by_role("log").get_by_role("link", name="https://example.org/a?b=1")
    assert (await link.get_attribute("rel"), await link.get_attribute("target")) == ("noopener noreferrer nofollow",
                                                                                      "_blank")
    assert await link.get_attribute("href") == "https://example.org/a?b=1"
    if width == 375:  # in the channel's menu
        await page.get_by_role("button", name="Channel menu").click()
        theme = page.get_by_role("menuitemcheckbox", name="Dark theme")
        assert await theme.get_attribute("aria-checked") == "false"
    else:
        theme = page.get_by_role("button", name="Dark theme")
        assert await theme.get_attribute("aria-pressed") == "false"
    await theme.click()
    assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
    await page.reload()
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    assert await page.evaluate("document.documentElement.dataset.theme") == "dark", "the choice is remembered"
