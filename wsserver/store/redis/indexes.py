"""Snapshots of annotation indexes in Redis: one string per channel, on the channel's shard.

Derived data (see :mod:`wsserver.annotations.snapshot`): a lost or stale
snapshot costs a rebuild from the stream, never a line.
"""

from __future__ import annotations

from ..base import StoreError
from .keys import RedisFault
from .shards import Shards


class RedisIndexes:
    """Index snapshots as ``wsserver:index:<channel>`` strings."""

    def __init__(self, shards: Shards) -> None:
        self._shards = shards

    async def load(self, channel: str) -> bytes | None:
        """Return the snapshot of ``channel``, or None if there is none."""
        link = self._shards.link(channel)
        try:
            data = await link.client.get(link.keys.index(channel))
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer a read of the index snapshot of {channel}: {exc}") from exc
        return bytes(data) if data is not None else None

    async def save(self, channel: str, data: bytes) -> None:
        """Replace the snapshot of ``channel``."""
        link = self._shards.link(channel)
        try:
            await link.client.set(link.keys.index(channel), data)
        except RedisFault as exc:
            raise StoreError(f"Redis did not store the index snapshot of {channel}: {exc}") from exc
