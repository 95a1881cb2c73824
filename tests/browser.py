"""Start Debian's Chromium under Playwright, or say clearly why the browser tests cannot run."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from .conftest import missing

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
