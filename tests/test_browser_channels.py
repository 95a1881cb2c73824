"""The page as a chat app in a real Chromium: several channels, unread and mentions, read positions, devices."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .support import SECRET, Server, eventually, joined, token
from .support.browser import chat_page, say, wait_for_line

pytestmark = pytest.mark.timeout(120)


def sidebar(page: Any) -> Any:
    return page.get_by_role("navigation", name="Channels")


def entry(page: Any, channel: str) -> Any:
    return sidebar(page).get_by_role("button", name=re.compile(f"^{channel},"))


async def hide_tab(page: Any) -> None:
    """Make the page's tab hidden, as when the person switched to another tab (headless tabs are always visible)."""
    await page.evaluate("""() => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
        document.dispatchEvent(new Event('visibilitychange'));
    }""")


async def open_channel(page: Any, channel: str, handle: str = "Alice") -> None:
    await entry(page, channel).click()
    await page.get_by_role("status").filter(has_text=f"Connected to {channel} as {handle}").wait_for()


def cursor_of(client: Any, text: str) -> str:
    """Return the cursor of the line ending with ``text`` among the lines frames ``client`` got."""
    for frame in client.frames:
        data = frame.get("data", {})
        for line, cursor in zip(data.get("message", "").split("\n"), data.get("cursors", []), strict=False):
            if line.endswith(text):
                return str(cursor)
    raise AssertionError(f"no line ending with {text!r}")


async def entry_name(page: Any, channel: str) -> str:
    """Return the accessible name of a channel's entry, as the browser computes it (from its content).

    The list is painted anew as counts change, and a snapshot of an entry replaced meanwhile is empty:
    asked again until the entry is there.
    """
    names: list[str] = []

    async def named() -> bool:
        match = re.match(r'- button "([^"]*)"', await entry(page, channel).aria_snapshot())
        names.extend([match.group(1)] if match else [])
        return match is not None

    await eventually(named, what=f"an accessible name for the {channel} entry")
    return names[0]


async def test_two_channels_count_unread_lines_and_mentions(server: Server, new_page: Any, connect: Any) -> None:
    """A line in the channel not on screen raises its unread count; one with @Alice its mentions; the title adds them."""
    page = await chat_page(new_page, server, "Alice")
    assert await page.get_by_label("Handle").is_hidden(), "the connect screen gave way to the chat view"
    await open_channel(page, "tech")
    await open_channel(page, "general")
    bob = await joined(await connect(server, "Bob", "tech"), "Bob")
    await bob.chat("a line in tech")
    await page.wait_for_function("document.title === '(1) wsserver'")
    assert (await entry_name(page, "tech")).startswith("tech, 1 unread, ")
    await bob.chat("hey @alice, look")  # any case, the whole handle
    await bob.chat("@Alicia is someone else")
    await page.wait_for_function("document.title === '(3) wsserver'")
    assert (await entry_name(page, "tech")).startswith("tech, 3 unread, 1 mention, ")
    assert (await entry_name(page, "general")) == "general, 1 user", "the channel on screen has nothing unread"

    # Opened, with its bottom in view for a second: read, on this page and in the server's position.
    await open_channel(page, "tech")
    await page.wait_for_function("document.title === 'wsserver'")
    assert (await entry_name(page, "tech")).startswith("tech, 2 users")
    row = page.get_by_role("log").locator("li.line", has_text="hey @alice, look")
    assert "mentions-me" in str(await row.get_attribute("class")).split()
    assert await row.locator(".mention.me").inner_text() == "@alice"
    other = page.get_by_role("log").locator("li.line", has_text="is someone else")
    assert await other.locator(".mention").inner_text() == "@Alicia" and await other.locator(".mention.me").count() == 0
    # Alt+Up and Alt+Down move between the open channels; Leave closes a socket.
    await page.get_by_label("Message").focus()
    await page.keyboard.press("Alt+ArrowDown")
    await page.get_by_role("heading", name="general", exact=True).wait_for()
    await page.keyboard.press("Alt+ArrowUp")
    await page.get_by_role("heading", name="tech", exact=True).wait_for()
    await sidebar(page).get_by_role("button", name="Leave tech").click()
    await bob.until_line(lambda line: line.endswith("System: Alice has left the chat"))
    await page.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    assert page.errors == []


