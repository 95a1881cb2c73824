"""Debian's Chromium under Playwright (or why the browser tests cannot run), and what page tests do in it."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from wsserver.store.redis.keys import Keys
from wsserver.store.redis.scripts import APPEND

from .servers import Server, missing, seed_log

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out, and this
# machine's closed network refuses it; the sandbox needs privileges CI lacks.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def require_chromium() -> None:
    """Skip (locally) or fail (with CI set) when Debian's Chromium is missing."""
    if os.path.exists(CHROMIUM):
        return
    missing(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)")


@contextlib.asynccontextmanager
async def launch_chromium() -> AsyncIterator[Any]:
    """Yield a headless Chromium browser."""
    require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def persistent_page(profile: Path, url: str) -> AsyncIterator[Any]:
    """Yield a page of a headless Chromium with a profile on disk (not incognito: what installing needs)."""
    require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": 1100, "height": 800})
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            page.errors = []
            page.on("pageerror", lambda error: page.errors.append(str(error)))
            await page.goto(url)
            yield page
        finally:
            await context.close()


def log_texts(page: Any) -> Any:
    return page.get_by_role("log").locator("li .text")


async def wait_for_line(page: Any, text: str) -> None:
    await page.get_by_role("log").get_by_text(text, exact=True).first.wait_for()


async def connect_by_form(page: Any, handle: str, channel: str = "general") -> None:
    await page.get_by_label("Channel", exact=True).select_option(channel)
    await page.get_by_label("Handle").fill(handle)
    await page.get_by_role("button", name="Connect").click()
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()


async def chat_page(new_page: Any, server: Any, handle: str, channel: str = "general") -> Any:
    """Open the page joined to ``channel`` as ``handle`` (by its address) and wait until the join was taken."""
    page = await new_page(server.url + f"/?channel={channel}&handle={handle}")
    await page.get_by_role("status").filter(has_text=f"Connected to {channel} as {handle}").wait_for()
    return page


async def say(page: Any, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.get_by_label("Message").press("Enter")


async def set_passphrase(page: Any, passphrase: str) -> None:
    """Turn the channel's passphrase on from the channel's menu, and wait until its key is made."""
    await page.get_by_role("button", name="Channel menu").click()
    await page.get_by_role("menuitemcheckbox", name="Encrypt with passphrase").click()
    await page.get_by_label("Passphrase", exact=True).fill(passphrase)
    await page.get_by_label("Passphrase", exact=True).press("Enter")
    await page.wait_for_function("document.getElementById('encrypt-toggle').getAttribute('aria-checked') === 'true'")


async def shown_lines(page: Any) -> list[str]:
    """Return the log lines the page shows, rebuilt from what it renders (time title, handle, text)."""
    return list(await page.get_by_role("log").locator("li.line:not(.notice)").evaluate_all("""items => items.map(i => {
        const stamp = i.querySelector("time").dataset.stamp;
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


# The rule set an auditor runs: the WCAG 2.0 and 2.1 A and AA tags, and Label in Name (WCAG 2.5.3), which axe
# files as experimental and leaves out unless asked.
WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
              "rules": {"label-content-name-mismatch": {"enabled": True}},
              "resultTypes": ["violations"]}


async def axe_violations(page: Any) -> list[str]:
    """Run axe-core's WCAG 2.1 A and AA rules on the page; return each violation as 'rule: impact: target'."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page, options=WCAG_21_AA)
    return [f"{v['id']}: {v['impact']}: {node['target']}" for v in results.response["violations"] for node in v["nodes"]]


def stamped(i: int, text: str) -> str:
    return f"[2026-11-22 10:{i // 60:02d}:{i % 60:02d}] {text}"


SEARCHABLE = [stamped(i, {10: "Bob: the deploy is at noon", 290: "Carol: DEPLOY done"}.get(i, f"Dave: filler {i}"))
              for i in range(300)]


async def seen_texts(locator: Any) -> list[str]:
    """Return each element's text as the eye reads it: a time's words for screen readers left out."""
    return list(await locator.evaluate_all("""nodes => nodes.map((node) => {
        const copy = node.cloneNode(true);
        copy.querySelectorAll("time .visually-hidden").forEach((said) => said.remove());
        return copy.textContent;
    })"""))


async def jumped_lines(page: Any) -> list[str]:
    """Return the text of the jump view's rows as read, without the lines' action buttons (and times as shown)."""
    return list(await page.locator("#jumped li").evaluate_all("""items => items.map(i => {
        const row = i.cloneNode(true);
        row.querySelectorAll(".actions, time .visually-hidden").forEach((node) => node.remove());
        return row.textContent.trimEnd();
    })"""))
