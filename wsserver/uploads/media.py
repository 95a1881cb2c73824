"""What a stored file is, decided from its bytes, and images made safe to show: Pillow, restricted.

Only JPEG, PNG, GIF and WebP are decoded, and only by Pillow's plugins for
those four (``formats=`` on every open: no other decoder ever sees a byte a
client sent).  An image is measured from its header before anything is
decoded, so a small file declaring 50,000 x 50,000 pixels is refused at once.
Then its EXIF orientation is applied, and it is encoded anew from its pixels
alone: no EXIF (GPS included), XMP, ICC, comments or text chunks survive.
Everything else is a plain file, typed by a few signatures, served as an
attachment whatever it is.

Pillow is imported at the first image, not with the server (about 2 MB a
process that never sees an upload).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NotAnImage, TooManyPixels

INLINE = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
DECODERS = list(INLINE)  # the only formats Pillow may open here
THUMBNAIL_BOX = (400, 400)
THUMBNAIL_TYPE = "image/webp"

if TYPE_CHECKING:
    from PIL import Image

_SIGNATURES = [  # (offset, bytes, type)
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (8, b"WEBP", "image/webp"),  # after "RIFF" and a length
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"\x1f\x8b", "application/gzip"),
]


@dataclass(frozen=True)
class Kind:
    """What a file is: its type and, for an image, its size after orientation."""

    type: str
    width: int | None = None
    height: int | None = None

    @property
    def inline(self) -> bool:
        """Return whether it may be shown in a page (a cleaned JPEG, PNG, GIF or WebP)."""
        return self.type in INLINE.values()


def sniff(head: bytes) -> str:
    """Return the type of a file from its first bytes (never from its name or the client's word)."""
    for offset, signature, kind in _SIGNATURES:
        if head[offset:offset + len(signature)] == signature and (kind != "image/webp" or head[:4] == b"RIFF"):
            return kind
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml")) and b"<svg" in head.lower():
        return "image/svg+xml"
    if text.startswith((b"<!doctype html", b"<html", b"<script", b"<head", b"<body")):
        return "text/html"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            return "application/octet-stream"
    return "text/plain" if b"\x00" not in head else "application/octet-stream"


def clean_image(source: Path, target: Path, thumbnail: Path, max_pixels: int) -> Kind:
    """Decode the image at ``source``, write it to ``target`` without metadata and its thumbnail; return its kind.

    Raises :class:`TooManyPixels` before decoding a larger image, and
    :class:`NotAnImage` when it does not decode.
    """
    from PIL import Image, ImageSequence, UnidentifiedImageError  # late: see the module's docstring

    Image.MAX_IMAGE_PIXELS = None  # our own limit (max_pixels) is checked before decoding, with a sentence
    try:
        with Image.open(source, formats=DECODERS) as image:
            if image.width * image.height > max_pixels:
                raise TooManyPixels(f"{image.width} x {image.height}")
            form = image.format or "PNG"
            frames = [_upright(frame) for frame in ImageSequence.Iterator(image)]
            durations = [frame.info.get("duration", 100) for frame in ImageSequence.Iterator(image)]
            loop = image.info.get("loop", 0)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImage(str(exc)) from exc
    first = frames[0]
    _save(frames, form, target, durations, loop)
    small = first.copy()
    small.thumbnail(THUMBNAIL_BOX)
    _save([small], "WEBP", thumbnail, [], 0)
    return Kind(INLINE[form], first.width, first.height)


def _upright(frame: Image.Image) -> Image.Image:
    """Return the frame turned as its EXIF orientation says, as pixels only (no info carried over)."""
    from PIL import ImageOps  # late, as in clean_image

    turned = ImageOps.exif_transpose(frame) or frame
    pixels = turned.copy()
    pixels.info = {}
    return pixels


def _save(frames: list[Image.Image], form: str, target: Path, durations: list[int], loop: int) -> None:
    """Encode ``frames`` anew as ``form``; nothing but pixels (and frame timing) is written."""
    first = frames[0]
    if form == "JPEG" and first.mode not in ("RGB", "L"):
        first = first.convert("RGB")
    options: dict[str, Any] = {"format": form}
    if form in ("JPEG", "WEBP"):
        options["quality"] = 90
    if len(frames) > 1:
        options.update(save_all=True, append_images=frames[1:], duration=durations, loop=loop)
    buffer = io.BytesIO()
    first.save(buffer, **options)
    target.write_bytes(buffer.getvalue())
