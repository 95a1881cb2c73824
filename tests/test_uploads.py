"""File and image sharing: upload tickets on the socket, PUT the bytes, the line, and safe serving (real Pillow)."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import aiohttp
from PIL import Image, PngImagePlugin

from wsserver import protocol

from .support import Client, joined, run_cli
from .test_annotations import pair


def jpeg_with_gps_and_orientation(width: int = 60, height: int = 30) -> bytes:
    """A JPEG whose EXIF holds a GPS position and orientation 6 (stored sideways: turn 90 degrees to show)."""
    image = Image.new("RGB", (width, height), "red")
    image.paste(Image.new("RGB", (10, height), "blue"), (0, 0))  # a blue band on the left, to see the turn
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 29.0), "E", (2.0, 17.0, 40.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret location: 48.85 N")
    out = io.BytesIO()
    Image.new("RGB", (20, 10), "green").save(out, "PNG", pnginfo=info)
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG file whose header declares ``width`` x ``height`` pixels (its data is nowhere near)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(
        b"IEND", b"")


async def ask(client: Client, name: str, size: int, caption: str | None = None) -> dict[str, Any]:
    """Ask for an upload URL on the socket; return the upload event's data."""
    request: dict[str, Any] = {"type": "upload", "name": name, "size": size}
    if caption is not None:
        request["caption"] = caption
    await client.send(request)
    return dict((await client.event("upload"))["data"])


