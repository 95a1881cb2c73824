"""Public keys in the data dir: ``keys/<channel>/<handle>.json``, device -> public key (a JWK).

A publish is a read-change-write under an exclusive ``flock`` on that file,
so devices of one identity publishing at once on several processes each
keep their key.  Public keys are not secret; losing the file only means the
devices publish again when they next connect.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from ..base import StoreError
from .locked import rewrite_locked

KEY_DIR = "keys"


class FileKeys:
    """Public keys as small JSON files under ``<data dir>/keys/``."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / KEY_DIR

    def _path(self, channel: str, handle: str) -> Path:
        # Channel names and handles are checked against their patterns before they get here.
        return self.root / channel / f"{handle.lower()}.json"

    async def publish(self, channel: str, handle: str, device: str, key: dict[str, Any], only: bool) -> None:
        """Store ``key`` for ``device`` (``only``: as the one key of ``handle``)."""
        path = self._path(channel, handle)

        def change(old: bytes) -> bytes:
            try:
                stored = {} if only else dict(json.loads(old or b"{}").get("devices", {}))
            except (ValueError, AttributeError):
                stored = {}  # torn by a crash mid-write: start again from this key
            stored[device] = key
            return json.dumps({"handle": handle, "devices": stored}).encode()

        try:
            await asyncio.to_thread(rewrite_locked, path, change)
        except OSError as exc:
            raise StoreError(f"storing a public key in {path} failed: {exc}") from exc

    async def get(self, channel: str, handles: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """Read the keys of ``handles`` (one thread call)."""

        def read() -> dict[str, dict[str, dict[str, Any]]]:
            found: dict[str, dict[str, dict[str, Any]]] = {}
            for handle in handles:
                try:
                    stored = json.loads(self._path(channel, handle).read_text(encoding="utf-8"))
                except FileNotFoundError:
                    continue
                except ValueError:
                    continue  # torn by a crash mid-write: that device publishes again when it connects
                if isinstance(stored, dict) and isinstance(stored.get("devices"), dict) and stored["devices"]:
                    found[handle] = stored["devices"]
            return found

        try:
            return await asyncio.to_thread(read)
        except OSError as exc:
            raise StoreError(f"reading public keys under {self.root} failed: {exc}") from exc
