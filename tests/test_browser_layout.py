"""The page in a real headless Chromium (Debian's), driven by Playwright: keyboard use, phone widths and an accessibility audit."""

from __future__ import annotations

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
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
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
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
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


@pytest.mark.parametrize("width", [1280, 375])
async def test_accessibility_audit(server: Server, new_page: Any, connect: Any, width: int) -> None:
    """axe-core finds no WCAG 2.1 A/AA violation, empty or connected with lines and users; nothing scrolls sideways."""
    page = await new_page(server.url + "/", width=width)
    await page.get_by_label("Channel", exact=True).locator("option", has_text="general").wait_for(state="attached")
    assert await axe_violations(page) == []
    bob = await joined(await connect(server, "Bob"), "Bob")
    await connect_by_form(page, "Alice")
    await bob.chat("a line from Bob")
    await wait_for_line(page, "a line from Bob")
    await say(page, "/msg Bob a private line")
    await page.locator("li.private", has_text="a private line").wait_for()
    await page.get_by_role("list", name="Users").get_by_role("button", name="Bob").wait_for()
    assert await axe_violations(page) == []
    await page.get_by_label("Search", exact=True).fill("line")
    await page.get_by_role("button", name="Find").click()
    await page.get_by_role("status").filter(has_text="1 line found").wait_for()
    await page.get_by_role("list", name="Search results").get_by_role("button").click()
    await page.get_by_text("Lines around a search result").wait_for()
    assert await axe_violations(page) == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.errors == []
