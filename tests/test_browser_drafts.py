"""Drafts: the unsent text of each channel's box (and of a thread's) survives a channel switch and a reload."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .support import Server, joined
from .support.browser import chat_page, wait_for_line
from .test_browser_channels import cursor_of, entry, open_channel

pytestmark = pytest.mark.timeout(120)


async def test_a_draft_survives_a_switch_and_a_reload(server: Server, new_page: Any, connect: Any) -> None:
    page = await chat_page(new_page, server, "Alice")
    box = page.get_by_role("textbox", name="Message", exact=True)
    await box.press_sequentially("half a thought")
    await open_channel(page, "tech")
    assert await box.input_value() == "", "another channel's box starts empty"
    await box.press_sequentially("about the build")
    await open_channel(page, "general")
    assert await box.input_value() == "half a thought"
    assert await page.locator("#remaining").text_content() == f"{2000 - len('half a thought')} characters left"

    await page.reload()
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    assert await box.input_value() == "half a thought"
    await entry(page, "tech").wait_for()
    await open_channel(page, "tech")
    assert await box.input_value() == "about the build"

    await open_channel(page, "general")
    await box.press_sequentially(", finished")
    await box.press("Enter")
    await wait_for_line(page, "half a thought, finished")
    assert await box.input_value() == ""
    await page.reload()
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    assert await box.input_value() == "", "a sent draft is forgotten"

    # A thread's box keeps its own draft.
    bob = await joined(await connect(server, "Bob"), "Bob")
    await bob.chat("root of a thread")
    await bob.until_line("Bob: root of a thread")
    await bob.send({"type": "chat", "message": "first reply", "reply_to": cursor_of(bob, "Bob: root of a thread")})
    await wait_for_line(page, "first reply")
    await page.get_by_role("button", name="1 reply").click()
    thread = page.get_by_role("dialog", name="Thread")
    await thread.get_by_text("first reply").wait_for()
    await page.get_by_label("Reply in thread").press_sequentially("a thought in the thread")
    await page.keyboard.press("Escape")
    await thread.wait_for(state="hidden")
    assert await box.input_value() == "", "the thread's draft is not the channel's"
    await page.get_by_role("button", name="1 reply").click()
    assert await page.get_by_label("Reply in thread").input_value() == "a thought in the thread"
    assert page.errors == []
