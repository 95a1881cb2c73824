"""Take the README's screenshots (docs/screenshot.png, and docs/screenshot-phone.png at 375 x 740) with the browser
tests' Chromium: ``make screenshot``."""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from pathlib import Path

from .support import REPO, Server
from .support.browser import launch_chromium, say


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as data:
        server = await Server(Path(data), ["--rate-limit", "0"]).start()
        try:
            async with launch_chromium() as browser:
                pages = []
                for handle in ("Alice", "Bob", "Carol"):
                    page = await browser.new_page(viewport={"width": 1100, "height": 680})
                    await page.goto(f"{server.url}/?channel=general&handle={handle}")
                    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
                    pages.append(page)
                alice, bob, carol = pages
                # Alice and Bob are in tech too; Alice reads general while Bob names her in tech.
                for page, handle in ((alice, "Alice"), (bob, "Bob")):
                    await page.get_by_role("navigation", name="Channels").get_by_role("button", name="tech,").click()
                    await page.get_by_role("status").filter(has_text=f"Connected to tech as {handle}").wait_for()
                await alice.get_by_role("navigation", name="Channels").get_by_role("button", name="general,").click()
                await alice.get_by_role("status").filter(has_text="Connected to general").wait_for()
                await say(bob, "@Alice the deploy is done, have a look")
                await bob.get_by_role("navigation", name="Channels").get_by_role("button", name="general,").click()
                await bob.get_by_role("status").filter(has_text="Connected to general").wait_for()
                for page, text in ((alice, "Hi Bob! The log file is the source of truth here."),
                                   (alice, "Notes: https://example.org/wsserver"),
                                   (bob, "Nice: I can grep it at 3 a.m.\nAnd `tail -f` it **too**."),
                                   (carol, "@Bob <b>markup</b> stays text, and ünïcödé 🎉 is fine.")):
                    await say(page, text)
                    await page.get_by_role("log").locator("li").filter(has_text=text.split("\n")[0][-12:]).wait_for()
                await alice.get_by_role("log").locator("li").filter(has_text="ünïcödé").wait_for()
                # Reactions and a reply: Carol and Bob react to Bob's line, Carol replies to it.
                grep = carol.get_by_role("log").locator("li.line").filter(has_text="I can grep it")
                for page, choice in ((carol, "React with 👍"), (bob, "React with 🎉"), (alice, "React with 👍")):
                    line = page.get_by_role("log").locator("li.line").filter(has_text="I can grep it")
                    await line.get_by_role("button", name="React to Bob").click()
                    await page.get_by_role("button", name=choice).click()
                await alice.get_by_role("button", name="👍 2: Carol, Alice").wait_for()
                await grep.get_by_role("button", name="Reply to Bob").click()
                await say(carol, "grep for the reply lines too")
                await alice.get_by_role("button", name="1 reply").wait_for()
                await say(bob, "/msg Alice see you at noon")
                await alice.locator("li.private").wait_for()
                await bob.get_by_label("Message").press_sequentially("typing")
                await alice.locator("#typing").filter(has_text="Bob is typing").wait_for()
                await alice.wait_for_function("document.title.startsWith('(1)')")
                await alice.get_by_label("Message").press_sequentially("Thanks @Ca")
                await alice.get_by_role("listbox", name="People to mention").wait_for()
                await alice.screenshot(path=str(out))
                phone = await browser.new_page(viewport={"width": 375, "height": 740}, device_scale_factor=2)
                await phone.goto(f"{server.url}/?channel=general&handle=Dave")
                await phone.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
                await phone.get_by_role("log").locator("li").filter(has_text="grep for the reply").wait_for()
                await phone.get_by_label("Message").press_sequentially("On my phone: **all** of it")
                await phone.screenshot(path=str(out.with_name(f"{out.stem}-phone{out.suffix}")))
        finally:
            await server.stop()
    print(f"wrote {out} and {out.with_name(f'{out.stem}-phone{out.suffix}')}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshot.png"))
