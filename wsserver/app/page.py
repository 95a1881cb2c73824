"""The browser page's files: served from ``web/`` (or the installed package's copy), and named for its service worker.

:func:`page_files` lists them with a version, a digest of their names and
contents made once per process: ``/api/settings`` tells the page, which
registers its service worker (``web/sw.js``) under that version, so a worker's
cache never outlives the files it was made from (an upgrade, an edit of
``web/``, brings a new version and a new cache).
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
from pathlib import Path

from aiohttp import web

from .. import protocol

# Types for the client's files; aiohttp's own guess says application/javascript,
# where RFC 9239 names text/javascript.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/vnd.microsoft.icon",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}
# Not the page's: documents about it that are not loaded by it.
NOT_LOADED = {".md", ".txt"}


def web_root() -> Path:
    """Return the browser client's folder: inside the installed package, else the checkout's ``web/``."""
    package = Path(__file__).resolve().parent.parent  # wsserver/
    packaged = package / "web"  # wsserver/web in a wheel (pyproject.toml)
    if packaged.is_dir():
        return packaged
    return package.parent / "web"


@functools.cache
def page_files() -> dict[str, object]:
    """Return ``{"page_version": DIGEST, "page_files": [PATH, ...]}``: the page's files, read once."""
    root = web_root()
    digest = hashlib.sha256()
    paths = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix not in NOT_LOADED):
        relative = path.relative_to(root).as_posix()
        paths.append(relative)
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return {"page_version": digest.hexdigest()[:16], "page_files": paths}


async def static_file(request: web.Request) -> web.StreamResponse:
    """Serve a file of the browser client; ``/`` is ``index.html``."""
    root = web_root().resolve()
    relative = request.match_info["path"] or "index.html"
    if "\x00" in relative:  # no file has one in its name; resolve() would raise on it
        raise web.HTTPNotFound(text=protocol.NOT_FOUND_NUL + "\n")
    try:
        target = (root / relative).resolve()
        if target.is_dir():
            target = target / "index.html"
        found = target.is_relative_to(root) and target.is_file()
    except OSError:  # a name longer than the file system allows (ENAMETOOLONG), a path too deep: no such file
        found = False
    if not found:
        raise web.HTTPNotFound(text=protocol.NOT_FOUND_PATH.format(path=relative[:200]) + "\n")
    content_type = CONTENT_TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
    headers = {"Content-Type": content_type or "application/octet-stream", "X-Content-Type-Options": "nosniff"}
    if target.name == "sw.js":
        headers["Cache-Control"] = "no-cache"  # the browser checks the worker for an update at every load
    return web.FileResponse(target, headers=headers)
