"""Take the README's screenshot (docs/screenshot.png) with the browser tests' Chromium: ``make screenshot``."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from .support import REPO, Server
from .support.browser import launch_chromium


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as data:
        server = await Server(Path(data), ["--rate-limit", "0"]).start()
        try:
            async with launch_chromium() as browser:
                pages = []
                for handle in ("Alice", "Bob", "Carol"):
                    page = await browser.new_page(viewport={"width": 960, "height": 640})
                    await page.goto(f"{server.url}/?channel=general&handle={handle}")
                    await page.get_by_role("status").filter(has_text="Connected").wait_for()
                    pages.append(page)
                alice, bob, _carol = pages
                for page, text in ((alice, "Hi Bob! The log file is the source of truth here."),
                                   (bob, "Nice: I can grep it at 3 a.m.\nAnd tail -f it too."),
                                   (alice, "<b>markup</b> stays text, and ünïcödé 🎉 is fine.")):
                    await page.get_by_label("Message").fill(text)
                    await page.get_by_label("Message").press("Enter")
                    await page.get_by_role("log").locator("li").filter(has_text=text.split("\n")[0]).wait_for()
                await alice.get_by_role("log").locator("li").filter(has_text="ünïcödé").wait_for()
                await bob.get_by_label("Message").fill("/msg Alice see you at noon")
                await bob.get_by_label("Message").press("Enter")
                await alice.locator("li.private").wait_for()
                await bob.get_by_label("Message").press_sequentially("typing")
                await alice.locator("#typing").filter(has_text="Bob is typing").wait_for()
                await alice.get_by_label("Message").fill("Typing a reply…")
                await alice.screenshot(path=str(out))
        finally:
            await server.stop()
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshot.png"))
