"""Read positions in Redis: a hash per channel, on the channel's shard (its slot, in a cluster).

The field is the lower-cased handle, the value ``<log> <ordinal> <cursor>``
(see :class:`~wsserver.store.base.Place`); a move is one script
(:data:`~wsserver.store.redis.scripts.ADVANCE_READ`) that compares and sets,
so two nodes moving the same position never leave it behind either.
"""

from __future__ import annotations

from ..base import Place, StoreError
from .keys import RedisFault
from .scripts import ADVANCE_READ, run_script
from .shards import Shards


class RedisReads:
    """Read positions in one hash per channel."""

    def __init__(self, shards: Shards) -> None:
        self._shards = shards

    async def get(self, channel: str, who: str) -> str | None:
        """Return the stored cursor, or None."""
        link = self._shards.link(channel)
        try:
            stored = await link.client.hget(link.keys.reads(channel), who)
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer a read position: {exc}") from exc
        decoded = Place.decode(stored.decode("utf-8", errors="replace")) if stored else None
        return decoded[1] if decoded else None

    async def advance(self, channel: str, who: str, cursor: str, place: Place) -> bool:
        """Store ``cursor`` if ``place`` is past the stored position (one script)."""
        link = self._shards.link(channel)
        try:
            moved = await run_script(link.client, ADVANCE_READ, [link.keys.reads(channel)],
                                     [who, place.log, place.ordinal, cursor])
        except RedisFault as exc:
            raise StoreError(f"Redis did not store a read position: {exc}") from exc
        return bool(moved)
