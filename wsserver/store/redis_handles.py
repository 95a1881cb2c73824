"""Handles held across every node on one Redis: claimed atomically, freed when their node dies.

Each node has a liveness key (``node:<node>``) that it refreshes every
NODE_REFRESH seconds with a NODE_TTL expiry.  A claim (a Lua script) takes a
handle unless a live node holds it, so a node that dies loses its handles
within NODE_TTL seconds.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from redis.exceptions import RedisError

from .base import Claim, Held, StoreError
from .redis_link import (
    ANNOUNCE_BACK,
    CLAIM,
    EXPIRE_AWAY,
    MARK_AWAY,
    NODE_REFRESH,
    NODE_TTL,
    PREFIX,
    RELEASE,
    Link,
    away_until,
    held_handles,
    run_script,
    user_channels,
)

log = logging.getLogger(__name__)


class RedisHandles:
    """Handles held across every node on one Redis: claimed atomically, freed when their node dies."""

    def __init__(self, link: Link) -> None:
        self._link = link
        self.node = link.node
        self._mine: dict[tuple[str, str], str] = {}  # (lower handle, channel) -> held value
        self._unreleased: dict[tuple[str, str], str] = {}  # releases (or failed claims) to finish

    def _value(self, handle: str) -> str:
        return f"{self.node}|{handle}"

    async def _claim(self, handle: str, channel: str, value: str) -> Claim:
        keys = [PREFIX + "users:" + channel, PREFIX + "users-version", PREFIX + "user-channels"]
        taken = await run_script(self._link.client, CLAIM, keys, [handle, value, PREFIX + "node:", channel])
        return {0: Claim.HELD, 1: Claim.TAKEN, 2: Claim.BACK}[int(taken)]

    async def _release(self, handle: str, channel: str, value: str) -> None:
        await run_script(self._link.client, RELEASE, [PREFIX + "users:" + channel, PREFIX + "users-version"],
                         [handle, value])

    async def heartbeat(self) -> None:
        """Mark this node alive for NODE_TTL seconds; finish releases that failed; re-take lost handles."""
        before = await self._link.client.set(PREFIX + "node:" + self.node, socket.gethostname(), ex=NODE_TTL, get=True)
        for key, value in list(self._unreleased.items()):
            await self._release(*key, value)
            if self._unreleased.get(key) == value:
                del self._unreleased[key]
        if before is None and self._mine:
            # Redis restarted empty (or we were out of touch past the TTL):
            # the handles our connections hold are ours again, unless a live
            # node took one meanwhile.
            for (handle, channel), value in list(self._mine.items()):
                if await self._claim(handle, channel, value) is Claim.HELD:
                    log.warning("%s in %s is now held by another node", value.partition("|")[2], channel)

    async def claim(self, handle: str, channel: str) -> Claim:
        """Take ``handle`` in ``channel`` on every node, unless a live node holds it (Claim.HELD).

        Raises StoreError if Redis did not answer; the claim may then have
        been made, so it is released with the next heartbeat.
        """
        key, value = (handle.lower(), channel), self._value(handle)
        try:
            taken = await self._claim(*key, value)
        except RedisError as exc:
            self._unreleased[key] = value
            raise StoreError(f"Redis did not answer a claim: {exc}") from exc
        if taken is not Claim.HELD:
            self._unreleased.pop(key, None)
            self._mine[key] = value
        return taken

    async def release(self, handle: str, channel: str) -> None:
        """Give ``handle`` back if this node holds it (with the next heartbeat if Redis does not answer now)."""
        key = (handle.lower(), channel)
        value = self._mine.pop(key, None)
        if value is None:
            return
        try:
            await self._release(*key, value)
        except RedisError as exc:
            log.warning("Redis did not answer the release of %s in %s (retried every %s s): %s",
                        handle, channel, NODE_REFRESH, exc)
            self._unreleased[key] = value

    async def reclaim(self) -> int:
        """Drop entries of nodes that are gone; return how many."""
        dropped = 0
        gone = await held_handles(self._link.client, None, live=False)
        for channel, field, _, _ in gone:
            if await self._link.client.hdel(PREFIX + "users:" + channel, field):
                dropped += 1
        if dropped:
            version = await self._link.client.incr(PREFIX + "users-version")
            channels = {channel for channel, _, _, _ in gone}
            await self._link.client.zadd(PREFIX + "users-version:channels", dict.fromkeys(channels, version))
        return dropped

    async def release_all(self) -> int:
        """Release every handle this node still holds."""
        held = list(self._mine)
        for handle, channel in held:
            await self.release(handle, channel)
        return len(held)

    async def users_in(self, channels: list[str]) -> list[Held]:
        """Return the handles held by live nodes in these channels (one round trip for all)."""
        try:
            held = await held_handles(self._link.client, channels)
        except RedisError as exc:
            raise StoreError(f"Redis did not answer: {exc}") from exc
        return [Held(handle, name, node, away_until(node) is not None) for name, _, node, handle in held]

    async def users(self, channel: str | None = None) -> list[Held]:
        """Return the handles held by live nodes, in one channel or all; raises StoreError if Redis did not answer."""
        try:
            held = await held_handles(self._link.client, channel)
        except RedisError as exc:
            raise StoreError(f"Redis did not answer: {exc}") from exc
        return [Held(handle, name, node, away_until(node) is not None) for name, _, node, handle in held]

    async def leave_away(self, until: float) -> list[str]:
        """Turn every handle this node holds into an away one until ``until``; return where none was away yet."""
        channels = sorted({channel for _, channel in self._mine})
        self._mine.clear()
        first = []
        for channel in channels:
            keys = [PREFIX + "users:" + channel, PREFIX + "users-version"]
            if await self._script(MARK_AWAY, keys, [self.node, f"{until:.3f}", f"{time.time():.3f}"]):
                first.append(channel)
        return first

    async def announce_back(self) -> list[str]:
        """Flag the away handles of every channel announced; return the channels that had none flagged."""
        announced = []
        for channel in await self._channels():
            if await self._script(ANNOUNCE_BACK, [PREFIX + "users:" + channel], []):
                announced.append(channel)
        return announced

    async def expire_away(self, now: float) -> list[Held]:
        """Remove away handles whose grace ended; each is returned by exactly one node (the script is atomic)."""
        gone = []
        for channel in await self._channels():
            keys = [PREFIX + "users:" + channel, PREFIX + "users-version"]
            for handle in await self._script(EXPIRE_AWAY, keys, [f"{now:.3f}"]):
                gone.append(Held(handle.decode(), channel, "away", True))
        return gone

    async def _channels(self) -> list[str]:
        try:
            return await user_channels(self._link.client)
        except RedisError as exc:
            raise StoreError(f"Redis did not answer: {exc}") from exc

    async def _script(self, source: str, keys: list[str], args: list[str]) -> Any:
        try:
            return await run_script(self._link.client, source, keys, args)
        except RedisError as exc:
            raise StoreError(f"Redis did not answer: {exc}") from exc
