"""Public keys in the data dir: ``keys/<channel>/<handle>.json``, device -> public key (a JWK).

A publish is a read-change-write under an exclusive ``flock`` on that file,
so devices of one identity publishing at once on several processes each
keep their key.  Public keys are not secret; losing the file only means the
devices publish again when they next connect.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

from ...background import ThreadBatch
from ..base import StoreError
from .locked import rewrite_locked

KEY_DIR = "keys"


class FileKeys:
    """Public keys as small JSON files under ``<data dir>/keys/``."""

    def __init__(self, data_dir: Path, flush: bool = False) -> None:
        self.root = data_dir / KEY_DIR
        self.flush = flush  # a key change is on the disk before it is answered (--fsync other than off)
        # Every join asks for the present users' keys: a storm of them is one thread call, not thousands.
        self._asks = ThreadBatch("public keys", self._read_all, self._failed)

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
            await asyncio.to_thread(rewrite_locked, path, change, self.flush)
        except OSError as exc:
            raise StoreError(f"storing a public key in {path} failed: {exc}") from exc

    async def get(self, channel: str, present: Collection[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """Read the keys of the channel and keep those of ``present``; a join storm's asks are one thread call."""
        return await self._asks.submit((channel, present))

    def _failed(self, exc: Exception) -> StoreError:
        return StoreError(f"reading public keys under {self.root} failed: {exc}")

    def _read_all(self, asked: list[tuple[str, Collection[str]]]) -> list[dict[str, dict[str, dict[str, Any]]]]:
        """Read the keys asked for (in a thread): each channel's files once, kept for the users present."""
        stored: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}  # channel -> handle -> devices
        answers = []
        for channel, present in asked:
            if channel not in stored:
                stored[channel] = self._read_channel(channel)
            answers.append({handle: devices for handle, devices in stored[channel].items() if handle in present})
        return answers

    def _read_channel(self, channel: str) -> dict[str, dict[str, dict[str, Any]]]:
        found: dict[str, dict[str, dict[str, Any]]] = {}
        try:
            names = os.listdir(self.root / channel)
        except FileNotFoundError:
            return found
        for name in names:
            try:
                kept = json.loads((self.root / channel / name).read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):
                continue  # gone, or torn by a crash mid-write: that device publishes again when it connects
            devices = kept.get("devices") if isinstance(kept, dict) else None
            if isinstance(devices, dict) and devices and isinstance(kept.get("handle"), str):
                found[kept["handle"]] = devices
        return found
