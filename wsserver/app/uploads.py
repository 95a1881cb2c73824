"""``PUT /api/uploads/ID`` (the bytes of an upload ticket) and ``GET /files/ID/NAME`` (serving them).

The ``PUT`` takes its one-time ticket from the store first (any process or
node may receive it), streams the body to a part file while counting (past
``--max-upload-bytes``: 413, whatever the declared length), decides the type
from the bytes, cleans an image (:mod:`.media`), puts the file where it is
served, and only then appends the uploader's line: a failure at any step
leaves no file, no part and no line.

Serving sends only JPEG, PNG, GIF and WebP inline; everything else is an
attachment.  Every answer carries ``nosniff``, a sandboxing CSP and a long
cache lifetime (a file never changes); a withdrawn (deleted) upload is 410.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from ..errors import NoRoom, NotAnImage, TooManyPixels
from ..hub.seatless import share, take_ticket
from ..protocol import Code, Refused
from ..uploads import media
from ..uploads.rules import megabytes, pixels
from ..uploads.storage import ID_RE, Stored
from . import answers
from .state import STATE

log = logging.getLogger("wsserver.uploads.routes")  # the name operators know from the log (docs/operations.md)

CHUNK = 64 * 1024
SNIFF_BYTES = 4096
SERVED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
    "Cache-Control": "public, max-age=31536000, immutable",
    "Cross-Origin-Resource-Policy": "same-origin",
}


async def put_upload(request: web.Request) -> web.Response:
    """Receive the bytes of an upload ticket; answer 201 with the file, or the error that names the problem."""
    state = request.app[STATE]
    upload = request.match_info["id"]
    config = state.config
    if not ID_RE.match(upload):
        return answers.refused(Code.NO_TICKET)
    ticket = await take_ticket(state.hub, upload)
    if isinstance(ticket, Refused):
        return answers.refused(ticket)
    too_large = answers.refused(Code.TOO_LARGE, limit=megabytes(config.max_upload_bytes))
    if (request.content_length or 0) > config.max_upload_bytes:
        return too_large
    files = state.files
    part = await asyncio.to_thread(files.part, upload)
    try:
        await asyncio.to_thread(files.room_for, request.content_length or 0)
        size = await _receive(request, part, config.max_upload_bytes)
        if size is None:
            return too_large
        stored = await asyncio.to_thread(_examine, part, upload, ticket.name, size, config.max_image_pixels)
        await asyncio.to_thread(files.room_for, stored.size)  # the declared size may have been less
        thumbnail = part.with_suffix(".thumb") if stored.width is not None else None
        await asyncio.to_thread(files.keep, stored, part.with_suffix(".clean") if thumbnail else part, thumbnail)
    except TooManyPixels:
        return answers.refused(Code.TOO_MANY_PIXELS, limit=pixels(config.max_image_pixels))
    except NotAnImage:
        return answers.refused(Code.NOT_AN_IMAGE)
    except NoRoom:
        return answers.refused(Code.NO_ROOM)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return answers.refused(Code.NO_ROOM)
        raise
    finally:
        await asyncio.to_thread(_clear, part)
    refused = await share(state.hub, ticket, stored)
    if refused is not None:
        await asyncio.to_thread(files.forget, upload)
        return answers.refused(refused)
    return web.json_response(stored.describe(), status=201)


async def _receive(request: web.Request, part: Path, limit: int) -> int | None:
    """Stream the body to ``part``; return its size, or None (the part is cleared by the caller) past ``limit``."""
    size = 0
    out = await asyncio.to_thread(part.open, "wb")
    try:
        async for chunk in request.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > limit:
                return None
            await asyncio.to_thread(out.write, chunk)  # ENOSPC surfaces here as OSError: 507
    finally:
        out.close()
    return size


def _clear(part: Path) -> None:
    """Remove the part file and what was made beside it (all that is left of an upload once it is kept or refused)."""
    for leftover in (part, part.with_suffix(".clean"), part.with_suffix(".thumb")):
        leftover.unlink(missing_ok=True)


def _examine(part: Path, upload: str, name: str, size: int, max_pixels: int) -> Stored:
    """Decide what the received file is; clean an image beside it (``.clean``, ``.thumb``); return what to keep."""
    with part.open("rb") as body:
        kind = media.sniff(body.read(SNIFF_BYTES))
    if kind not in media.INLINE.values():
        return Stored(upload, name, size, kind)
    found = media.clean_image(part, part.with_suffix(".clean"), part.with_suffix(".thumb"), max_pixels)
    return Stored(upload, name, part.with_suffix(".clean").stat().st_size, found.type, found.width, found.height)


async def get_file(request: web.Request) -> web.StreamResponse:
    """Serve a shared file (inline only if it is a cleaned image) or its thumbnail."""
    files = request.app[STATE].files
    upload, name = request.match_info["id"], request.match_info["name"]
    if name == "thumbnail":
        thumbnail = files.thumbnail(upload)
        if thumbnail is not None:
            return web.FileResponse(thumbnail, headers={**SERVED_HEADERS, "Content-Type": media.THUMBNAIL_TYPE})
    found = files.find(upload)
    if found is None or name != found[0].name:
        return answers.refused(Code.GONE) if files.withdrawn(upload) else answers.refused(Code.NO_FILE)
    stored, path = found
    disposition = "inline" if stored.type in media.INLINE.values() else "attachment"
    headers = {**SERVED_HEADERS, "Content-Type": stored.type,
               "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(stored.name, safe='')}"}
    return web.FileResponse(path, headers=headers)
