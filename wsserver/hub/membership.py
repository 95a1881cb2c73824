"""A seat in a channel, from the claim of its handle to its release: the one owner of joining and leaving.

The socket handler asks for a seat and gives it back; everything between is here::

    join() ──► claimed ──► subscribed ──► joined ──► leave() ──► left      (leave line, handle released)
      │                                    │
      │                                    └── leave() while the server stops with a grace ──► away
      └── refused: JoinRefused (bad handle, banned, handle taken, the store failed)

With tokens (``shared``), one identity may sit in a channel from several
devices at once: one seat, several connections.  The first connection
claims the handle and writes the join line; the others share the seat;
the last one to leave writes the leave line and releases the handle.  On
one process they share the seat here (:attr:`Membership.seated`); on several
processes or nodes each process holds it in the registry beside the others
(a shared claim), and the release that empties it says so.

An *away* seat keeps its handle for ``--rejoin-grace`` seconds with no leave
line (:meth:`Membership.leave_away`); whoever comes back with ``since`` in
time takes it back silently (:attr:`~wsserver.store.base.Claim.BACK`), and the
others get the leave line when the grace ends (:meth:`Membership.expire_away`,
from whichever process notices).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from ..channels.channel import Channel
from ..channels.fanout import Outbox
from ..channels.presence_refresh import Refresher
from ..config import valid_handle
from ..errors import JoinRefused, StoreError
from ..lines.logline import SYSTEM, joined_line, left_line
from ..lines.moderation_log import Moderation, topic_frame
from ..metrics import Metrics
from ..protocol import CLOSE_TRY_AGAIN, SERVER_BACK, SERVER_RESTARTING, Code
from ..store.base import Claim, Handles
from .directory import Channels
from .keyring import Keyring
from .reading import Reading

log = logging.getLogger("wsserver.membership")  # the name operators know from the log (docs/operations.md)

class Seat:
    """One connection's place in one channel: subscribed to its lines, its handle held until :meth:`leave`."""

    __slots__ = ("_membership", "channel", "handle", "outbox", "shared", "who")

    @property
    def key(self) -> tuple[str, str]:
        """Return what names the seat: the channel and the lower-cased handle."""
        return (self.channel.name, self.handle.lower())

    def __init__(self, membership: Membership, channel: Channel, handle: str, outbox: Outbox,
                 shared: bool = False) -> None:
        self._membership = membership
        self.channel = channel
        self.handle = handle
        self.outbox = outbox
        self.shared = shared  # a token identity's: its devices share the seat
        self.who = outbox.name  # "handle@channel", one string for both

    async def leave(self) -> None:
        """Stop the connection's lines, then write the leave line and release the handle.

        While the server stops with a grace the seat is left away instead:
        no line, the handle kept (:meth:`Membership.leave_away` marks it).
        """
        membership = self._membership
        self.channel.unsubscribe(self.outbox, self.handle)
        others = membership.seated.pop(self.key, 1) - 1
        if others:
            membership.seated[self.key] = others  # another device of this identity is still here
        await self.outbox.stop()
        if not others and not membership.leaves_away:
            if self.shared:
                # Another process may hold the seat for another device: the release says if it was the last.
                if await membership.registry.release(self.handle, self.channel.name):
                    await self.channel.say(SYSTEM, left_line(self.handle))
            else:
                await self.channel.say(SYSTEM, left_line(self.handle))
                await membership.registry.release(self.handle, self.channel.name)
            membership.presence.refresh([self.channel.name])
        membership.metrics.connections.labels(self.channel.name).dec()


