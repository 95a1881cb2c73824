"""The page in a real headless Chromium (Debian's), driven by Playwright: formatted messages (markdown.js).

The log keeps what was typed; the page shows the subset of Markdown as elements it builds itself,
and raw HTML as text, inside and outside code, with no script run and no dialog opened.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from wsserver.lines.logline import format_line

from .support import seed_log
from .support.browser import axe_violations, wait_for_line

pytestmark = pytest.mark.timeout(120)

FENCED = "look:\n```\ndef f():\n    return  1\n```"
LINES = [
    format_line("2026-11-22 10:00:00", "Bob", "**bold** and *it* and _also_ and ~~gone~~ and `grep -c x a.log`"),
    format_line("2026-11-22 10:00:01", "Bob", FENCED),
    format_line("2026-11-22 10:00:02", "Bob", "> quoted words\n\nmy answer"),
    format_line("2026-11-22 10:00:03", "Bob", "- one\n- two\n\n3. three\n4. four"),
    format_line("2026-11-22 10:00:04", "Bob", "<img src=x onerror=alert(1)> and <script>alert(2)</script>"),
    format_line("2026-11-22 10:00:05", "Bob", "`<img src=x onerror=alert(3)>` and\n```\n<script>alert(4)</script>\n```"),
    format_line("2026-11-22 10:00:06", "Bob", "`@Alice` in code is no mention, \\*stars\\* are kept"),
    format_line("2026-11-22 10:00:07", "Bob", "plain, with a https://example.com/a_b_c link"),
]


def text_of(page: Any, index: int) -> Any:
    return page.locator("#lines li.line > .text").nth(index)


async def test_formatted_forms_raw_html_as_text_and_the_log_as_typed(start_server: Any, new_page: Any,
                                                                     tmp_path: Path) -> None:
    data = seed_log(tmp_path / "data", "general", LINES)
    server = await start_server("--rate-limit", "0", data_dir=data)
    page = await new_page(server.url + "/?channel=general&handle=Alice",
                          permissions=["clipboard-read", "clipboard-write"])
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await wait_for_line(page, "plain, with a https://example.com/a_b_c link")
    first = text_of(page, 0)
    assert await first.inner_html() == (
        "<strong>bold</strong> and <em>it</em> and <em>also</em> and <s>gone</s> and <code>grep -c x a.log</code>")
    fenced = text_of(page, 1)
    assert await fenced.locator("p").text_content() == "look:"
    assert await fenced.locator("pre code").text_content() == "def f():\n    return  1"
    assert await fenced.locator("pre").evaluate("p => getComputedStyle(p).whiteSpace") == "pre"
    await fenced.get_by_role("button", name="Copy code").click()
    await fenced.get_by_role("button", name="Copied").wait_for()
    assert await page.evaluate("navigator.clipboard.readText()") == "def f():\n    return  1"
    quote = text_of(page, 2)
    assert await quote.locator("blockquote").text_content() == "quoted words"
    assert await quote.locator(":scope > p").text_content() == "my answer"
    lists = text_of(page, 3)
    assert await lists.locator("ul > li").all_text_contents() == ["one", "two"]
    assert await lists.locator("ol > li").all_text_contents() == ["three", "four"]
    assert await lists.locator("ol").evaluate("o => o.start") == 3
    raw = text_of(page, 4)
    assert await raw.text_content() == "<img src=x onerror=alert(1)> and <script>alert(2)</script>"
    in_code = text_of(page, 5)
    assert await in_code.locator("p > code").text_content() == "<img src=x onerror=alert(3)>"
    assert await in_code.locator("pre code").text_content() == "<script>alert(4)</script>"
    assert await page.locator("#log img, #log script").count() == 0
    escaped = text_of(page, 6)
    assert await escaped.text_content() == "@Alice in code is no mention, *stars* are kept"
    assert await escaped.locator(".mention").count() == 0
    assert await page.locator("#lines li.line").nth(6).evaluate("li => li.classList.contains('mentions-me')") is False
    plain = text_of(page, 7)
    assert await plain.inner_html() == (
        'plain, with a <a href="https://example.com/a_b_c" target="_blank" rel="noopener noreferrer nofollow">'
        "https://example.com/a_b_c</a> link")
    # Typed on the page: the log holds the text exactly as typed; the page shows it formatted.
    await page.get_by_label("Message").fill("**sent** with `code` <b>tag</b>")
    await page.get_by_label("Message").press("Enter")
    sent = page.locator("#lines li.line", has_text="sent with code").locator(".text")
    await sent.wait_for()
    assert await sent.inner_html() == "<strong>sent</strong> with <code>code</code> &lt;b&gt;tag&lt;/b&gt;"
    log = (data / "channel_general.log").read_text()
    assert re.search(r"\] Alice: \*\*sent\*\* with `code` <b>tag</b>\n", log)
    assert dialogs == [] and page.errors == []


async def test_search_results_replies_and_the_help_are_formatted(start_server: Any, new_page: Any,
                                                                 tmp_path: Path) -> None:
    data = seed_log(tmp_path / "data", "general", LINES)
    server = await start_server("--rate-limit", "0", data_dir=data)
    page = await new_page(server.url + "/?channel=general&handle=Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    await page.get_by_label("Search", exact=True).fill("bold")
    await page.get_by_label("Search", exact=True).press("Enter")
    await page.get_by_role("status").filter(has_text="1 line found").wait_for()
    result = page.locator("#results .result .text")
    assert await result.inner_html() == (
        "<strong><mark>bold</mark></strong> and <em>it</em> and <em>also</em> and <s>gone</s> and "
        "<code>grep -c x a.log</code>")
    await page.get_by_role("button", name="Formatting help").click()
    help_dialog = page.get_by_role("dialog", name="Formatting")
    await help_dialog.wait_for()
    assert "**bold**" in await help_dialog.text_content()
    assert await axe_violations(page) == []
    await page.keyboard.press("Escape")
    await help_dialog.wait_for(state="hidden")
    # A reply's quote shows its parent formatted, as one line.
    line = page.locator("#lines li.line").nth(0)
    await line.hover()
    await line.get_by_role("button", name="Reply").click()
    await page.get_by_label("Message").fill("agreed")
    await page.get_by_label("Message").press("Enter")
    quote = page.locator("#lines li.line", has_text="agreed").locator(".quote")
    await quote.locator("strong").wait_for()
    assert await quote.inner_html() == (
        "↪ Bob: <strong>bold</strong> and <em>it</em> and <em>also</em> and <s>gone</s> and "
        "<code>grep -c x a.log</code>")
    assert await axe_violations(page) == []
    assert page.errors == []
