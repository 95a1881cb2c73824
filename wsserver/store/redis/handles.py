"""Handles held across every node on one Redis store: claimed atomically, freed when their node dies.

Each node has a liveness key (``node:<node>``, on the home shard) that it
refreshes every NODE_REFRESH seconds with a NODE_TTL expiry.  A claim (a Lua
script on the channel's users hash) takes a handle unless a node holds it;
if one does and its liveness key is gone, a second script takes the handle
over from exactly that holder.  So a node that dies loses its handles within
NODE_TTL seconds, and two claims never both win.

A *shared* claim (a token identity's devices on several nodes) that finds a
live holder adds a field of its own for the seat (:data:`~.scripts.SHARE`);
its release (:data:`~.scripts.RELEASE_SHARED`) says whether it was the last.
"""

from __future__ import annotations

import logging
import socket
import time

from ..base import Claim, Held, StoreError
from .keys import RedisFault
from .link import NODE_REFRESH, NODE_TTL
from .scripts import (
    ANNOUNCE_BACK,
    CLAIM,
    EXPIRE_AWAY,
    MARK_AWAY,
    PROMOTE,
    RELEASE,
    RELEASE_SHARED,
    SHARE,
    TAKE_OVER,
    run_script,
)
from .shards import Shards, away_until

log = logging.getLogger(__name__)

EXPIRE_SWEEP = 12  # every this many expiries (a minute at the hub's 5 s), all channels are looked at
CLAIM_ROUNDS = 3  # claims of a handle whose dead holder changed meanwhile, before the claim counts as held