class Membership:
    """Who sits where on this process: seats taken and given back, and the restart grace."""

    def __init__(self, registry: Handles, moderation: Moderation, presence: Refresher, channels: Channels,
                 metrics: Metrics, rejoin_grace: float, reading: Reading, keyring: Keyring) -> None:
        self.registry = registry
        self.moderation = moderation
        self.presence = presence  # re-reads users lists
        self.channels = channels  # where the channels of away seats are found
        self.reading = reading  # a joiner's read position
        self.keyring = keyring  # the present users' keys, for a joiner
        self.metrics = metrics
        self.rejoin_grace = rejoin_grace
        self.stopping = False  # set at shutdown: seats left from then on are left away (with a grace)
        self.seated: dict[tuple[str, str], int] = {}  # (channel, lower handle) -> connections in that seat here
        self._claiming: dict[tuple[str, str], asyncio.Future[None]] = {}  # seats whose claim is under way
        self._first_lists: dict[str, asyncio.Future[None]] = {}  # channels whose users list is read the first time

    async def _first_list(self, channel: Channel) -> None:
        """Read the users of a channel this process has not read yet (once, whoever joins meanwhile).

        So a joiner's first list is the channel's, not just itself: after a restart the resuming clients' lists
        have the version they had (docs/protocol.md "Versions"), and are not sent again.
        """
        if channel.presence.users is not None:
            return
        reading = self._first_lists.get(channel.name)
        if reading is None:
            reading = self._first_lists[channel.name] = asyncio.ensure_future(self._read_list(channel))
        await asyncio.shield(reading)

    async def _read_list(self, channel: Channel) -> None:
        try:
            entries = await self.registry.users_in([channel.name])
            if channel.presence.users is None:
                channel.send_presence([entry.handle for entry in entries if entry.channel == channel.name])
        except StoreError:
            log.warning("could not read the users of %s: its first list is the joiner's", channel.name)
        finally:
            self._first_lists.pop(channel.name, None)

    @property
    def leaves_away(self) -> bool:
        """Whether a seat given back now is left away, not left: the server stops and has a grace."""
        return self.stopping and self.rejoin_grace > 0

    async def join(self, channel: Channel, handle: str, outbox: Outbox, history: int, since: str | None,
                   first: Iterable[str] = (), shared: bool = False, presence: str | None = None) -> Seat:
        """Seat ``handle`` in ``channel``: claim it, send the backlog, the users and ``first``, write the join line.

        ``outbox`` is started here, after the backlog and the users list (and
        ``first``, e.g. a resume token, then the joiner's read position and the
        users' keys).  With ``shared`` (a token identity), a seat this identity
        already has here is shared: no claim, no line.
        Raises :class:`JoinRefused` with the sentence and close code to send;
        nothing is written then.
        """
        name = channel.name
        if not valid_handle(handle):
            raise JoinRefused(Code.NO_HANDLE, f"bad handle {handle[:40]!r}")
        if self.moderation.banned(name, handle):
            raise JoinRefused(Code.BANNED, f"{handle} is banned from {name}")
        seat = Seat(self, channel, handle, outbox, shared)
        claim = await self._claim(seat, shared)
        try:
            extra = await self._joined_frames(channel, handle)
            await channel.subscribe(outbox, handle, history, since, identity=shared)
        except BaseException as exc:
            channel.unsubscribe(outbox, handle)
            await self._unseat(seat)
            if isinstance(exc, StoreError):
                raise JoinRefused(Code.UNAVAILABLE, f"{seat.who}: the history read failed: {exc}",
                                  CLOSE_TRY_AGAIN) from exc
            raise
        self.metrics.connections.labels(name).inc()
        # From the last list read, with the joiner added: no read of the users
        # file per join. The next refresh (under a second) corrects it if needed.
        await self._first_list(channel)
        outbox.put_presence(channel.presence, handle, presence)
        outbox.start()
        for frame in first:
            outbox.put(frame)
        for frame in extra:
            outbox.put(frame)
        if claim is None or claim is Claim.SHARED:
            log.info("%s joined from another device", seat.who)
        elif claim is Claim.BACK and since is not None:
            # Back from a restart within the grace: to the others it never left.
            log.info("%s came back", seat.who)
        else:
            log.info("%s joined", seat.who)
            if claim is Claim.BACK:
                # A fresh join takes an away seat: that earlier visit is over.
                await channel.say(SYSTEM, left_line(handle))
            await channel.say(SYSTEM, joined_line(handle))
        self.presence.refresh([name])
        return seat

    async def _joined_frames(self, channel: Channel, handle: str) -> list[str]:
        """Return what a joiner gets after the users list: its read position, then the present users' public keys."""
        read, keys = await asyncio.gather(self.reading.joined_frame(channel.name, handle),
                                          self.keyring.joined_frames(channel.name, channel.presence.members))
        topic = self.moderation.topics.get(channel.name)
        return ([read] if read is not None else []) + keys + ([topic_frame(topic)] if topic is not None else [])

    async def _claim(self, seat: Seat, shared: bool) -> Claim | None:
        """Claim the seat's handle, or share the seat its identity has here (``shared``: None); count it."""
        key = seat.key
        if shared:
            pending = self._claiming.get(key)
            if pending is not None:
                await asyncio.shield(pending)  # another device's claim is under way: share its seat if it wins
            if self.seated.get(key):
                self.seated[key] += 1
                return None
        done = self._claiming[key] = asyncio.get_running_loop().create_future()
        try:
            claim = await self.registry.claim(seat.handle, seat.channel.name, shared)
        except StoreError as exc:
            raise JoinRefused(Code.UNAVAILABLE, f"{seat.who}: the store failed: {exc}",
                              CLOSE_TRY_AGAIN) from exc
        finally:
            if self._claiming.get(key) is done:
                del self._claiming[key]
            done.set_result(None)
        if claim is Claim.HELD:
            raise JoinRefused(Code.HANDLE_TAKEN, f"{seat.handle} is already in {seat.channel.name}")
        self.seated[key] = self.seated.get(key, 0) + 1
        return claim

    async def _unseat(self, seat: Seat) -> None:
        """Give back a seat whose join failed: release the handle unless another device still sits in it."""
        others = self.seated.pop(seat.key, 1) - 1
        if others:
            self.seated[seat.key] = others
        else:
            await self.registry.release(seat.handle, seat.channel.name)

    async def find(self, channel: str, handle: str) -> str | None:
        """Return ``handle`` as seated in ``channel`` (on any process), or None; raises StoreError."""
        wanted = handle.lower()
        for entry in await self.registry.users(channel):
            if entry.handle.lower() == wanted:
                return entry.handle
        return None

    # ------------------------------------------------------------ the restart grace

    async def announce_back(self) -> None:
        """Say the server is back in every channel with users away since a restart (once, on any process)."""
        try:
            back = await self.registry.announce_back()
        except StoreError:
            log.exception("could not look for users away since a restart")
            back = []
        await self._announce(back, SERVER_BACK)

    async def leave_away(self) -> None:
        """Leave this process's users away for ``--rejoin-grace`` seconds, and say the server is restarting.

        Called at shutdown once the sockets are closed: the users' handles are
        not released and no leave lines are written.
        """
        try:
            first = await self.registry.leave_away(time.time() + self.rejoin_grace)
        except StoreError:
            log.exception("could not leave the users away; their handles are released instead")
            return
        await self._announce(first, SERVER_RESTARTING)

    async def expire_away(self) -> None:
        """Write the leave line of every away user whose grace ended (each is handed to one process only)."""
        try:
            gone = await self.registry.expire_away(time.time())
        except StoreError:
            log.exception("could not look for users whose grace ended")
            return
        for held in gone:
            channel = self.channels.known(held.channel)
            if channel is not None:
                log.info("%s@%s did not come back within the grace", held.handle, held.channel)
                await channel.say(SYSTEM, left_line(held.handle))
        if gone:
            self.presence.refresh(None)

    async def _announce(self, names: list[str], text: str) -> None:
        for name in names:
            channel = self.channels.known(name)
            if channel is not None:
                await channel.say(SYSTEM, text)
