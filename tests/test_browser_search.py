"""The page in a real headless Chromium (Debian's), driven by Playwright: search and jumps."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .support import joined, seed_log
from .support.browser import SEARCHABLE, jumped_lines, seen_texts, wait_for_line

pytestmark = pytest.mark.timeout(120)


async def test_search_and_jump_by_keyboard(start_server: Any, new_page: Any, connect: Any, tmp_path: Path) -> None:
    """Search with Enter; results marked; a result shows the log around it; Go to date; back to the live end."""
    server = await start_server("--rate-limit", "0", data_dir=seed_log(tmp_path / "data", "general", SEARCHABLE))
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await page.get_by_label("Search", exact=True).fill("deploy")
    await page.get_by_label("Search", exact=True).press("Enter")
    await page.get_by_role("status").filter(has_text="2 lines found").wait_for()
    results = page.get_by_role("list", name="Search results").get_by_role("button")
    assert await seen_texts(results) == ["2026-11-22 10:04:50 Carol DEPLOY done",
                                                 "2026-11-22 10:00:10 Bob the deploy is at noon"]
    assert await page.locator("#results mark").all_text_contents() == ["DEPLOY", "deploy"]
    # Keyboard: Tab from the search field reaches Find, then the results; Enter jumps.
    await results.nth(1).focus()
    await page.keyboard.press("Enter")
    await page.get_by_text("Lines around a search result").wait_for()
    assert await page.locator("#lines").is_hidden()
    shown = await jumped_lines(page)
    assert len(shown) == 50 and shown[0] == "10:00:00 Dave filler 0"  # 10 before it, the rest after
    marked = page.locator("#jumped li.marked")
    assert await marked.locator("span.text").text_content() == "the deploy is at noon"
    assert await marked.get_attribute("aria-current") == "true"
    assert await page.evaluate("document.activeElement.classList.contains('marked')")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await bob.chat("said while Alice reads history")
    await page.locator("#lines li", has_text="said while Alice reads history").wait_for(state="attached")
    assert await page.locator("#lines").is_hidden()
    await page.get_by_label("Go to date").fill("2026-11-22T10:03")
    await page.get_by_label("Go to date").press("Enter")
    await page.get_by_text("Lines from 2026-11-22 10:03").wait_for()
    assert await page.locator("#jumped li.marked span.text").text_content() == "filler 180"
    await page.get_by_role("button", name="Back to live").click()
    await page.locator("#jumped").wait_for(state="hidden")
    await wait_for_line(page, "said while Alice reads history")
    assert await page.get_by_label("Message").evaluate("m => m === document.activeElement")
    assert page.errors == []


async def test_jump_view_pages_back_and_forward(start_server: Any, new_page: Any, tmp_path: Path) -> None:
    """Scrolled to its top the jump view loads older lines; to its bottom, newer ones up to the end."""
    server = await start_server(data_dir=seed_log(tmp_path / "data", "general", SEARCHABLE))
    page = await new_page(server.url + "/?channel=general&handle=Alice", height=600)
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await page.get_by_label("Go to date").fill("2026-11-22T10:02")
    await page.get_by_role("button", name="Go").click()
    await page.get_by_text("Lines from 2026-11-22 10:02").wait_for()
    log = page.get_by_role("log")
    await log.evaluate("l => { l.scrollTop = 0; }")
    await page.locator("#jumped li", has_text="filler 20").first.wait_for()  # 100 older lines: 20 to 119
    for _ in range(10):
        await log.evaluate("l => { l.scrollTop = l.scrollHeight; }")
        try:
            await page.locator("#jumped li", has_text="Alice has joined the chat").wait_for(timeout=1000)
            break
        except Exception:
            continue
    shown = await jumped_lines(page)
    assert shown[-1].endswith("Alice has joined the chat")
    # Older pages of 100 (one, or two if the view stayed at its top) and newer ones to the end: no gap, no repeat.
    everything = [f"{line[12:20]} {line[22:].replace(': ', ' ', 1)}" for line in SEARCHABLE]
    assert shown[:-1] in (everything[20:], everything)


async def test_all_channels_finds_in_each_and_a_result_opens_its_channel(start_server: Any, new_page: Any,
                                                                         tmp_path: Path) -> None:
    """All channels: results of every channel, newest first, each naming its channel; one of another channel
    opens that channel and shows its line in context."""
    data = seed_log(tmp_path / "data", "general", SEARCHABLE)
    seed_log(data, "random", ["[2026-11-22 10:05:00] Erin: a deploy in random", "[2026-11-22 10:05:01] Erin: after"])
    server = await start_server("--channels", "general,random", data_dir=data)
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await page.get_by_label("All channels").check()
    await page.get_by_label("Search", exact=True).fill("deploy")
    await page.get_by_label("Search", exact=True).press("Enter")
    await page.get_by_role("status").filter(has_text="3 lines found").wait_for()
    results = page.get_by_role("list", name="Search results").get_by_role("button")
    assert await seen_texts(results) == ["2026-11-22 10:05:00 #random Erin a deploy in random",
                                                 "2026-11-22 10:04:50 #general Carol DEPLOY done",
                                                 "2026-11-22 10:00:10 #general Bob the deploy is at noon"]
    await results.first.click()
    await page.get_by_text("Lines around a search result in #random").wait_for()
    assert await page.locator("#room-title").text_content() == "random"
    assert await page.locator("#jumped li.marked span.text").text_content() == "a deploy in random"
    assert await results.count() == 3  # every channel's results stay while moving between channels
    await results.nth(1).click()
    await page.get_by_text("Lines around a search result in #general").wait_for()
    assert await page.locator("#jumped li.marked span.text").text_content() == "DEPLOY done"
    assert page.errors == []
