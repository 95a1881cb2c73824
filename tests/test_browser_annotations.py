"""Reactions, replies and threads, edits on the page in a real Chromium, all by keyboard, with the axe audit."""

from __future__ import annotations

from typing import Any

import pytest

from .support import Server, joined
from .support.browser import axe_violations, chat_page, say, wait_for_line

pytestmark = pytest.mark.timeout(120)


def row(page: Any, text: str) -> Any:
    """The line whose own text holds ``text`` (not one that quotes it)."""
    return page.get_by_role("log").locator("li.line").filter(has=page.locator("span.text", has_text=text))


async def focus_action(page: Any, line: Any, name: str) -> None:
    """Reach a line's action by keyboard: focus it as Tab would, then press Enter."""
    await line.get_by_role("button", name=name).focus()
    await page.keyboard.press("Enter")


async def test_react_reply_thread_and_edit_by_keyboard(server: Server, new_page: Any, connect: Any) -> None:
    """React and unreact, reply (a quote), open the thread and reply in it, edit in place: keyboard only; axe clean."""
    page = await chat_page(new_page, server, "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await bob.chat("shall we deploy?")
    await wait_for_line(page, "shall we deploy?")
    line = row(page, "shall we deploy?")

    # React with the first choice (👍) by keyboard; the chip names who reacted; Enter on it takes it back.
    await focus_action(page, line, "React to Bob")
    dialog = page.get_by_role("dialog", name="React")
    await dialog.wait_for()
    assert await page.evaluate("document.activeElement.textContent") == "👍"
    await page.keyboard.press("Enter")
    chip = line.get_by_role("button", name="👍 1: Alice")
    await chip.wait_for()
    assert await chip.get_attribute("aria-pressed") == "true"
    await bob.event("reactions")
    await bob.send({"type": "react", "cursor": (await line.get_attribute("data-cursor")), "emoji": "👍"})
    await line.get_by_role("button", name="👍 2: Alice, Bob").wait_for()
    assert await axe_violations(page) == []
    await line.get_by_role("button", name="👍 2: Alice, Bob").focus()
    await page.keyboard.press("Enter")
    await line.get_by_role("button", name="👍 1: Bob").wait_for()
    # Any emoji typed in the dialog.
    await focus_action(page, line, "React to Bob")
    await page.get_by_label("Any emoji").fill("🚀")
    await page.get_by_label("Any emoji").press("Enter")
    await line.get_by_role("button", name="🚀 1: Alice").wait_for()

    # Reply from the line: the message box says to what, the reply shows a quote of its parent.
    await focus_action(page, line, "Reply to Bob")
    assert await page.evaluate("document.activeElement.id") == "message"
    await page.get_by_text("Replying to Bob: shall we deploy?").wait_for()
    await page.keyboard.type("yes, at five")
    await page.keyboard.press("Enter")
    reply = row(page, "yes, at five")
    await reply.locator(".quote", has_text="Bob: shall we deploy?").wait_for()
    assert (await bob.event("thread"))["data"]["replies"] == 1
    await line.get_by_role("button", name="1 reply").wait_for()

    # The thread: a dialog with the root, the replies, and a message box of its own.
    await line.get_by_role("button", name="1 reply").focus()
    await page.keyboard.press("Enter")
    thread = page.get_by_role("dialog", name="Thread")
    await thread.get_by_text("yes, at five").wait_for()
    assert await page.evaluate("document.activeElement.id") == "thread-message"
    assert await axe_violations(page) == []
    await bob.chat("and another line outside")  # live lines go on while the thread is open
    await page.keyboard.type("I will watch the graphs")
    await page.keyboard.press("Enter")
    await thread.get_by_text("I will watch the graphs").wait_for()
    await line.get_by_role("button", name="2 replies").wait_for()
    await page.keyboard.press("Escape")
    await thread.wait_for(state="hidden")

    # Edit in place: Enter saves, Escape cancels; the line says "(edited)" everywhere.
    mine = row(page, "yes, at five")
    await focus_action(page, mine, "Edit your line")
    editor = page.get_by_label("New text of your line")
    await editor.press("Escape")
    await editor.wait_for(state="hidden")
    await focus_action(page, mine, "Edit your line")
    await page.get_by_label("New text of your line").fill("yes, at six")
    await page.get_by_label("New text of your line").press("Enter")
    await row(page, "yes, at six").locator(".edited", has_text="(edited)").wait_for()
    assert (await bob.event("edited"))["data"]["message"] == "yes, at six"
    assert await row(page, "shall we deploy?").get_by_role("button", name="Edit your line").count() == 0, \
        "no Edit on other people's lines"
    assert await axe_violations(page) == []
    assert page.errors == []


async def test_a_reload_shows_annotations_from_history(server: Server, new_page: Any, connect: Any) -> None:
    """Lines read back after a reload carry their reactions, edit, quote and reply count."""
    bob = await joined(await connect(server, "Bob"), "Bob")
    await bob.chat("root line")
    frame = await bob.until_line_frame("Bob: root line")
    root = frame["cursors"][-1]
    await bob.send({"type": "react", "cursor": root, "emoji": "🎉"})
    await bob.send({"type": "chat", "message": "a reply", "reply_to": root})
    await bob.send({"type": "edit", "cursor": root, "message": "root line, edited"})
    await bob.event("edited")
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    line = row(page, "root line, edited")
    await line.get_by_role("button", name="🎉 1: Bob").wait_for()
    await line.get_by_role("button", name="1 reply").wait_for()
    await line.locator(".edited").wait_for()
    await row(page, "a reply").locator(".quote", has_text="Bob: root line, edited").wait_for()
    await say(page, "hello")
    assert page.errors == []
