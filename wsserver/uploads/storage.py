"""The files dir: uploads being received, files served inline or as attachments, and withdrawn ones.

::

    inline/<ID>/<name>       JPEG, PNG, GIF and WebP, encoded anew without metadata (shown in pages)
    attachment/<ID>/<name>   everything else, as received (always downloaded)
    thumbnails/<ID>.webp     an image's thumbnail, at most 400 x 400
    meta/<ID>.json           name, size, type, width, height: what serving needs
    withdrawn/<ID>/          a deleted upload's files (410 Gone; emptied by --erase)
    tmp/<ID>.part            a body being received

An ID is 22 characters of ``[A-Za-z0-9_-]`` (128 random bits), so no path
built from one leaves the dir.  A file reaches ``inline/`` or ``attachment/``
by one rename, complete; NGINX may serve those two and ``thumbnails/``
straight from disk (systemd/), and never sees ``meta``, ``tmp`` or ``withdrawn``.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from ..errors import NoRoom

ID_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")
SERVED = ("inline", "attachment")


def new_id() -> str:
    """Return a fresh upload ID: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Stored:
    """A file as the server keeps and serves it."""

    id: str
    name: str
    size: int
    type: str
    width: int | None = None
    height: int | None = None

    @property
    def url(self) -> str:
        """Return ``/files/ID/NAME`` (the name percent-encoded)."""
        return f"/files/{self.id}/{quote(self.name, safe='')}"

    def describe(self) -> dict[str, object]:
        """Return what a client is told of it: url, name, size, type, and an image's width, height, thumbnail."""
        data: dict[str, object] = {"url": self.url, "name": self.name, "size": self.size, "type": self.type}
        if self.width is not None:
            data.update(width=self.width, height=self.height, thumbnail=f"/files/{self.id}/thumbnail")
        return data


class FilesDir:
    """One files dir, shared by every process (and, on Redis, every node through one mount)."""

    def __init__(self, root: Path, quota: int = 0) -> None:
        self.root = root
        self.quota = quota

    def part(self, upload: str) -> Path:
        """Return where the body of ``upload`` is received (the folders made if missing)."""
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        return self.root / "tmp" / f"{upload}.part"

    def room_for(self, size: int) -> None:
        """Raise :class:`NoRoom` if ``size`` more bytes would pass the quota or the disk's free space."""
        free = shutil.disk_usage(self.root if self.root.exists() else self.root.parent).free
        if size > free or (self.quota and self.used() + size > self.quota):
            raise NoRoom()

    def used(self) -> int:
        """Return the bytes held by the files served and their thumbnails (a walk of the dir)."""
        total = 0
        for folder in (*(self.root / name for name in SERVED), self.root / "thumbnails"):
            for entry in _walk(folder):
                total += entry.stat(follow_symlinks=False).st_size
        return total

    def keep(self, stored: Stored, body: Path, thumbnail: Path | None) -> None:
        """Put a received file (and thumbnail) where it is served, and its metadata beside; raises NoRoom."""
        try:
            folder = self.root / ("inline" if thumbnail is not None else "attachment") / stored.id
            folder.mkdir(parents=True)
            if thumbnail is not None:
                (self.root / "thumbnails").mkdir(exist_ok=True)
                os.replace(thumbnail, self.root / "thumbnails" / f"{stored.id}.webp")
            (self.root / "meta").mkdir(exist_ok=True)
            meta = self.root / "meta" / f"{stored.id}.json"
            meta.write_text(json.dumps(asdict(stored), ensure_ascii=False), encoding="utf-8")
            os.replace(body, folder / _on_disk(stored.name))
        except OSError as exc:
            self.forget(stored.id)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise NoRoom() from exc
            raise

    def find(self, upload: str) -> tuple[Stored, Path] | None:
        """Return a served file and its path, or None (unknown, withdrawn, or not a valid ID)."""
        if not ID_RE.match(upload):
            return None
        try:
            stored = Stored(**json.loads((self.root / "meta" / f"{upload}.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None
        for kind in SERVED:
            path = self.root / kind / upload / _on_disk(stored.name)
            if path.is_file():
                return stored, path
        return None

    def thumbnail(self, upload: str) -> Path | None:
        """Return the thumbnail of a served image, or None."""
        path = self.root / "thumbnails" / f"{upload}.webp"
        return path if ID_RE.match(upload) and path.is_file() and self.find(upload) is not None else None

    def kept(self, upload: str) -> bool:
        """Return whether ``upload`` is served, or was withdrawn (deleted): not missing."""
        return self.find(upload) is not None or self.withdrawn(upload)

    def withdrawn(self, upload: str) -> bool:
        """Return whether ``upload`` was deleted (its files no longer served)."""
        return bool(ID_RE.match(upload)) and (self.root / "withdrawn" / upload).is_dir()

    def withdraw(self, upload: str, erase: bool = False) -> None:
        """Stop serving ``upload``: move its files out of the served tree (``erase``: remove them from disk)."""
        if not ID_RE.match(upload):
            return
        gone = self.root / "withdrawn" / upload
        gone.mkdir(parents=True, exist_ok=True)
        for kind in SERVED:
            folder = self.root / kind / upload
            if folder.is_dir():
                for path in folder.iterdir():
                    os.replace(path, gone / path.name)
                folder.rmdir()
        thumb = self.root / "thumbnails" / f"{upload}.webp"
        if thumb.exists():
            os.replace(thumb, gone / "thumbnail.webp")
        if erase:
            for path in gone.iterdir():
                path.unlink()

    def forget(self, upload: str) -> None:
        """Remove every trace of an upload that was not completed."""
        for path in (self.root / "tmp" / f"{upload}.part", self.root / "meta" / f"{upload}.json",
                     self.root / "thumbnails" / f"{upload}.webp"):
            path.unlink(missing_ok=True)
        for kind in SERVED:
            shutil.rmtree(self.root / kind / upload, ignore_errors=True)


def _on_disk(name: str) -> str:
    """Return the file name on disk: the name as given (it holds no ``/``), never ``.`` or ``..``."""
    return name if name not in (".", "..") else f"_{name}"


def _walk(folder: Path) -> list[os.DirEntry[str]]:
    found: list[os.DirEntry[str]] = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return found
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            found.extend(_walk(Path(entry.path)))
        else:
            found.append(entry)
    return found
