"""One-time tickets in Redis: ``wsserver:upload:<ticket>`` strings on the home, taken once with GETDEL."""

from __future__ import annotations

import json
from typing import Any

from ..base import StoreError
from .keys import PREFIX, RedisFault
from .shards import Shards


class RedisTickets:
    """Tickets as strings that expire by themselves."""

    def __init__(self, shards: Shards) -> None:
        self._home = shards.home

    async def issue(self, ticket: str, data: dict[str, Any], seconds: float) -> None:
        """SET with an expiry."""
        try:
            await self._home.client.set(PREFIX + "upload:" + ticket, json.dumps(data), ex=max(1, int(seconds)))
        except RedisFault as exc:
            raise StoreError(f"Redis did not store an upload ticket: {exc}") from exc

    async def take(self, ticket: str) -> dict[str, Any] | None:
        """GETDEL: one taker only, on every node."""
        try:
            raw = await self._home.client.getdel(PREFIX + "upload:" + ticket)
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer for an upload ticket: {exc}") from exc
        if raw is None:
            return None
        try:
            data: dict[str, Any] = json.loads(raw)
        except ValueError:
            return None
        return data

    async def drop(self, tickets: list[str]) -> None:
        """DEL them."""
        if not tickets:
            return
        try:
            await self._home.client.delete(*(PREFIX + "upload:" + ticket for ticket in tickets))
        except RedisFault as exc:
            raise StoreError(f"Redis did not remove upload tickets: {exc}") from exc
