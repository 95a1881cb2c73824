"""Snapshots of annotation indexes in the data dir: ``index/<channel>.json``, each written whole.

A snapshot is derived data (see :mod:`wsserver.annotations.snapshot`): losing
one, or finding one that no longer fits the log, costs a rebuild from the log,
never a line.  Writes go to a temporary file renamed over the old one, so a
reader sees a whole snapshot or the previous one.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from ..base import StoreError

INDEX_DIR = "index"


class FileIndexes:
    """Index snapshots as files under ``<data dir>/index/``."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / INDEX_DIR

    async def load(self, channel: str) -> bytes | None:
        """Return the snapshot of ``channel``, or None if there is none."""
        try:
            return await asyncio.to_thread((self.folder / f"{channel}.json").read_bytes)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"reading the index snapshot of {channel} failed: {exc}") from exc

    async def save(self, channel: str, data: bytes) -> None:
        """Replace the snapshot of ``channel`` (write, fsync, rename)."""

        def write() -> None:
            self.folder.mkdir(exist_ok=True)
            temporary = self.folder / f".{channel}.{os.getpid()}.tmp"
            with open(temporary, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.folder / f"{channel}.json")

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            raise StoreError(f"writing the index snapshot of {channel} failed: {exc}") from exc
