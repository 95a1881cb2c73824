"""Every channel of this process, and the parts that serve them all.

The hub opens channels (configured ones at start, new ones on demand when
allowed), each stamping with the hub's clock (in ``--timezone``) what is
written to it (:meth:`~wsserver.channel.Channel.write`).  It holds the
parts every channel shares: the :class:`~wsserver.membership.Membership`
(seats and the restart grace), the :class:`~wsserver.enforcement.Moderator`
and the presence :class:`~wsserver.presence_refresh.Refresher`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from .annotations.writer import Annotator
from .channel import Channel
from .config import CHANNEL_RE
from .enforcement import Moderator
from .errors import TooManyChannels
from .keyring import Keyring
from .logline import Clock
from .membership import Membership
from .metrics import Metrics
from .presence_refresh import Refresher
from .reading import Reading
from .store.base import Store
from .uploads.storage import FilesDir

log = logging.getLogger(__name__)

# Timeouts
INDEX_WAIT = 10.0  # seconds start-up waits for the configured channels' annotation indexes

class Hub:
    """Every channel this process serves, their store, and presence."""

    def __init__(
        self,
        store: Store,
        channels: tuple[str, ...],
        timezone: str,
        allow_new_channels: bool = False,
        max_channels: int = 1000,
        metrics: Metrics | None = None,
        rejoin_grace: float = 0.0,
        announce_limit: int = 0,
        files: FilesDir | None = None,
    ) -> None:
        self.store = store
        self.registry = store.registry
        self.metrics = metrics or Metrics()
        self.clock = Clock(timezone)
        self.configured = channels
        self.allow_new_channels = allow_new_channels
        self.max_channels = max_channels
        self.rejoin_grace = rejoin_grace
        self.announce_limit = announce_limit
        self.channels: dict[str, Channel] = {}
        self.moderator = Moderator(store.actions, store.registry, self.channels, self.clock, files)
        self.reading = Reading(store.reads, store.events)
        self.annotator = Annotator(self.moderator.state)
        self.keyring = Keyring(store.keys, store.events)
        self.membership = Membership(store.registry, self.moderator.state, self.refresh_presence,
                                     self.known, self.metrics, rejoin_grace, self._joined_frames)
        self.presence = Refresher(store.registry, self.channels, self.membership.expire_away)

    async def start(self) -> None:
        """Start the store and open every configured channel."""
        await self.store.start(self.refresh_presence)
        await self.moderator.start()
        await self.store.events.start(self._event)
        for name in self.configured:
            self._open(name)
        await self._indexes_built()
        # Also with --rejoin-grace 0 here: the server that stopped may have had one.
        await self.membership.announce_back()
        self.presence.start()

    async def _joined_frames(self, name: str, handle: str) -> list[str]:
        """Return what a joiner gets after the users list: its read position, then the users' public keys."""
        channel = self.channels.get(name)
        users = channel.presence.members if channel is not None else frozenset()
        read, keys = await asyncio.gather(self.reading.joined_frame(name, handle),
                                          self.keyring.joined_frames(name, users))
        return ([read] if read is not None else []) + keys

    async def _indexes_built(self) -> None:
        """Wait (up to :data:`INDEX_WAIT` seconds) for the configured channels' annotation indexes.

        A server that listens before then would keep its first joiners waiting
        for the build; after the wait it listens anyway (joins still wait for
        their channel's index).
        """
        waits = [asyncio.ensure_future(channel.keeper.wait()) for channel in self.channels.values()]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=INDEX_WAIT)
            for waiting in pending:
                waiting.cancel()
            if pending:
                log.warning("the annotation index of %d channel(s) is not built yet; listening anyway", len(pending))

    async def stop(self) -> None:
        """Close every channel and stop the store."""
        self.presence.stop()
        for channel in self.channels.values():
            await channel.stop()
        await self.moderator.stop()
        await self.store.events.stop()
        await self.store.stop()

    def reopen(self) -> None:
        """Reopen every log file (SIGHUP, after logrotate renamed them)."""
        log.info("reopening the log files")
        for channel in self.channels.values():
            channel.reopen()

    def _event(self, event: dict[str, object]) -> None:
        """An ephemeral event from another process or node (typing, a read position that moved)."""
        channel = self.channels.get(str(event.get("channel")))
        handle, typing, cursor = event.get("handle"), event.get("typing"), event.get("cursor")
        if channel is None or not isinstance(handle, str):
            return
        if event.get("type") == "typing" and isinstance(typing, bool):
            channel.remote_typing(handle, typing)
        elif event.get("type") == "read" and isinstance(cursor, str):
            channel.send_read(handle, cursor)
        elif event.get("type") == "key":
            self.keyring.remote(channel, event)

    # ------------------------------------------------------------ channels

    def channel(self, name: str) -> Channel | None:
        """Return the channel ``name``, creating it if new channels are allowed; None if it cannot exist.

        Raises :class:`TooManyChannels` when creating it would pass ``--max-channels``.
        """
        existing = self.channels.get(name)
        if existing is not None or not self.allow_new_channels or not CHANNEL_RE.match(name):
            return existing
        if len(self.channels) >= self.max_channels:
            raise TooManyChannels(name)
        log.info("creating channel %s", name)
        return self._open(name)

    def _open(self, name: str) -> Channel:
        channel = Channel(name, self.store, self.metrics, self.moderator.state, self.announce_limit, self.clock)
        channel.start()
        self.channels[name] = channel
        return channel

    def known(self, name: str) -> Channel | None:
        """Return the channel ``name`` if it exists or may be opened here; None if not (or if too many are open)."""
        try:
            return self.channel(name)
        except TooManyChannels:
            return None

    def known_channels(self) -> list[str]:
        """Return the configured channels, then those created here or by other processes on the store."""
        names = list(self.configured)
        others = set(self.channels) - set(names)
        if self.allow_new_channels:
            others.update(self.store.channel_names())
        return names + sorted(others - set(names))

    # ------------------------------------------------------------ presence

    def refresh_presence(self, channels: Iterable[str] | None = None) -> None:
        """Re-read the handles of ``channels`` (None: all) soon (see :class:`~wsserver.presence_refresh.Refresher`)."""
        self.presence.refresh(channels)
