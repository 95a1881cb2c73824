"""The page as an installable app in a real headless Chromium (Debian's): the manifest, the service worker,
a reload while the server is down, and a cache that never outlives its version."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .support import free_port
from .support.browser import persistent_page

pytestmark = pytest.mark.timeout(120)

CONTROLLED = """async () => {
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    await new Promise((done) => navigator.serviceWorker.addEventListener("controllerchange", done, { once: true }));
  }
  return navigator.serviceWorker.controller.scriptURL;
}"""

CACHED = """async () => {
  const names = await caches.keys();
  const paths = [];
  for (const name of names) {
    for (const request of await (await caches.open(name)).keys()) paths.push(new URL(request.url).pathname);
  }
  return { names, paths };
}"""


async def test_installable_offline_reload_and_a_cache_keyed_by_the_version(
    start_server: Any, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    port = str(free_port())
    server = await start_server("--port", port)
    async with session.get(f"{server.url}/api/settings") as response:
        settings = await response.json()
    version = settings["page_version"]
    assert re.fullmatch(r"[0-9a-f]{16}", version) and "vendor/markdown-it.mjs" in settings["page_files"]
    assert "manifest.webmanifest" in settings["page_files"] and "vendor/README.md" not in settings["page_files"]
    async with session.get(f"{server.url}/manifest.webmanifest") as response:
        assert response.headers["Content-Type"] == "application/manifest+json"
        manifest = await response.json(content_type=None)
    assert manifest["display"] == "standalone" and {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}

    async with persistent_page(tmp_path / "profile", server.url + "/?channel=general&handle=Alice") as page:
        await installed(page, server, version, port, start_server)


async def installed(page: Any, server: Any, version: str, port: str, start_server: Any) -> None:
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to ")).wait_for()
    assert await page.evaluate(CONTROLLED) == f"{server.url}/sw.js?v={version}"
    cdp = await page.context.new_cdp_session(page)
    assert await cdp.send("Page.getInstallabilityErrors") == {"installabilityErrors": []}
    assert (await cdp.send("Page.getAppManifest"))["errors"] == []
    cached = await page.evaluate(CACHED)
    assert cached["names"] == [f"wsserver-{version}"]
    assert {"/", "/app.js", "/style.css", "/vendor/markdown-it.mjs", "/icon-512.png"} <= set(cached["paths"])
    assert not [path for path in cached["paths"] if path.startswith(("/api/", "/files/", "/ws", "/sw.js"))]

    # Online, the page's files come from the server, never from a copy kept before (network first).
    await page.evaluate("""async () => {
      const cache = await caches.open((await caches.keys())[0]);
      await cache.put("/style.css", new Response("stale"));
    }""")
    assert await page.evaluate("fetch('/style.css').then((r) => r.text())") != "stale"

    # The server down: a reload shows the page from the worker's copy, and says so.
    await server.stop()
    await page.reload()
    await page.get_by_role("status").filter(has_text="Offline: reconnecting").wait_for()
    assert await page.get_by_role("heading", name="wsserver", level=1).is_visible()
    assert page.errors == []
    # Back: the page starts again by itself and joins.
    await start_server("--port", port, data_dir=server.data_dir)
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to general")).wait_for(timeout=20_000)

    # A new version (an upgrade) replaces the worker and deletes the old version's cache.
    await page.evaluate("navigator.serviceWorker.register('/sw.js?v=0123456789abcdef', { scope: '/' })")
    await page.wait_for_function("""async () => (await caches.keys()).join() === "wsserver-0123456789abcdef"
    """, polling=200)
    assert page.errors == []
