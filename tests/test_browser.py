"""The browser client in a real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wsserver.store.redis.keys import Keys
from wsserver.store.redis.scripts import APPEND

from .browser import launch_chromium
from .conftest import Server, eventually, free_port, joined, run_cli, seed_log

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
async def new_page(browser: Any) -> AsyncIterator[Any]:
    """Open pages, each in a context of its own (as separate people would)."""
    contexts = []

    async def open_page(url: str, width: int = 1100, height: int = 800) -> Any:
        context = await browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = await context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        await page.goto(url)
        return page

    yield open_page
    for context in contexts:
        await context.close()


def log_texts(page: Any) -> Any:
    return page.get_by_role("log").locator("li .text")


async def wait_for_line(page: Any, text: str) -> None:
    await page.get_by_role("log").get_by_text(text, exact=True).first.wait_for()


async def connect_by_form(page: Any, handle: str, channel: str = "general") -> None:
    await page.get_by_label("Channel", exact=True).select_option(channel)
    await page.get_by_label("Handle").fill(handle)
    await page.get_by_role("button", name="Connect").click()
    await page.get_by_role("status").filter(has_text="Connected").wait_for()


async def say(page: Any, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.get_by_label("Message").press("Enter")


async def shown_lines(page: Any) -> list[str]:
    """Return the log lines the page shows, rebuilt from what it renders (time title, handle, text)."""
    return list(await page.get_by_role("log").locator("li.line:not(.notice)").evaluate_all("""items => items.map(i => {
        const stamp = i.querySelector("time").title;
        const who = i.classList.contains("system") ? "System" : i.querySelector(".handle").textContent;
        return `[${stamp}] ${who}: ${i.querySelector(".text").textContent}`;
    })"""))


class ChatStore:
    """One kind of store for a browser test: servers on it, lines seeded into it, and its lines read back."""

    def __init__(self, kind: str, start_server: Any, tmp_path: Path, redis: Any) -> None:
        self.kind, self._start_server, self.data_dir, self.redis = kind, start_server, tmp_path / "data", redis

    async def start(self, *args: str) -> Server:
        store = ("--store", self.redis.url) if self.kind == "redis" else ()
        return await self._start_server(*store, *args, data_dir=self.data_dir)

    def seed(self, channel: str, lines: list[str]) -> None:
        if self.kind == "file":
            seed_log(self.data_dir, channel, lines)
            return
        client, keys = self.redis.client(), Keys()
        stream = keys.stream(channel)
        for line in lines:  # the nodes' own append script, so the stream gets its epoch
            client.eval(APPEND, 3, stream, keys.epoch(stream), keys.rung(stream), line, "0", "0123456789abcdef")

    def lines(self, channel: str) -> list[str]:
        if self.kind == "file":
            return (self.data_dir / f"channel_{channel}.log").read_text(encoding="utf-8").splitlines()
        return [fields[b"line"].decode() for _, fields in self.redis.client().xrange(Keys().stream(channel))]


@pytest.fixture(params=["file", "redis"])
def chat_store(request: Any, start_server: Any, tmp_path: Path) -> ChatStore:
    """The file store, then a Redis store (its own redis-server): the page must work the same on both."""
    redis = request.getfixturevalue("redis_server") if request.param == "redis" else None
    return ChatStore(request.param, start_server, tmp_path, redis)


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
    assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", await row.locator("time").inner_text())
    await bob.locator("li.system", has_text="Bob has joined the chat").wait_for()
    assert await bob.locator("li.system", has_text="Bob has joined the chat").count() == 1
    await say(bob, "hi Alice")
    await wait_for_line(alice, "hi Alice")
    assert alice.errors == [] and bob.errors == []


async def test_markup_is_shown_as_text(server: Server, new_page: Any) -> None:
    """An <img onerror> payload is shown literally and never runs."""
    alice = await new_page(server.url + "/?channel=general&handle=Alice")
    bob = await new_page(server.url + "/?channel=general&handle=Bob")
    await bob.get_by_role("status").filter(has_text="Connected").wait_for()
    payload = '<img src=x onerror="window.pwned = 1"><b>bold</b>'
    await alice.get_by_role("status").filter(has_text="Connected").wait_for()
    await say(alice, payload)
    await wait_for_line(bob, payload)
    for page in (alice, bob):
        assert await page.evaluate("window.pwned") is None
        assert await page.get_by_role("log").locator("img, b").count() == 0


async def test_multi_line_message(server: Server, new_page: Any) -> None:
    """Shift+Enter makes a new line; the message is one escaped log line, shown with its line break."""
    alice = await new_page(server.url + "/?channel=general&handle=Alice")
    bob = await new_page(server.url + "/?channel=general&handle=Bob")
    await bob.get_by_role("status").filter(has_text="Connected").wait_for()
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
    for handle, reason in (("a!", "A handle is 3 to 16 letters, digits or underscores."),
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


async def test_restart_reconnects_without_duplicates(chat_store: ChatStore, new_page: Any) -> None:
    """After a server restart the page reconnects by itself and shows every line exactly once (both stores)."""
    port = free_port()
    first = await chat_store.start("--port", str(port), "--rate-limit", "0")
    page = await new_page(first.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
    await say(page, "before restart")
    await wait_for_line(page, "before restart")
    assert await first.stop(signal.SIGTERM) == 0
    await page.get_by_role("status").filter(has_text=re.compile(r"Reconnecting in \d+ s")).wait_for()
    await chat_store.start("--port", str(port), "--rate-limit", "0")
    await page.get_by_role("status").filter(has_text="Connected").wait_for(timeout=20_000)
    await say(page, "after restart")
    await wait_for_line(page, "after restart")
    assert await shown_lines(page) == chat_store.lines("general"), "each line of the log once, in order"
    assert await page.get_by_text("may not be shown").count() == 0
    assert page.errors == []


async def test_disconnect_does_not_reconnect(server: Server, new_page: Any) -> None:
    """Disconnect closes the socket, writes the leave line and stays disconnected."""
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
    await page.get_by_role("button", name="Disconnect").click()
    await page.get_by_role("status").filter(has_text="Disconnected").wait_for()
    await eventually(lambda: server.file_lines("general")[-1].endswith("System: Alice has left the chat"))
    # Proving that nothing happens takes a wait: longer than the shortest reconnect delay (1 s).
    await page.wait_for_timeout(1500)
    assert await page.locator("#state").inner_text() == "Disconnected"
    assert sum("Alice@general joined" in line for line in server.lines) == 1
    assert await page.get_by_label("Message").is_disabled()


async def test_counter_and_limits(start_server: Any, new_page: Any) -> None:
    """The counter shows characters left against the server's limit; too long is refused in the page."""
    server = await start_server("--max-message-chars", "10")
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
    await page.get_by_label("Message").fill("héllo")
    assert await page.locator("#remaining").inner_text() == "5 characters left"
    await say(page, "x" * 11)
    await page.get_by_role("alert").filter(has_text="Message is too long (limit 10 characters)").wait_for()