async def test_new_messages_where_reading_stopped_after_a_reload(server: Server, new_page: Any, connect: Any) -> None:
    """Read, reload, lines arrive while away: New messages stands before the first of them."""
    page = await chat_page(new_page, server, "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await bob.chat("read before leaving")
    await wait_for_line(page, "read before leaving")
    # The page marks it read after a second with the bottom in view: the server keeps that position.
    await bob.until_line(lambda line: line.endswith("Bob: read before leaving"))
    stored = server.data_dir / "read" / "general" / "alice"
    await eventually(lambda: stored.exists() and stored.read_text().split()[-1:] == [cursor_of(bob, "read before leaving")])
    await page.close()
    await bob.chat("said while away")
    await bob.chat("and more")
    again = await new_page(server.url + "/")  # a new context: nothing remembered there, the server's position says
    await again.get_by_label("Handle").fill("Alice")
    await again.get_by_role("button", name="Connect").click()
    await again.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    divider = again.get_by_role("log").locator("li.divider")
    await divider.wait_for()
    assert await divider.inner_text() == "New messages"
    after = divider.locator("xpath=following-sibling::li[contains(@class, 'line')][1]")
    assert "said while away" in await after.inner_text()
    before = divider.locator("xpath=preceding-sibling::li[contains(@class, 'line') and not(contains(@class, 'system'))][1]")
    assert "read before leaving" in await before.inner_text()


async def test_one_identity_on_two_devices(start_server: Any, new_page: Any, connect: Any) -> None:
    """Same token sub in two contexts: one join line, once in Users, the leave line only when both closed;
    reading on one clears the other's badge."""
    server = await start_server("--jwt-secret", SECRET, "--rate-limit", "0")
    bob = await joined(await connect(server, None, token=token("Bob")), "Bob")
    laptop = await new_page(server.url + f"/?channel=general&token={token('Alice', expires_in=600)}")
    await laptop.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    phone = await new_page(server.url + f"/?channel=general&token={token('Alice', expires_in=600)}", width=375)
    await phone.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    for page in (laptop, phone):  # the phone's Users list is in its closed drawer: there, not shown
        await page.locator("#users li > button:first-child", has_text=re.compile("^Bob$")).wait_for(state="attached")
        assert await page.locator("#users li > button:first-child", has_text=re.compile("^Alice$")).count() == 1
    await bob.users_become(["Alice", "Bob"])
    assert sum("Alice has joined" in line for line in server.file_lines("general")) == 1

    # Both open tech and go back to general; a line in tech is unread on both, until one reads it.
    for page in (laptop, phone):
        if page is phone:
            await page.get_by_role("button", name="Channels").click()
        await open_channel(page, "tech")
        if page is phone:
            await page.get_by_role("button", name="Channels").click()
        await open_channel(page, "general")
    bob_tech = await joined(await connect(server, None, "tech", token=token("Bob")), "Bob")
    await bob_tech.chat("news in tech")
    for page in (laptop, phone):
        await page.wait_for_function("document.title === '(1) wsserver'")
    await phone.get_by_role("button", name="Channels").click()
    await open_channel(phone, "tech")
    await phone.wait_for_function("document.title === 'wsserver'")  # read after a second in view
    await laptop.wait_for_function("document.title === 'wsserver'", timeout=2000)  # told by the server at once
    assert (await entry_name(laptop, "tech")).startswith("tech, 2 users")

    await phone.close()
    await server.wait_for_log("Alice@general left")
    await laptop.get_by_role("list", name="Users").get_by_role("button", name="Alice", exact=True).wait_for()
    assert not any("Alice has left" in line for line in server.file_lines("general"))
    await laptop.close()
    await bob.until_line(lambda line: line.endswith("System: Alice has left the chat"))
    assert sum("Alice has left" in line for line in server.file_lines("general")) == 1


async def test_mention_completion_by_keyboard(server: Server, new_page: Any, connect: Any) -> None:
    """@ and letters offer the channel's handles; Down, Tab and Enter accept; Escape dismisses."""
    for handle in ("Bob", "Bobby", "Carol"):
        await joined(await connect(server, handle), handle)
    page = await chat_page(new_page, server, "Alice")
    await page.get_by_role("list", name="Users").get_by_role("button", name="Carol", exact=True).wait_for()
    box = page.get_by_label("Message")
    await box.press_sequentially("hi @bo")
    options = page.get_by_role("listbox", name="People to mention").get_by_role("option")
    assert await options.all_inner_texts() == ["Bob", "Bobby"]
    assert await options.nth(0).get_attribute("aria-selected") == "true"
    await box.press("ArrowDown")
    assert await options.nth(1).get_attribute("aria-selected") == "true"
    await box.press("Tab")
    assert await box.input_value() == "hi @Bobby "
    await box.press_sequentially("and @c")
    await box.press("Enter")  # accepts, does not send
    assert await box.input_value() == "hi @Bobby and @Carol "
    await box.press_sequentially("@b")
    await box.press("Escape")
    assert await page.get_by_role("listbox", name="People to mention").is_hidden()
    await box.press("Backspace")
    await box.press("Backspace")
    await box.press("Enter")
    await page.get_by_role("log").locator("li.line", has_text="hi @Bobby and @Carol").wait_for()
    marks = page.get_by_role("log").locator("li.line", has_text="hi @Bobby").locator(".mention")
    assert await marks.all_inner_texts() == ["@Bobby", "@Carol"]


async def test_notifications_of_mentions_and_private_lines_while_hidden(server: Server, new_page: Any,
                                                                      connect: Any) -> None:
    """With the permission granted and the toggle on, a mention and a private line notify while the tab is hidden."""
    page = await new_page(server.url + "/?channel=general&handle=Alice", permissions=["notifications"])
    await page.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    toggle = page.get_by_role("button", name="Notifications")
    assert await toggle.get_attribute("aria-pressed") == "false", "off by default"
    await page.evaluate("""() => {
        window.shown = [];
        const Real = window.Notification;
        window.Notification = class extends Real { constructor(title, options) { super(title, options); window.shown.push([title, options.body]); } };
        Object.defineProperty(window.Notification, 'permission', { get: () => Real.permission });
        window.Notification.requestPermission = () => Real.requestPermission();
    }""")
    await toggle.click()
    assert await toggle.get_attribute("aria-pressed") == "true"
    bob = await joined(await connect(server, "Bob"), "Bob")
    await bob.chat("@Alice while you look")  # visible: no notification
    await wait_for_line(page, "@Alice while you look")
    await page.wait_for_function("document.title === '(1) wsserver'")
    await page.wait_for_function("document.title === 'wsserver'")  # looked at for a second: read
    await hide_tab(page)
    await bob.chat("@alice are you there?")
    await bob.send({"type": "private", "to": "Alice", "message": "psst"})
    await page.wait_for_function("window.shown.length === 2")
    # Two logs (the channel's and the private one) read apart: either may come first.
    assert sorted(await page.evaluate("window.shown")) == [["Bob (private, general)", "psst"],
                                                           ["Bob mentioned you in general", "@alice are you there?"]]
    await page.wait_for_function("document.title === '(2) wsserver'")  # hidden: both stay unread


async def test_a_reload_keeps_the_open_channels_and_where_reading_stopped(server: Server, new_page: Any,
                                                                          connect: Any) -> None:
    """Lines that came while the tab was hidden stay unread; a reload reopens both channels, tech on screen,
    with New messages before those lines."""
    page = await chat_page(new_page, server, "Alice")
    await open_channel(page, "tech")
    bob = await joined(await connect(server, "Bob", "tech"), "Bob")
    await bob.chat("seen")
    await wait_for_line(page, "seen")
    await page.wait_for_function("document.title === '(1) wsserver'")
    await page.wait_for_function("document.title === 'wsserver'")  # looked at for a second: read
    await hide_tab(page)
    await bob.chat("while hidden")
    await wait_for_line(page, "while hidden")
    await page.wait_for_function("document.title === '(1) wsserver'")
    await page.goto(server.url + "/")  # the address without parameters: what is remembered reopens
    await page.get_by_role("status").filter(has_text="Connected to tech as Alice").wait_for()
    assert (await entry_name(page, "general")).startswith("general, ")
    assert await sidebar(page).get_by_role("button", name="Leave general").count() == 1
    divider = page.get_by_role("log").locator("li.divider")
    await divider.wait_for()
    after = divider.locator("xpath=following-sibling::li[contains(@class, 'line')][1]")
    assert "while hidden" in await after.inner_text()


async def test_a_channel_created_from_the_chat_view(start_server: Any, new_page: Any) -> None:
    """With --allow-new-channels the sidebar creates a channel: a bad name is refused first, a good one opens."""
    server = await start_server("--allow-new-channels")
    page = await chat_page(new_page, server, "Alice")
    create = sidebar(page).get_by_label("Create a channel")
    await create.fill("Bad Name")
    await create.press("Enter")
    await page.get_by_role("alert").filter(has_text="A channel name is").wait_for()
    await create.fill("book-club")
    await sidebar(page).get_by_role("button", name="Create").click()
    await page.get_by_role("status").filter(has_text="Connected to book-club as Alice").wait_for()
    await wait_for_line(page, "Alice has joined the chat")
    assert (await entry_name(page, "general")).startswith("general, ")
    assert await sidebar(page).get_by_role("button", name="Leave book-club").count() == 1
    plain = await new_page((await start_server()).url + "/?channel=general&handle=Bob")
    await plain.get_by_role("status").filter(has_text="Connected to general as Bob").wait_for()
    assert await sidebar(plain).get_by_label("Create a channel").count() == 1
    assert await sidebar(plain).get_by_label("Create a channel").is_hidden()


async def test_leaving_the_channel_on_screen_shows_another_and_only_its_lines(server: Server, new_page: Any) -> None:
    """Leave the channel on screen: the next open one shows, with its own lines only; Disconnect and Connect again."""
    page = await chat_page(new_page, server, "Alice")
    await say(page, "said in general")
    await wait_for_line(page, "said in general")
    await open_channel(page, "tech")
    await sidebar(page).get_by_role("button", name="Leave tech").click()
    await page.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    assert await page.get_by_role("log").locator("ol.lines").count() == 1
    await sidebar(page).get_by_role("button", name="Leave general").click()
    await page.get_by_role("button", name="Connect").wait_for()
    await page.get_by_role("button", name="Connect").click()
    await page.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    assert await page.get_by_role("log").locator("ol.lines").count() == 1
    await wait_for_line(page, "said in general")  # its history again, once
    assert await page.get_by_role("log").get_by_text("said in general", exact=True).count() == 1


async def test_links_and_mentions_logic_on_its_own(server: Server, new_page: Any) -> None:
    """text.js cuts text into text, links and mentions, finds the @word being typed, and completes it."""
    page = await new_page(server.url + "/")
    result = await page.evaluate("""async () => {
        const m = {...await import('/text.js'), ...await import('/loglines.js')};
        const rule = /^[A-Za-z0-9_]{3,16}$/;
        const cut = (text) => m.textPieces(text, 'Alice', rule).map(p => [p.kind, p.text, p.href ?? null, p.me ?? null]);
        return {
            link: cut('see https://example.org/a?b=1, ok'),
            trailing: cut('(https://example.org/x).'),
            scheme: cut('javascript:alert(1) ftp://x.org'),
            mentions: cut('@alice and @Bob, not bob@example.org nor @al or @@Alice'),
            inLink: cut('https://example.org/@Alice'),
            me: ['hey @ALICE!', 'hey @Alicia'].map(text => m.textPieces(text, 'Alice', rule).some(p => p.me)),
            typing: [m.mentionAt('hi @bo', 6), m.mentionAt('hi @bo there', 12), m.mentionAt('mail bob@x', 10),
                     m.mentionAt('@', 1)],
            complete: [m.completions('bo', ['Carol', 'bobby', 'Bob']), m.completions('', ['b', 'a'], 1)],
            day: m.dayLabel('2026-12-01'),
        };
    }""")
    assert result["link"] == [["text", "see ", None, None], ["link", "https://example.org/a?b=1",
                                                              "https://example.org/a?b=1", None], ["text", ", ok", None, None]]
    assert result["trailing"][1] == ["link", "https://example.org/x", "https://example.org/x", None]
    assert [kind for kind, *_ in result["scheme"]] == ["text"], "only http and https become links"
    assert [(kind, text, me) for kind, text, _, me in result["mentions"] if kind == "mention"] == [
        ("mention", "@alice", True), ("mention", "@Bob", False)]
    assert [kind for kind, *_ in result["inLink"]] == ["link"], "a mention inside a link is the link's"
    assert result["me"] == [True, False]
    assert result["typing"] == [{"from": 3, "query": "bo"}, None, None, {"from": 0, "query": ""}]
    assert result["complete"] == [["Bob", "bobby"], ["a"]]
    assert "2026" in result["day"] and "1" in result["day"]