class RedisHandles:
    """Handles held across every node: claimed atomically, freed when their node dies."""

    changes_announced = True  # every change bumps users-version; dead nodes are swept (sweep_dead)

    def __init__(self, shards: Shards) -> None:
        self._shards = shards
        self.node = shards.node
        self._mine: dict[tuple[str, str], str] = {}  # (lower handle, channel) -> held value
        self._shared: set[tuple[str, str]] = set()  # those claimed shared (a token identity's)
        self._unreleased: dict[tuple[str, str], str] = {}  # releases (or failed claims) to finish
        self._unbumped: set[str] = set()  # channels whose change the home was not told of yet
        self._expiries = 0  # calls of expire_away, for its sweeps of every channel

    def _value(self, handle: str) -> str:
        return f"{self.node}|{handle}"

    async def _claim(self, handle: str, channel: str, value: str, shared: bool = False) -> Claim:
        link = self._shards.link(channel)
        users = link.keys.users(channel)
        for _ in range(CLAIM_ROUNDS):
            status, holder = await run_script(link.client, CLAIM, [users], [handle, value])
            if status == b"mine":
                return Claim.TAKEN
            if status != b"held":
                await self._bump([channel])
                return Claim.BACK if status == b"back" else Claim.TAKEN
            # Held by a node: taken over only if that node is dead and still the holder.
            node = holder.decode().partition("|")[0]
            if (await self._shards.alive([node]))[node]:
                if not shared:
                    return Claim.HELD
                # Another device of this identity holds the seat on a live node: hold it beside it.
                answer = await run_script(link.client, SHARE, [users], [handle, f"{handle}#{self.node}", value])
                if answer == b"taken":
                    await self._bump([channel])
                return Claim.SHARED if answer == b"shared" else Claim.TAKEN
            if await run_script(link.client, TAKE_OVER, [users], [handle, holder.decode(), value]):
                await self._bump([channel])
                return Claim.TAKEN
        return Claim.HELD

    async def _release(self, handle: str, channel: str, value: str) -> bool:
        """Give the seat back; return whether it is empty now (always, for a claim that was not shared)."""
        link = self._shards.link(channel)
        users = link.keys.users(channel)
        if (handle, channel) in self._shared:
            answer = await run_script(link.client, RELEASE_SHARED, [users], [handle, f"{handle}#{self.node}", value])
            self._shared.discard((handle, channel))
            if answer == b"last":
                await self._bump([channel])
            return bool(answer != b"kept")
        if await run_script(link.client, RELEASE, [users], [handle, value]):
            await self._bump([channel])
        return True

    async def _bump(self, channels: list[str]) -> None:
        """Tell the other nodes (through the home) that these channels' users changed; retried with the heartbeat."""
        self._unbumped.update(channels)
        pending = sorted(self._unbumped)
        try:
            await self._shards.bump(pending)
        except RedisFault as exc:  # the change is made; presence elsewhere follows when the home answers
            log.warning("Redis did not record a change of users in %s (retried every %s s): %s",
                        ", ".join(pending), NODE_REFRESH, exc)
            return
        self._unbumped.difference_update(pending)

    async def heartbeat(self) -> None:
        """Mark this node alive for NODE_TTL seconds; finish releases that failed; re-take lost handles."""
        home = self._shards.home
        before = await home.client.set(home.keys.node(self.node), socket.gethostname(), ex=NODE_TTL, get=True)
        for key, value in list(self._unreleased.items()):
            await self._release(*key, value)
            if self._unreleased.get(key) == value:
                del self._unreleased[key]
        if self._unbumped:
            await self._bump([])
        if before is None and self._mine:
            # Redis restarted empty (or we were out of touch past the TTL):
            # the handles our connections hold are ours again, unless a live
            # node took one meanwhile.
            for (handle, channel), value in list(self._mine.items()):
                if await self._claim(handle, channel, value, (handle, channel) in self._shared) is Claim.HELD:
                    log.warning("%s in %s is now held by another node", value.partition("|")[2], channel)

    async def claim(self, handle: str, channel: str, shared: bool = False) -> Claim:
        """Take ``handle`` in ``channel`` on every node, unless a live node holds it (Claim.HELD).

        With ``shared``, a seat a live node holds is held beside it (Claim.SHARED).
        Raises StoreError if Redis did not answer; the claim may then have
        been made, so it is released with the next heartbeat.
        """
        key, value = (handle.lower(), channel), self._value(handle)
        if shared:
            self._shared.add(key)
        try:
            taken = await self._claim(*key, value, shared)
        except RedisFault as exc:
            self._unreleased[key] = value
            raise StoreError(f"Redis did not answer a claim: {exc}") from exc
        if taken is not Claim.HELD:
            self._unreleased.pop(key, None)
            self._mine[key] = value
        return taken

    async def release(self, handle: str, channel: str) -> bool:
        """Give ``handle`` back if this node holds it (with the next heartbeat if Redis does not answer now).

        Returns whether the seat is empty now: False only while another node
        holds it for the same identity.
        """
        key = (handle.lower(), channel)
        value = self._mine.pop(key, None)
        if value is None:
            return True
        try:
            return await self._release(*key, value)
        except RedisFault as exc:
            log.warning("Redis did not answer the release of %s in %s (retried every %s s): %s",
                        handle, channel, NODE_REFRESH, exc)
            self._unreleased[key] = value
            return True

    async def sweep_dead(self) -> int:
        """Drop the handles of nodes whose liveness key expired (crashed); return how many.

        Only the channels each dead node recorded with its changes are read,
        so this costs a few commands when no node died, whatever the number
        of channels; the other nodes re-read those channels' users (the bump).
        """
        home, keys = self._shards.home.client, self._shards.keys
        nodes = sorted(name.decode() for name in await home.smembers(keys.nodes))
        dead = [node for node, alive in (await self._shards.alive(nodes)).items() if not alive]
        dropped: set[str] = set()
        for node in dead:
            channels = sorted(name.decode() for name in await home.smembers(keys.node_channels(node)))
            for channel, field, holder, _ in await self._shards.held_handles(channels, live=False):
                link = self._shards.link(channel)
                if holder == node and await link.client.hdel(link.keys.users(channel), field):
                    dropped.add(channel)
                    # Another node's device of the same identity keeps the seat: it takes the handle's field.
                    await run_script(link.client, PROMOTE, [link.keys.users(channel)], [field.partition("#")[0]])
            await home.delete(keys.node_channels(node))
            await home.srem(keys.nodes, node)
        if dropped:
            await self._bump(sorted(dropped))
        return len(dropped)

    async def reclaim(self) -> int:
        """Drop entries of nodes that are gone; return how many."""
        dropped: set[str] = set()
        for channel, field, _, _ in await self._shards.held_handles(None, live=False):
            link = self._shards.link(channel)
            if await link.client.hdel(link.keys.users(channel), field):
                dropped.add(channel)
        if dropped:
            await self._bump(sorted(dropped))
        return len(dropped)

    async def release_all(self) -> int:
        """Release every handle this node still holds."""
        held = list(self._mine)
        for handle, channel in held:
            await self.release(handle, channel)
        return len(held)

    async def users_in(self, channels: list[str]) -> list[Held]:
        """Return the handles held by live nodes in these channels (one round trip for all)."""
        try:
            held = await self._shards.held_handles(channels)
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer: {exc}") from exc
        return _seats(held)

    async def users(self, channel: str | None = None) -> list[Held]:
        """Return the handles held by live nodes, in one channel or all; raises StoreError if Redis did not answer."""
        try:
            held = await self._shards.held_handles(channel)
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer: {exc}") from exc
        return _seats(held)

    async def leave_away(self, until: float) -> list[str]:
        """Turn every handle this node holds into an away one until ``until``; return where none was away yet."""
        channels = sorted({channel for _, channel in self._mine})
        self._mine.clear()
        try:
            marked = await self._shards.each_channel(MARK_AWAY, channels, [self.node, f"{until:.3f}",
                                                                           f"{time.time():.3f}"])
            changed = [channel for channel in channels if marked[channel][1]]
            if changed:
                await self._shards.home.client.sadd(self._shards.keys.away_channels, *changed)
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer: {exc}") from exc
        await self._bump(changed)
        return [channel for channel in channels if marked[channel][0]]

    async def announce_back(self) -> list[str]:
        """Flag the away handles of every channel announced; return the channels that had none flagged."""
        channels = await self._away_channels()
        try:
            flagged = await self._shards.each_channel(ANNOUNCE_BACK, channels, [])
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer: {exc}") from exc
        return [channel for channel in channels if flagged[channel]]

    async def expire_away(self, now: float) -> list[Held]:
        """Remove away handles whose grace ended; each is returned by exactly one node (the script is atomic).

        Only the channels in ``away-channels`` are looked at (a node adds its
        channels when it stops); every EXPIRE_SWEEP calls, every channel with
        users, which puts back a channel a race took out of the set.
        """
        self._expiries += 1
        home, keys = self._shards.home.client, self._shards.keys
        try:
            sweep = self._expiries % EXPIRE_SWEEP == 1  # the first, then every minute
            channels = await self._shards.user_channels() if sweep else await self._away_channels()
            answers = await self._shards.each_channel(EXPIRE_AWAY, channels, [f"{now:.3f}"])
            still = [channel for channel in channels if int(answers[channel][0])]
            done = [channel for channel in channels if not int(answers[channel][0])]
            if done:
                await home.srem(keys.away_channels, *done)
            if sweep and still:
                await home.sadd(keys.away_channels, *still)
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer: {exc}") from exc
        gone = [Held(handle.decode(), channel, "away", True)
                for channel in channels for handle in answers[channel][1:]]
        if gone:
            await self._bump(sorted({held.channel for held in gone}))
        return gone

    async def _away_channels(self) -> list[str]:
        try:
            members = await self._shards.home.client.smembers(self._shards.keys.away_channels)
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer: {exc}") from exc
        return sorted(name.decode() for name in members)


def _seats(held: list[tuple[str, str, str, str]]) -> list[Held]:
    """Return one Held per seat of ``held`` (channel, field, node, handle): a seat several nodes share once."""
    seats: dict[tuple[str, str], Held] = {}
    for name, field, node, handle in held:
        seats.setdefault((name, field.partition("#")[0]), Held(handle, name, node, away_until(node) is not None))
    return list(seats.values())