async def test_server_errors_are_shown(start_server: Any, new_page: Any) -> None:
    """A server error frame, such as the rate limit, is shown in the alert."""
    server = await start_server("--rate-limit", "0.1", "--rate-burst", "1")
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
    await say(page, "one")
    await wait_for_line(page, "one")
    await say(page, "two")
    await page.get_by_role("alert").filter(has_text="Rate limit exceeded").wait_for()


async def test_new_messages_jump_when_scrolled_up(server: Server, new_page: Any, connect: Any) -> None:
    """Scrolled up, the log stays put and offers a jump to new lines; at the bottom it follows."""
    page = await new_page(server.url + "/?channel=general&handle=Alice", height=600)
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
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
    """At 375 px wide nothing overflows sideways and every control is on screen."""
    page = await new_page(server.url + "/?channel=general&handle=Phone", width=375, height=700)
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    for locator in (page.get_by_label("Channel", exact=True), page.get_by_label("Handle"), page.get_by_label("Message"),
                    page.get_by_role("button", name="Disconnect"), page.get_by_role("button", name="Send"),
                    page.get_by_label("Search", exact=True), page.get_by_role("button", name="Find"),
                    page.get_by_label("Go to date"), page.get_by_role("button", name="Go", exact=True)):
        box = await locator.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375


WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
              "resultTypes": ["violations"]}


