"""The page in a real headless Chromium (Debian's): the small things a new user tripped on (issue 36, point 5).

Times in the reader's zone, a log that sits at the bottom, "(edited)" inline, quotes that follow
edits, a counter and an upload status that reset, channel names that stay whole beside their counts,
and a wrong passphrase said once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .support import Server, joined, seed_log
from .support.browser import chat_page, say, seen_texts, set_passphrase, wait_for_line

pytestmark = pytest.mark.timeout(120)

LOS_ANGELES = {"timezone_id": "America/Los_Angeles", "locale": "en-US"}


async def test_times_are_the_readers_and_go_to_date_is_local(start_server: Any, new_page: Any, tmp_path: Path) -> None:
    data = seed_log(tmp_path / "data", "general", [
        "[2026-11-22 14:50:00] Bob: said at 14:50 in Paris",  # 13:50 UTC, 05:50 in Los Angeles
        "[2026-11-23 08:30:00] Bob: said the next morning",  # 07:30 UTC, 23:30 the day before in Los Angeles
    ])
    server = await start_server("--timezone", "Europe/Paris", data_dir=data)
    page = await new_page(server.url + "/?channel=general&handle=Alice", **LOS_ANGELES)
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await wait_for_line(page, "said the next morning")
    first = page.locator("#lines li.line", has_text="said at 14:50 in Paris").locator("time")
    assert await first.locator("[aria-hidden]").text_content() == "05:50:00"
    assert await first.get_attribute("datetime") == "2026-11-22T13:50:00.000Z"
    assert await first.get_attribute("title") == "Sunday, November 22, 2026 at 5:50:00 AM PST"
    assert await first.locator(".visually-hidden").text_content() == "Sunday, November 22, 2026 at 5:50:00 AM PST"
    # Both lines fall on the 22nd here: one day separator for them (then today's, for Alice's join).
    days = await page.locator("#lines .day").all_text_contents()
    assert days[0] == "Sunday, November 22, 2026" and "Monday, November 23, 2026" not in days
    # The date picker is local: 23:30 here is 08:30 the next day in the log's zone.
    await page.get_by_label("Go to date").fill("2026-11-22T23:30")
    await page.get_by_label("Go to date").press("Enter")
    await page.get_by_text("Lines from 2026-11-22 23:30").wait_for()
    assert await page.locator("#jumped li.marked span.text").text_content() == "said the next morning"
    await page.get_by_role("button", name="Back to live").click()
    await page.get_by_label("Search", exact=True).fill("Paris")
    await page.get_by_label("Search", exact=True).press("Enter")
    results = page.get_by_role("list", name="Search results").get_by_role("button")
    await results.first.wait_for()
    assert await seen_texts(results) == ["2026-11-22 05:50:00 Bob said at 14:50 in Paris"]
    assert page.errors == []


async def test_the_log_sits_at_the_bottom_and_edits_show_inline_and_in_quotes(server: Server, new_page: Any) -> None:
    alice = await chat_page(new_page, server, "Alice")
    bob = await chat_page(new_page, server, "Bob")
    await say(alice, "the first word")
    await wait_for_line(bob, "the first word")
    log = await bob.get_by_role("log").bounding_box()
    last = await bob.locator("#lines li.line").last.bounding_box()
    assert log is not None and last is not None
    assert log["y"] + log["height"] - (last["y"] + last["height"]) < 20, "a short log sits at the bottom"
    # Bob replies; Alice edits her line: Bob's quote follows, and "(edited)" stays on the line's last row.
    line = bob.locator("#lines li.line").filter(has=bob.locator(":scope > .text", has_text="the first word"))
    await line.hover()
    await line.get_by_role("button", name="Reply").click()
    await say(bob, "a reply")
    quote = bob.locator("#lines li.line", has_text="a reply").locator(".quote")
    await quote.filter(has_text="↪ Alice: the first word").wait_for()
    mine = alice.locator("#lines li.line").filter(has=alice.locator(":scope > .text", has_text="the first word"))
    await mine.hover()
    await mine.get_by_role("button", name="Edit your line").click()
    await alice.get_by_label("New text of your line").fill("the **better** word")
    await alice.get_by_label("New text of your line").press("Enter")
    await quote.filter(has_text="↪ Alice: the better word").wait_for()
    assert await quote.inner_html() == "↪ Alice: the <strong>better</strong> word"
    edited = bob.locator("#lines li.line").filter(has=bob.locator(":scope > .text", has_text="the better word"))
    mark = await edited.locator(".text .edited").bounding_box()
    text = await edited.locator(".text strong").bounding_box()
    assert mark is not None and text is not None and abs(mark["y"] - text["y"]) < 6, "(edited) on the same row"
    # Edit again: the editor starts from the text as typed, syntax and all.
    mine = alice.locator("#lines li.line").filter(has=alice.locator(":scope > .text", has_text="the better word"))
    await mine.hover()
    await mine.get_by_role("button", name="Edit your line").click()
    assert await alice.get_by_label("New text of your line").input_value() == "the **better** word"
    assert alice.errors == [] and bob.errors == []


async def test_attach_resets_the_counter_and_its_status_stays_with_its_channel(server: Server, new_page: Any,
                                                                             tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"hello")
    page = await chat_page(new_page, server, "Alice")
    await page.get_by_label("Message").fill("the notes")
    await page.locator("#remaining").filter(has_text="1991 characters left").wait_for()
    await page.get_by_label("Attach").set_input_files(str(notes))
    await page.locator("#upload-status").filter(has_text="Shared notes.txt.").wait_for()
    assert await page.get_by_label("Message").input_value() == ""
    assert await page.locator("#remaining").text_content() == "2000 characters left"
    await page.get_by_role("navigation", name="Channels").get_by_role("button", name=re.compile("^tech")).click()
    await page.get_by_role("status").filter(has_text="Connected to tech").wait_for()
    assert await page.locator("#upload-status").text_content() == ""


async def test_channel_names_stay_whole_beside_their_counts(server: Server, new_page: Any, connect: Any) -> None:
    page = await chat_page(new_page, server, "Alice")
    await page.get_by_role("navigation", name="Channels").get_by_role("button", name=re.compile("^tech")).click()
    await page.get_by_role("status").filter(has_text="Connected to tech").wait_for()
    await page.get_by_role("navigation", name="Channels").get_by_role("button", name=re.compile("^general")).click()
    await page.get_by_role("status").filter(has_text="Connected to general").wait_for()
    bob = await joined(await connect(server, "Bob", channel="tech"), "Bob")
    for text in ("one", "@Alice two"):
        await bob.chat(text)
    entry = page.get_by_role("navigation", name="Channels").get_by_role("button", name=re.compile("^tech, 2 unread"))
    await entry.wait_for()
    assert await entry.get_attribute("aria-current") is None
    # Bob's presence delta may come after his lines (deltas are coalesced, up to 0.25 s here): wait for it.
    counts = entry.locator(".room-counts")
    await counts.filter(has_text="2 users").wait_for()
    name = entry.locator(".room-name")
    assert await name.evaluate("n => n.scrollWidth <= n.clientWidth"), "the name is not cut"
    assert await counts.text_content() == "2 unread, @1 mention, 2 users"


async def test_a_wrong_passphrase_is_said_once(server: Server, new_page: Any) -> None:
    alice = await chat_page(new_page, server, "Alice", "tech")
    bob = await chat_page(new_page, server, "Bob", "tech")
    for page, passphrase in ((alice, "correct horse battery"), (bob, "a wrong one")):
        await set_passphrase(page, passphrase)
    for text in ("first secret", "second secret"):
        await say(alice, text)
    await bob.locator("#lines li.line.encrypted").nth(1).wait_for()
    alert = bob.get_by_role("alert")
    await alert.filter(has_text="This passphrase does not open the channel's messages").wait_for()
    assert await alert.text_content() == "This passphrase does not open the channel's messages"
    assert await alice.get_by_role("alert").count() == 0 or await alice.get_by_role("alert").text_content() == ""