async def put(server: Any, url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.put(server.url + url, data=body) as response:
        return response.status, await response.json()


async def fetch(server: Any, url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(server.url + url) as response:
        return response.status, dict(response.headers), await response.read()


async def shared(server: Any, client: Client, name: str, body: bytes, caption: str | None = None) -> dict[str, Any]:
    """Upload ``body`` as ``name``; return the 201 answer."""
    ticket = await ask(client, name, len(body), caption)
    status, answer = await put(server, ticket["url"], body)
    assert status == 201, answer
    return answer


async def test_a_photo_comes_back_upright_without_exif_and_its_line_carries_it(server: Any, connect: Any) -> None:
    """A JPEG with GPS and orientation 6: served turned, with no EXIF; one chat line with the file; a thumbnail."""
    alice, bob = await pair(server, connect)
    ticket = await ask(alice, "photo.jpg", 1234, "the view")
    assert set(ticket) == {"channel", "id", "url"} and ticket["url"] == f"/api/uploads/{ticket['id']}"
    assert len(ticket["id"]) >= 22 and ticket["id"].replace("-", "").replace("_", "").isalnum()
    body = jpeg_with_gps_and_orientation()
    status, answer = await put(server, ticket["url"], body)
    assert status == 201, answer
    assert answer == {"url": f"/files/{ticket['id']}/photo.jpg", "name": "photo.jpg", "size": answer["size"],
                      "type": "image/jpeg", "width": 30, "height": 60, "thumbnail": f"/files/{ticket['id']}/thumbnail"}
    frame = await bob.until_line_frame(f"Alice: photo.jpg ({answer['size']} bytes) {answer['url']} the view")
    assert frame["files"] == {str(len(frame["cursors"]) - 1): answer}
    assert not any(" shared /files/" in line for line in frame["message"].split("\n")), "the link line is not sent"
    status, headers, served = await fetch(server, answer["url"])
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in headers["Content-Security-Policy"]
    assert headers["Content-Disposition"].startswith("inline") and "max-age=31536000" in headers["Cache-Control"]
    image = Image.open(io.BytesIO(served))
    assert image.size == (30, 60), "turned as the EXIF orientation said"
    assert not image.getexif() and "exif" not in image.info, "no EXIF at all, GPS included"
    assert image.getpixel((15, 5))[2] > 200 and image.getpixel((15, 55))[0] > 200, "the blue band is now on top"
    status, headers, thumb = await fetch(server, answer["thumbnail"])
    assert status == 200 and headers["Content-Type"] == "image/webp" and max(Image.open(io.BytesIO(thumb)).size) <= 400
    status, out, _ = await run_cli("export", "general", "--json", "--data-dir", str(server.data_dir))
    assert status == 0 and f'"file": {{"url": "{answer["url"]}"' in out
    lines = server.file_lines("general")
    assert lines[-2].endswith(f"Alice shared {answer['url']} (image/jpeg, {answer['size']} bytes, 30x60) "
                              "with the next line")


async def test_a_png_loses_its_text_chunks(server: Any, connect: Any) -> None:
    """A PNG's tEXt chunk is gone from the file served."""
    alice, _ = await pair(server, connect)
    answer = await shared(server, alice, "map.png", png_with_text())
    _, _, served = await fetch(server, answer["url"])
    assert b"secret location" not in served and not Image.open(io.BytesIO(served)).info.get("Comment")


async def test_svg_and_html_are_attachments_never_inline(server: Any, connect: Any) -> None:
    """An SVG with a script, and HTML named photo.jpg: plain files, served as attachments with nosniff."""
    alice, _ = await pair(server, connect)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    html = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
    for name, body, kind in (("drawing.svg", svg, "image/svg+xml"), ("photo.jpg", html, "text/html")):
        answer = await shared(server, alice, name, body)
        assert answer == {"url": answer["url"], "name": name, "size": len(body), "type": kind}, "no preview"
        status, headers, served = await fetch(server, answer["url"])
        assert status == 200 and served == body
        assert headers["Content-Disposition"] == f"attachment; filename*=UTF-8''{name}"
        assert headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in headers["Content-Security-Policy"]


async def test_refusals_leave_no_file_no_part_and_no_line(server: Any, connect: Any) -> None:
    """Over the limit, a pixel bomb, an image that does not decode, a used ticket: each its status and sentence."""
    alice, _ = await pair(server, connect)
    written = len(server.file_lines("general"))
    ticket = await ask(alice, "big.bin", 10)
    status, answer = await put(server, ticket["url"], b"x" * (10 * 1024 * 1024 + 1))  # declared 10, sent more
    assert (status, answer) == (413, {"error": "File is too large (limit 10 MB)"})
    assert (await put(server, ticket["url"], b"x"))[0] == 404, "a ticket is used once"
    ticket = await ask(alice, "bomb.png", 100)
    assert await put(server, ticket["url"], png_declaring(50_000, 50_000)) == (
        422, {"error": "Image is too large (limit 40 million pixels)"})
    ticket = await ask(alice, "broken.png", 100)
    assert await put(server, ticket["url"], b"\x89PNG\r\n\x1a\n" + b"garbage" * 10) == (
        415, {"error": "That image could not be read"})
    assert await put(server, "/api/uploads/" + "A" * 22, b"x") == (404, {"error": (await put(
        server, "/api/uploads/" + "B" * 22, b"x"))[1]["error"]})
    files = server.data_dir / "files"
    assert [p for p in files.rglob("*") if p.is_file()] == [], "no file and no part kept"
    assert len(server.file_lines("general")) == written, "no line"


async def test_socket_refusals_name_the_problem(server: Any, connect: Any) -> None:
    """Name, size and limit on the socket; a muted user's request is refused."""
    alice, _ = await pair(server, connect)
    for request, sentence in [
        ({"name": "a/b.txt", "size": 1}, protocol.Refused.of(protocol.Code.BAD_NAME, limit=protocol.NAME_CHARS).sentence),
        ({"name": "", "size": 1}, protocol.Refused.of(protocol.Code.BAD_NAME, limit=protocol.NAME_CHARS).sentence),
        ({"name": "x" * 201, "size": 1}, protocol.Refused.of(protocol.Code.BAD_NAME, limit=protocol.NAME_CHARS).sentence),
        ({"name": "evil\u202egpj.exe", "size": 1}, protocol.Refused.of(protocol.Code.BAD_NAME, limit=protocol.NAME_CHARS).sentence),
        ({"name": ".", "size": 1}, protocol.Refused.of(protocol.Code.BAD_NAME, limit=protocol.NAME_CHARS).sentence),  # every client normalises /files/ID/. and /.. away
        ({"name": "..", "size": 1}, protocol.Refused.of(protocol.Code.BAD_NAME, limit=protocol.NAME_CHARS).sentence),
        ({"name": "a.txt", "size": "1"}, protocol.Code.BAD_SIZE.sentence),
        ({"name": "a.txt", "size": 1.5}, protocol.Code.BAD_SIZE.sentence),
        ({"name": "a.txt", "size": 10 * 1024 * 1024 + 1}, "File is too large (limit 10 MB)"),
    ]:
        await alice.send({"type": "upload", **request})
        assert await alice.refusal() == {"success": False, "message": sentence}, request
    assert protocol.Refused.of(protocol.Code.BAD_NAME, limit=protocol.NAME_CHARS).sentence == ("Invalid upload request: name must be 1 to 200 characters without / or "
                                 "control characters")
    assert (await run_cli("mute", "general", "Alice", "--data-dir", str(server.data_dir)))[0] == 0
    await alice.until_line("Alice was muted")
    await alice.send({"type": "upload", "name": "a.txt", "size": 1})
    assert await alice.refusal() == {"success": False, "message": protocol.Code.MUTED.sentence}


async def test_a_deleted_upload_is_gone_and_erase_removes_its_file(server: Any, connect: Any) -> None:
    """Deleting the line: 410 and no preview in any answer; the operator's erase also removes the file from disk."""
    alice, bob = await pair(server, connect)
    files = server.data_dir / "files"
    answers, cursors = [], []
    for name in ("note.txt", "photo.png"):
        answer = await shared(server, alice, name, b"hello file" if name == "note.txt" else png_with_text())
        answers.append(answer)
        cursors.append((await bob.until_line_frame(answer["url"]))["cursors"][-1])
    await alice.send({"type": "delete", "cursor": cursors[0]})
    await bob.event("deleted")
    gone = await fetch(server, answers[0]["url"])
    assert gone[0] == 410, gone
    assert (files / "withdrawn" / answers[0]["url"].split("/")[2] / "note.txt").read_bytes() == b"hello file"
    status, _, err = await run_cli("delete", "general", cursors[1], "--erase", "--data-dir", str(server.data_dir))
    assert (status, err) == (0, "")
    for url in (answers[1]["url"], answers[1]["thumbnail"]):
        assert (await fetch(server, url))[0] == 410
    upload = answers[1]["url"].split("/")[2]
    assert [p for p in files.rglob("*") if p.is_file() and upload in str(p) and "meta" not in p.parts] == []
    carol = await joined(await connect(server, "Carol"), "Carol")
    await carol.send({"type": "history", "limit": 20})
    page = (await carol.event("history"))["data"]
    assert "files" not in page, "a deleted line's file is in no answer"
