"""Real clients together: WeeChat, a Python IRC library (jaraco's ``irc``) and a page in Chromium, on one server,
on two processes of one data dir, and on two Redis nodes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .support import eventually
from .support.browser import chat_page, say, shown_lines, wait_for_line
from .support.irc import irc_port
from .support.ircclient import LibraryClient

pytestmark = pytest.mark.timeout(180)
CAPS = "message-tags server-time echo-message batch draft/chathistory draft/message-redaction"


def row(page: Any, text: str) -> Any:
    return page.get_by_role("log").locator("li.line").filter(has=page.locator("span.text", has_text=text))


@pytest.mark.browser
async def test_weechat_a_library_and_a_page_share_everything(start_server: Any, new_page: Any, weechat: Any) -> None:
    """On one server."""
    server = await start_server("--irc-port", "0", "--rate-limit", "0")
    await together(server, server, new_page, weechat)


@pytest.mark.browser
async def test_the_same_on_two_processes(start_server: Any, tmp_path: Any, new_page: Any, weechat: Any) -> None:
    """The page and WeeChat on one process, the library on another, one data dir."""
    data_dir = tmp_path / "shared"
    here = await start_server("--irc-port", "0", "--rate-limit", "0", data_dir=data_dir)
    there = await start_server("--irc-port", "0", "--rate-limit", "0", data_dir=data_dir)
    await together(here, there, new_page, weechat)


@pytest.mark.browser
@pytest.mark.redis
async def test_the_same_on_two_redis_nodes(nodes: Any, new_page: Any, weechat: Any) -> None:
    """The page and WeeChat on one node, the library on another."""
    here = await nodes("a", "--irc-port", "0", "--rate-limit", "0")
    there = await nodes("b", "--irc-port", "0", "--rate-limit", "0")
    await together(here, there, new_page, weechat)


async def together(here: Any, there: Any, new_page: Any, weechat: Any) -> None:
    """Lines three ways in one order with the log's times; reactions, a reply, typing and a deletion between the
    page and the library; after a reconnect the library's CHATHISTORY fills the gap exactly."""
    page = await chat_page(new_page, here, "Pat")
    wee = await weechat(await irc_port(here))
    await eventually(lambda: "Channel #general: 2 nicks" in wee.log("irc.ws.#general"))  # its NAMES: Pat and itself
    library = LibraryClient()
    await library.connect(await irc_port(there), "pyclient", CAPS)
    library.send("JOIN #general")
    await library.expect(lambda event: event.type == "endofnames")
    await page.get_by_role("log").get_by_text(re.compile("pyclient has joined")).first.wait_for(state="attached")
    await eventually(lambda: re.search(r"pyclient \S+ has joined #general", wee.log("irc.ws.#general")) is not None)

    # Lines, each way: everyone sees them in one order, the library with the log's time and the line's cursor.
    await say(page, "hello from the page")
    from_page = await library.message("hello from the page")
    await eventually(lambda: "Pat\thello from the page" in wee.log("irc.ws.#general"))  # (it shows its own at once)
    wee.command("irc.ws.#general", "hello from weechat")
    from_wee = await library.message("hello from weechat")
    library.send("PRIVMSG #general :hello from python")
    from_library = await library.message("hello from python")  # its echo
    await wait_for_line(page, "hello from python")
    await eventually(lambda: "pyclient\thello from python" in wee.log("irc.ws.#general"))
    shown = [line for line in await shown_lines(page) if "hello from" in line]
    assert [line.split("] ", 1)[1] for line in shown] == [
        "Pat: hello from the page", "weeuser: hello from weechat", "pyclient: hello from python"]
    for line, event in zip(shown, (from_page, from_wee, from_library), strict=True):
        assert LibraryClient.tags(event)["time"][:19] == line[1:20].replace(" ", "T")  # the log's stamp (UTC)
    said = [line.split("\t", 1)[1] for line in wee.log("irc.ws.#general").splitlines() if "\thello from" in line]
    assert said == ["Pat\thello from the page", "weeuser\thello from weechat", "pyclient\thello from python"]
    page_cursor = LibraryClient.tags(from_page)["msgid"]
    assert await row(page, "hello from the page").get_attribute("data-cursor") == page_cursor

    # A reaction and a reply from the library reach the page; the page's reaction reaches the library.
    library.send(f"@+draft/react=👍;+draft/reply={page_cursor} TAGMSG #general")
    await row(page, "hello from the page").get_by_role("button", name="👍 1: pyclient").wait_for()
    library.send(f"@+draft/reply={page_cursor} PRIVMSG #general :a reply from python")
    await row(page, "a reply from python").locator(".quote", has_text="Pat: hello from the page").wait_for()
    await row(page, "hello from python").get_by_role("button", name="React to pyclient").click()
    await page.get_by_role("dialog", name="React").get_by_role("button", name="👍").first.click()
    reacted = await library.expect(lambda event: event.type == "tagmsg"
                                   and LibraryClient.tags(event).get("+draft/react") == "👍")
    assert LibraryClient.tags(reacted)["+draft/reply"] == LibraryClient.tags(from_library)["msgid"]
    assert reacted.source.nick == "Pat"

    # Typing both ways.
    library.send("@+typing=active TAGMSG #general")
    await page.locator("#typing").filter(has_text="pyclient is typing…").wait_for()
    await page.get_by_label("Message").press_sequentially("abc")
    typing = await library.expect(lambda event: event.type == "tagmsg" and "+typing" in LibraryClient.tags(event))
    assert typing.source.nick == "Pat" and LibraryClient.tags(typing)["+typing"] == "active"
    await page.get_by_label("Message").fill("")

    # A deletion on the page is a REDACT for the library.
    await page.get_by_role("button", name=re.compile("^Delete the line of Pat")).first.click()
    dialog = page.get_by_role("dialog", name="Delete this message?")
    await dialog.get_by_role("button", name="Delete", exact=True).click()
    await dialog.wait_for(state="hidden")
    redact = await library.expect(lambda event: event.type == "redact")
    assert redact.arguments == [page_cursor] and redact.target == "#general"

    # The library goes away; lines go on; back, CHATHISTORY AFTER its last line gives exactly those it missed.
    last = LibraryClient.tags([event for event in library.events if event.type == "pubmsg"][-1])["msgid"]
    library.close()
    await page.get_by_role("log").get_by_text(re.compile("pyclient has left")).first.wait_for(state="attached")
    for number in range(3):
        box = page.get_by_role("textbox", name="Message", exact=True)  # "Delete this message?" is a label too
        await box.fill(f"while away {number}")
        await box.press("Enter")
        await wait_for_line(page, f"while away {number}")
    back = LibraryClient()
    await back.connect(await irc_port(there), "pyclient", CAPS)
    back.send("JOIN #general")
    await back.expect(lambda event: event.type == "endofnames")
    back.send(f"CHATHISTORY AFTER #general msgid={last} 50")
    await back.expect(lambda event: (event.type == "batch" and event.arguments[:1] == ["chathistory"])
                      or (event.type == "batch" and "chathistory" in event.arguments))
    missed = []
    while True:
        event = await back.expect(lambda event: event.type in ("pubmsg", "batch"))
        if event.type == "batch":
            break
        missed.append(event.arguments[0])
    assert missed == ["while away 0", "while away 1", "while away 2"]
    back.close()
    assert page.errors == []
