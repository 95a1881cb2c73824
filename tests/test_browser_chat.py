"""The page in a real headless Chromium (Debian's), driven by Playwright: joining, chatting, what the log shows and how the page refuses."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .support import Server, joined
from .support.browser import connect_by_form, say, wait_for_line

pytestmark = pytest.mark.timeout(120)


async def test_join_by_form_and_by_url_and_chat_live(server: Server, new_page: Any) -> None:
    """One page joins by the form, another by URL parameters; lines flow live both ways."""
    alice = await new_page(server.url + "/")
    await alice.get_by_label("Channel", exact=True).locator("option", has_text="general (0 users)").wait_for(state="attached")
    await connect_by_form(alice, "Alice")
    await wait_for_line(alice, "Alice has joined the chat")
    assert await alice.get_by_role("button", name="Disconnect").is_visible()

    bob = await new_page(server.url + "/?channel=general&handle=Bob")
    await bob.get_by_role("status").filter(has_text="Connected to general as Bob").wait_for()
    assert await bob.get_by_label("Handle").input_value() == "Bob"
    await wait_for_line(alice, "Bob has joined the chat")
    await bob.get_by_label("Channel", exact=True).locator("option", has_text="general (2 users)").wait_for(state="attached")

    await say(alice, "hello from Alice")
    await wait_for_line(bob, "hello from Alice")
    assert await alice.get_by_label("Message").input_value() == ""
    own = alice.locator("li.own", has_text="hello from Alice")
    await own.wait_for()  # Bob's page has it; Alice's may render it a moment later
    assert await own.count() == 1
    assert await bob.locator("li.own", has_text="hello from Alice").count() == 0
    row = bob.locator("li", has_text="hello from Alice")
    assert await row.locator(".handle").inner_text() == "Alice"
    assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", await row.locator("time > [aria-hidden]").inner_text())
    await bob.locator("li.system", has_text="Bob has joined the chat").wait_for()
    assert await bob.locator("li.system", has_text="Bob has joined the chat").count() == 1
    await say(bob, "hi Alice")
    await wait_for_line(alice, "hi Alice")
    assert alice.errors == [] and bob.errors == []


async def test_markup_is_shown_as_text(server: Server, new_page: Any) -> None:
    """An <img onerror> payload is shown literally and never runs."""
    alice = await new_page(server.url + "/?channel=general&handle=Alice")
    bob = await new_page(server.url + "/?channel=general&handle=Bob")
    await bob.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    payload = '<img src=x onerror="window.pwned = 1"><b>bold</b>'
    await alice.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await say(alice, payload)
    await wait_for_line(bob, payload)
    for page in (alice, bob):
        assert await page.evaluate("window.pwned") is None
        assert await page.get_by_role("log").locator("img, b").count() == 0


async def test_multi_line_message(server: Server, new_page: Any) -> None:
    """Shift+Enter makes a new line; the message is one escaped log line, shown with its line break."""
    alice = await new_page(server.url + "/?channel=general&handle=Alice")
    bob = await new_page(server.url + "/?channel=general&handle=Bob")
    await bob.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    box = alice.get_by_label("Message")
    await box.type("line one")
    await box.press("Shift+Enter")
    await box.type("line two")
    assert await box.input_value() == "line one\nline two"
    await box.press("Enter")
    await bob.get_by_role("log").locator("li .text", has_text="line two").wait_for()
    shown = await bob.get_by_role("log").locator("li .text", has_text="line two").evaluate("e => e.textContent")
    assert shown == "line one\nline two"
    assert server.file_lines("general")[-1].endswith("] Alice: line one\\nline two")


async def test_bad_handle_is_refused_in_the_page(server: Server, new_page: Any) -> None:
    """A handle breaking the rule shows the reason and opens no socket."""
    page = await new_page(server.url + "/")
    for handle, reason in (("a!", "A handle is 3 to 16 letters, digits, underscores or dashes, not starting with a dash."),
                           ("system", "The handle System is reserved.")):
        await page.get_by_label("Handle").fill(handle)
        await page.get_by_role("button", name="Connect").click()
        await page.get_by_role("alert").filter(has_text=reason).wait_for()
        assert await page.locator("#state").inner_text() == "Disconnected"
    assert not any("@general joined" in line or "refused a join" in line for line in server.lines)


async def test_taken_handle_shows_the_server_refusal(server: Server, new_page: Any, connect: Any) -> None:
    """'User already registered' from the server is shown, and the page does not retry."""
    await joined(await connect(server, "Alice"), "Alice")
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("alert").filter(has_text="User already registered").wait_for()
    await page.get_by_role("status").filter(has_text="Disconnected").wait_for()
    assert await page.get_by_role("button", name="Connect").is_visible()


async def test_counter_and_limits(start_server: Any, new_page: Any) -> None:
    """The counter shows characters left against the server's limit; too long is refused in the page."""
    server = await start_server("--max-message-chars", "10")
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await page.get_by_label("Message").fill("héllo")
    assert await page.locator("#remaining").inner_text() == "5 characters left"
    await say(page, "x" * 11)
    await page.get_by_role("alert").filter(has_text="Message is too long (limit 10 characters)").wait_for()