async def axe_violations(page: Any) -> list[str]:
    """Run axe-core's WCAG 2.1 A and AA rules on the page; return each violation as 'rule: impact: target'."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page, options=WCAG_21_AA)
    return [f"{v['id']}: {v['impact']}: {node['target']}" for v in results.response["violations"] for node in v["nodes"]]


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


async def test_line_logic_on_its_own(server: Server, new_page: Any) -> None:
    """The page's parsing, unescaping, handle rule and backoff, tested as a module."""
    page = await new_page(server.url + "/")
    result = await page.evaluate("""async () => {
        const m = await import('/lines.js');
        return {
            chat: m.parseLine('[2026-11-22 14:07:03] Alice: a\\\\nb \\\\\\\\n \\\\u0000 \\\\t'),
            system: m.parseLine('[2026-11-22 14:07:03] System: Bob has joined the chat').system,
            dm: m.parseLine('[2026-11-22 14:07:03] Alice -> Bob: psst').to,
            other: m.parseLine('free text'),
            handles: ['Al', 'Alice', 'al ice', 'SYSTEM', 'a_b_c', 'x'.repeat(17)].map(m.handleProblem),
            cursors: Object.keys(m).filter(name => /cursor|place|seen/i.test(name)),
            delays: [0, 1, 2, 5, 10].map(a => [m.backoffDelay(a, () => 0), m.backoffDelay(a, () => 0.999999)]),
            count: m.charCount('a🎉é'),
        };
    }""")
    assert result["chat"]["text"] == "a\nb \\n \x00 \t"
    assert result["chat"]["handle"] == "Alice" and result["chat"]["time"] == "14:07:03"
    assert result["system"] is True and result["dm"] == "Bob"
    assert result["other"]["text"] == "free text" and result["other"]["handle"] == ""
    assert result["handles"] == ["A handle is 3 to 16 letters, digits or underscores.", "",
                                 "A handle is 3 to 16 letters, digits or underscores.",
                                 "The handle System is reserved.", "",
                                 "A handle is 3 to 16 letters, digits or underscores."]
    assert result["cursors"] == []  # the page never parses a cursor
    assert result["delays"] == [[1000, 1000], [1000, 2000], [2000, 4000], [15000, 30000], [15000, 30000]]
    assert result["count"] == 3


async def test_user_list_updates_live_and_starts_msg(server: Server, new_page: Any, connect: Any) -> None:
    """The Users list follows joins and leaves; clicking a name starts /msg to them."""
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    users = page.get_by_role("list", name="Users")
    await users.get_by_role("button", name="Alice").wait_for()
    bob = await joined(await connect(server, "Bob"), "Bob")
    await users.get_by_role("button", name="Bob").wait_for()
    await page.get_by_label("Channel", exact=True).locator("option", has_text="general (2 users)").wait_for(state="attached")
    await bob.ws.close()
    await users.get_by_role("button", name="Bob").wait_for(state="detached")
    carol = await joined(await connect(server, "Carol"), "Carol")
    await users.get_by_role("button", name="Carol").click()
    assert await page.get_by_label("Message").input_value() == "/msg Carol "
    await page.get_by_label("Message").press_sequentially("just you")
    await page.get_by_label("Message").press("Enter")
    frame = await carol.event("private")
    assert frame["data"]["message"].endswith("] Alice -> Carol: just you")


async def test_typing_indicator(server: Server, new_page: Any) -> None:
    """Typing in one page shows "Alice is typing…" in the other, gone once the message is sent."""
    alice = await new_page(server.url + "/?channel=general&handle=Alice")
    bob = await new_page(server.url + "/?channel=general&handle=Bob")
    await alice.get_by_role("status").filter(has_text="Connected").wait_for()
    await bob.get_by_role("status").filter(has_text="Connected").wait_for()
    await alice.get_by_label("Message").press_sequentially("hel")
    await bob.locator("#typing").filter(has_text="Alice is typing…").wait_for()
    assert await alice.locator("#typing").inner_text() == ""
    await alice.get_by_label("Message").press("Enter")
    await wait_for_line(bob, "hel")
    await bob.locator("#typing").filter(has_text=re.compile("^$")).wait_for()
    assert "typing" not in server.log_path("general").read_text()


async def test_msg_command_is_private(server: Server, new_page: Any) -> None:
    """/msg Bob text reaches Bob and Alice marked private, and not Carol."""
    pages = {}
    for handle in ("Alice", "Bob", "Carol"):
        pages[handle] = await new_page(server.url + f"/?channel=general&handle={handle}")
        await pages[handle].get_by_role("status").filter(has_text="Connected").wait_for()
    await pages["Alice"].get_by_role("list", name="Users").get_by_role("button", name="Carol").wait_for()
    await say(pages["Alice"], "/msg Bob the secret")
    for handle in ("Alice", "Bob"):
        row = pages[handle].locator("li.private", has_text="the secret")
        await row.wait_for()
        assert await row.locator(".handle").inner_text() == "Alice → Bob"
    await say(pages["Alice"], "public after")
    await wait_for_line(pages["Carol"], "public after")
    assert await pages["Carol"].get_by_text("the secret").count() == 0
    await say(pages["Alice"], "/msg Nobody hello")
    await pages["Alice"].get_by_role("alert").filter(has_text="User not found").wait_for()


