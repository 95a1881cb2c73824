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
    """At 375 px wide nothing overflows sideways and every control is on screen, on both screens."""
    page = await new_page(server.url + "/", width=375, height=700)
    await page.get_by_label("Channel", exact=True).locator("option").first.wait_for(state="attached")
    await _on_screen(page, page.get_by_label("Channel", exact=True), page.get_by_label("Handle"),
                     page.get_by_role("button", name="Connect"))
    page = await new_page(server.url + "/?channel=general&handle=Phone", width=375, height=700)
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await _on_screen(page, page.get_by_label("Message"), page.get_by_role("button", name="Channels"),
                     page.get_by_role("button", name="Disconnect"), page.get_by_role("button", name="Send"),
                     page.get_by_label("Search", exact=True), page.get_by_role("button", name="Find"),
                     page.get_by_label("Go to date"), page.get_by_role("button", name="Go", exact=True))


async def _on_screen(page: Any, *locators: Any) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    for locator in locators:
        box = await locator.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert box["y"] >= 0 and box["y"] + box["height"] <= 700, "on screen without scrolling"


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
        await page.get_by_role("button", name="Channels").click()
    await say(page, "/msg Bob a private line")
    await page.get_by_role("button", name="Send unencrypted").click()  # Bob's client publishes no key
    await page.locator("li.private", has_text="a private line").wait_for()
    await page.get_by_role("list", name="Users").get_by_role("button", name="Bob", exact=True).wait_for()
    assert await axe_violations(page) == []
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
    theme = page.get_by_role("button", name="Dark theme")
    assert await theme.get_attribute("aria-pressed") == "false"
    await theme.click()
    assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
    await page.reload()
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    assert await page.evaluate("document.documentElement.dataset.theme") == "dark", "the choice is remembered"