async def test_server_errors_are_shown(start_server: Any, new_page: Any) -> None:
    """A server error frame, such as the rate limit, is shown in the alert."""
    server = await start_server("--rate-limit", "0.1", "--rate-burst", "1")
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await say(page, "one")
    await wait_for_line(page, "one")
    await say(page, "two")
    await page.get_by_role("alert").filter(has_text="Rate limit exceeded").wait_for()


async def test_new_messages_jump_when_scrolled_up(server: Server, new_page: Any, connect: Any) -> None:
    """Scrolled up, the log stays put and offers a jump to new lines; at the bottom it follows."""
    page = await new_page(server.url + "/?channel=general&handle=Alice", height=600)
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    bob = await joined(await connect(server, "Bob"), "Bob")
    for i in range(40):
        await bob.chat(f"filler {i}")
    await wait_for_line(page, "filler 39")
    log = page.get_by_role("log")
    assert await log.evaluate("l => l.scrollHeight - l.scrollTop - l.clientHeight < 40")
    await log.evaluate("l => { l.scrollTop = 0; }")
    await bob.chat("while scrolled up")
    await wait_for_line(page, "while scrolled up")
    assert await log.evaluate("l => l.scrollTop") == 0
    jump = page.get_by_role("button", name="New messages")
    await jump.click()
    assert await log.evaluate("l => l.scrollHeight - l.scrollTop - l.clientHeight < 40")
    await jump.wait_for(state="hidden")


async def test_line_logic_on_its_own(server: Server, new_page: Any) -> None:
    """The page's parsing, unescaping, handle rule and backoff, tested as modules."""
    page = await new_page(server.url + "/")
    result = await page.evaluate("""async () => {
        const m = {...await import('/loglines.js'), ...await import('/rules.js'), ...await import('/text.js'),
                   ...await import('/session.js'), backoffDelay: (await import('/connection.js')).backoffDelay};
        return {
            chat: m.parseLine('[2026-11-22 14:07:03] Alice: a\\\\nb \\\\\\\\n \\\\u0000 \\\\t'),
            system: m.parseLine('[2026-11-22 14:07:03] System: Bob has joined the chat').system,
            dm: m.parseLine('[2026-11-22 14:07:03] Alice -> Bob: psst').to,
            other: m.parseLine('free text'),
            // The rules the page gets from the server, applied as the page applies them.
            handles: await fetch('/api/settings').then(r => r.json()).then(body => m.rulesFrom(body)).then(rules =>
                ['Al', 'Alice', 'al ice', 'SYSTEM', 'a_b_c', 'x'.repeat(17)].map(h => m.handleProblem(h, rules))),
            cursors: Object.keys(m).filter(name => /cursor|place|seen/i.test(name)),
            delays: [0, 1, 2, 5, 10].map(a => [m.backoffDelay(a, () => 0), m.backoffDelay(a, () => 0.999999)]),
            count: m.charCount('a🎉é'),
        };
    }""")
    assert result["chat"]["text"] == "a\nb \\n \x00 \t"
    assert result["chat"]["handle"] == "Alice" and result["chat"]["time"] == "14:07:03"
    assert result["system"] is True and result["dm"] == "Bob"
    assert result["other"]["text"] == "free text" and result["other"]["handle"] == ""
    assert result["handles"] == ["A handle is 3 to 16 letters, digits, underscores or dashes, not starting with a dash.", "",
                                 "A handle is 3 to 16 letters, digits, underscores or dashes, not starting with a dash.",
                                 "The handle System is reserved.", "",
                                 "A handle is 3 to 16 letters, digits, underscores or dashes, not starting with a dash."]
    assert result["cursors"] == []  # the page never parses a cursor
    assert result["delays"] == [[1000, 1000], [1000, 2000], [2000, 4000], [15000, 30000], [15000, 30000]]
    assert result["count"] == 3


async def test_new_channel_when_allowed(start_server: Any, new_page: Any) -> None:
    """With --allow-new-channels the page offers a New channel field, and links to new rooms work."""
    server = await start_server("--allow-new-channels")
    page = await new_page(server.url + "/")
    await page.get_by_label("New channel").wait_for()
    await page.get_by_label("Handle").fill("Alice")
    await page.get_by_label("New channel").fill("Bad Name")
    await page.get_by_role("button", name="Connect").click()
    await page.get_by_role("alert").filter(has_text="A channel name is").wait_for()
    await page.get_by_label("New channel").fill("book-club")
    await page.get_by_role("button", name="Connect").click()
    await page.get_by_role("status").filter(has_text="Connected to book-club as Alice").wait_for()
    other = await new_page(server.url + "/?channel=book-club&handle=Bob")
    await other.get_by_role("status").filter(has_text="Connected to book-club as Bob").wait_for()
    await wait_for_line(page, "Bob has joined the chat")
    plain = await start_server()
    closed = await new_page(plain.url + "/")
    assert await closed.get_by_label("New channel").is_hidden()
