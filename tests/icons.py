"""Draw the page's app icons (web/icon-192.png, web/icon-512.png) from web/favicon.svg with the browser tests'
Chromium: ``make icons``. The PNGs are committed; run this after changing the favicon."""

from __future__ import annotations

import asyncio

from .support import REPO
from .support.browser import launch_chromium


async def main() -> None:
    svg = (REPO / "web" / "favicon.svg").read_text()
    async with launch_chromium() as browser:
        for size in (192, 512):
            page = await browser.new_page(viewport={"width": size, "height": size})
            # The icon on a square of its own colour (maskable: a launcher may cut any shape from it).
            await page.set_content(
                f'<body style="margin:0;background:#0b5cad">'
                f'<div style="width:{size}px;height:{size}px;display:grid;place-items:center">'
                f'<div style="width:{size * 0.8}px;height:{size * 0.8}px">{svg}</div></div></body>')
            await page.screenshot(path=str(REPO / "web" / f"icon-{size}.png"))
            await page.close()


if __name__ == "__main__":
    asyncio.run(main())