async def test_reconnect_resumes_with_no_gap(chat_store: ChatStore, new_page: Any, connect: Any) -> None:
    """Lines written while the page was away, beyond its history length, appear once after it reconnects."""
    port = free_port()
    first = await chat_store.start("--port", str(port), "--rate-limit", "0", "--history", "3")
    page = await new_page(first.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
    await first.stop(signal.SIGTERM)
    await page.get_by_role("status").filter(has_text=re.compile(r"Reconnecting")).wait_for()
    # Another server on the same store writes while the page is away.
    writer_server = await chat_store.start("--rate-limit", "0")
    writer = await joined(await connect(writer_server, "Writer"), "Writer")
    for i in range(20):
        await writer.chat(f"while away {i}")
    await writer.until_line("while away 19")
    await chat_store.start("--port", str(port), "--rate-limit", "0", "--history", "3")
    await page.get_by_role("status").filter(has_text="Connected").wait_for(timeout=20_000)
    await wait_for_line(page, "while away 19")
    await writer.chat("live again")
    await wait_for_line(page, "live again")
    shown = await shown_lines(page)
    assert shown == chat_store.lines("general")[: len(shown)] and len(shown) >= 24
    assert await page.get_by_text("may not be shown").count() == 0


async def test_scrolling_up_loads_older_lines(chat_store: ChatStore, new_page: Any) -> None:
    """Scrolling to the top pages older lines in, until the first line of the log (both stores)."""
    old = [f"[2026-11-22 10:00:00] Old: old line {i}" for i in range(250)]
    chat_store.seed("general", old)
    server = await chat_store.start("--history", "20")
    page = await new_page(server.url + "/?channel=general&handle=Alice", height=600)
    await wait_for_line(page, "old line 249")
    log = page.get_by_role("log")
    for expected in ("old line 130", "old line 30", "old line 0"):
        await log.evaluate("l => { l.scrollTop = 0; l.dispatchEvent(new Event('scroll')); }")
        await wait_for_line(page, expected)
    await wait_for_line(page, "Alice has joined the chat")
    assert await shown_lines(page) == chat_store.lines("general")
    assert (await shown_lines(page))[:250] == old
    assert page.errors == []


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


async def test_token_link_joins_as_the_token_subject(start_server: Any, new_page: Any) -> None:
    """With --jwt-secret, a link carrying token= joins as the token's sub, whatever handle the page shows."""
    import time

    import jwt

    secret = "a-test-secret-of-at-least-32-bytes!!"
    server = await start_server("--jwt-secret", secret)
    token = jwt.encode({"sub": "Alice", "exp": int(time.time()) + 60}, secret, algorithm="HS256")
    page = await new_page(server.url + f"/?channel=general&token={token}&handle=Mallory")
    await page.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    assert await page.get_by_label("Handle").input_value() == "Alice"
    await say(page, "signed in")
    await page.locator("li.own", has_text="signed in").wait_for()
    refused = await new_page(server.url + "/?channel=general&handle=Bob")
    await refused.get_by_role("status").filter(has_text=re.compile("Reconnecting|Disconnected")).wait_for()


async def test_a_token_page_outlives_its_token_across_a_restart(start_server: Any, new_page: Any) -> None:
    """A page opened with a token that expires in seconds reconnects after a restart past that, with the
    server's resume token; the token is gone from the address bar as soon as the page has read it."""
    import time

    import jwt

    secret = "a-test-secret-of-at-least-32-bytes!!"
    port = str(free_port())
    first = await start_server("--jwt-secret", secret, "--port", port)
    expires = int(time.time()) + 3
    site_token = jwt.encode({"sub": "Alice", "exp": expires}, secret, algorithm="HS256")
    page = await new_page(first.url + f"/?channel=general&token={site_token}")
    await page.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    assert await page.evaluate("location.search") == "?channel=general"
    await eventually(lambda: time.time() > expires + 1, timeout=10)  # the site's token has expired
    assert await first.stop(signal.SIGTERM) == 0
    await page.get_by_role("status").filter(has_text=re.compile(r"Reconnecting in \d+ s")).wait_for()
    second = await start_server("--jwt-secret", secret, "--port", port, data_dir=first.data_dir)
    await page.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for(timeout=20_000)
    await say(page, "still signed in")
    await wait_for_line(page, "still signed in")
    await second.wait_for_log("Alice@general came back")  # with since=, inside the grace: no join line
    # Disconnect, then Connect again to the same channel: the resume token still serves.
    await page.get_by_role("button", name="Disconnect").click()
    await page.get_by_role("status").filter(has_text="Disconnected").wait_for()
    await page.get_by_role("button", name="Connect").click()
    await page.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    assert page.errors == []


async def test_refused_before_the_upgrade_is_said(start_server: Any, new_page: Any) -> None:
    """A socket refused at the HTTP level (here: origin not allowed) tells the person, and retries."""
    server = await start_server("--allowed-origins", "https://elsewhere.example")
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("alert").filter(has_text="Could not connect to the chat server").wait_for()
    await page.get_by_role("status").filter(has_text=re.compile(r"Reconnecting in \d+ s")).wait_for()
    await server.wait_for_log("refused a socket from 127.0.0.1: Origin not allowed")


async def test_the_page_on_two_nodes_sharing_redis(nodes: Any, new_page: Any) -> None:
    """Pages on two Redis nodes: channel counts, user lists, lines and /msg all cross nodes."""
    a, b = await nodes("a"), await nodes("b")
    alice = await new_page(a.url + "/?channel=general&handle=Alice")
    await alice.get_by_role("status").filter(has_text="Connected to general as Alice").wait_for()
    bob = await new_page(b.url + "/")
    await bob.get_by_label("Channel", exact=True).locator("option", has_text="general (1 user)").wait_for(state="attached")
    await connect_by_form(bob, "Bob")
    await wait_for_line(alice, "Bob has joined the chat")
    for page in (alice, bob):
        users = page.get_by_role("list", name="Users")
        await users.get_by_role("button", name="Alice").wait_for()
        await users.get_by_role("button", name="Bob").wait_for()
    await say(alice, "hello across nodes")
    await wait_for_line(bob, "hello across nodes")
    await say(bob, "/msg Alice just you")
    row = alice.locator("li.private", has_text="just you")
    await row.wait_for()
    assert await row.locator(".handle").inner_text() == "Bob → Alice"
    taken = await new_page(b.url + "/?channel=general&handle=alice")
    await taken.get_by_role("alert").filter(has_text="User already registered").wait_for()
    assert alice.errors == [] and bob.errors == []


def stamped(i: int, text: str) -> str:
    return f"[2026-11-22 10:{i // 60:02d}:{i % 60:02d}] {text}"


SEARCHABLE = [stamped(i, {10: "Bob: the deploy is at noon", 290: "Carol: DEPLOY done"}.get(i, f"Dave: filler {i}"))
              for i in range(300)]


async def jumped_lines(page: Any) -> list[str]:
    return list(await page.locator("#jumped li").evaluate_all("items => items.map(i => i.textContent)"))


async def test_search_and_jump_by_keyboard(start_server: Any, new_page: Any, connect: Any, tmp_path: Path) -> None:
    """Search with Enter; results marked; a result shows the log around it; Go to date; back to the live end."""
    server = await start_server("--rate-limit", "0", data_dir=seed_log(tmp_path / "data", "general", SEARCHABLE))
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
    await page.get_by_label("Search", exact=True).fill("deploy")
    await page.get_by_label("Search", exact=True).press("Enter")
    await page.get_by_role("status").filter(has_text="2 lines found").wait_for()
    results = page.get_by_role("list", name="Search results").get_by_role("button")
    assert await results.all_text_contents() == ["2026-11-22 10:04:50 Carol DEPLOY done",
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
    assert await marked.text_content() == "10:00:10 Bob the deploy is at noon"
    assert await marked.get_attribute("aria-current") == "true"
    assert await page.evaluate("document.activeElement.classList.contains('marked')")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await bob.chat("said while Alice reads history")
    await page.locator("#lines li", has_text="said while Alice reads history").wait_for(state="attached")
    assert await page.locator("#lines").is_hidden()
    await page.get_by_label("Go to date").fill("2026-11-22T10:03")
    await page.get_by_label("Go to date").press("Enter")
    await page.get_by_text("Lines from 2026-11-22 10:03").wait_for()
    assert await page.locator("#jumped li.marked").text_content() == "10:03:00 Dave filler 180"
    await page.get_by_role("button", name="Back to live").click()
    await page.locator("#jumped").wait_for(state="hidden")
    await wait_for_line(page, "said while Alice reads history")
    assert await page.get_by_label("Message").evaluate("m => m === document.activeElement")
    assert page.errors == []


async def test_jump_view_pages_back_and_forward(start_server: Any, new_page: Any, tmp_path: Path) -> None:
    """Scrolled to its top the jump view loads older lines; to its bottom, newer ones up to the end."""
    server = await start_server(data_dir=seed_log(tmp_path / "data", "general", SEARCHABLE))
    page = await new_page(server.url + "/?channel=general&handle=Alice", height=600)
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
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


async def test_deleting_ones_own_line_in_the_page(server: Server, new_page: Any, connect: Any) -> None:
    """Own lines have a Delete control, confirmed in a dialog; the line shows as deleted everywhere."""
    bob = await joined(await connect(server, "Bob"), "Bob")
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
    await bob.chat("a line of Bob")
    await wait_for_line(page, "a line of Bob")
    await say(page, "oops, wrong window")
    await wait_for_line(page, "oops, wrong window")
    assert await page.locator("li", has_text="a line of Bob").get_by_role("button").count() == 0  # not Alice's
    await page.get_by_role("button", name=re.compile("^Delete the line of Alice")).click()
    dialog = page.get_by_role("dialog", name="Delete this message?")
    await dialog.wait_for()
    assert await dialog.get_by_label("For").is_hidden()
    await dialog.get_by_role("button", name="Delete", exact=True).click()
    await page.locator("li.deleted .text", has_text="message deleted").wait_for()
    cursor = (await bob.event("deleted"))["data"]["cursor"]
    assert await page.locator("li.deleted").get_attribute("data-cursor") == cursor
    assert await page.get_by_role("log").get_by_text("oops, wrong window").count() == 0
    await page.get_by_role("log").locator("li", has_text="was deleted by Alice").wait_for()
    # Reloaded, the page shows it deleted from its history too.
    await page.reload()
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
    await page.locator("li.deleted .text", has_text="message deleted").wait_for()
    assert page.errors == []


async def test_a_channel_operator_bans_from_the_users_list_by_keyboard(start_server: Any, new_page: Any,
                                                                       connect: Any) -> None:
    """An operator's page has Kick, Ban and Mute beside each name; Ban asks for how long and why."""
    import time

    import jwt

    secret = "a-test-secret-of-at-least-32-bytes!!"
    server = await start_server("--jwt-secret", secret, "--rate-limit", "0")

    def token(handle: str, **claims: Any) -> str:
        return str(jwt.encode({"sub": handle, "exp": int(time.time()) + 300, **claims}, secret, algorithm="HS256"))

    bob = await joined(await connect(server, None, token=token("Bob")), "Bob")
    page = await new_page(server.url + f"/?channel=general&token={token('Olga', ops=['general'])}")
    await page.get_by_role("status").filter(has_text="Connected to general as Olga").wait_for()
    users = page.get_by_role("list", name="Users")
    await users.get_by_role("button", name="Ban Bob").wait_for()
    assert await users.get_by_role("button", name="Kick Olga").count() == 0  # not oneself
    await bob.chat("spam spam spam")
    await wait_for_line(page, "spam spam spam")
    await page.get_by_role("button", name=re.compile("^Delete the line of Bob")).wait_for()  # an operator's
    await users.get_by_role("button", name="Ban Bob").focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Ban Bob?")
    await dialog.wait_for()
    assert await axe_violations(page) == []
    await dialog.get_by_label("For").select_option(label="1 hour")
    await dialog.get_by_label("Reason (optional)").fill("spam")
    await dialog.get_by_label("Reason (optional)").press("Enter")
    assert await bob.closed() == (1008, "You are banned from this channel: spam")
    await wait_for_line(page, "Bob was banned by Olga for 1h (spam)")
    await users.get_by_role("button", name="Ban Bob").wait_for(state="detached")


async def test_refusals_of_moderation_show_in_the_alert_and_a_kick_does_not_reconnect(
    server: Server, new_page: Any
) -> None:
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
    data = str(server.data_dir)
    assert (await run_cli("mute", "general", "Alice", "--data-dir", data))[0] == 0
    await wait_for_line(page, "Alice was muted by the operator until unmuted")
    await say(page, "can I talk?")
    await page.get_by_role("alert").filter(has_text="You are muted in this channel").wait_for()
    assert (await run_cli("kick", "general", "Alice", "--reason", "cool off", "--data-dir", data))[0] == 0
    await page.get_by_role("alert").filter(has_text="You were removed from the channel: cool off").wait_for()
    await page.locator("#state").filter(has_text="Disconnected").wait_for()
