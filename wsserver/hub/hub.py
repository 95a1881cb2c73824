"""Every channel of this process, and the parts that serve them all.

The hub makes the parts every channel shares and hands each the others it
needs as collaborators: the open channels (:class:`~wsserver.hub.directory.Channels`,
configured ones at start, new ones on demand when allowed, each stamping
with the hub's clock in ``--timezone``), the
:class:`~wsserver.hub.membership.Membership` (seats and the restart grace),
the :class:`~wsserver.hub.enforcement.Moderator`, read positions, keys,
annotations, and the presence :class:`~wsserver.channels.presence_refresh.Refresher`.
It starts and stops them, and routes the store's ephemeral events.
"""

from __future__ import annotations

import asyncio
import logging

from ..channels.presence_refresh import Refresher
from ..lines.logline import Clock
from ..lines.moderation_log import Moderation
from ..metrics import Metrics
from ..store.base import Store
from ..uploads.storage import FilesDir
from .annotator import Annotator
from .directory import Channels
from .enforcement import Moderator
from .keyring import Keyring
from .membership import Membership
from .reading import Reading

log = logging.getLogger("wsserver.hub")  # the name operators know from the log (docs/operations.md)

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
        self.rejoin_grace = rejoin_grace
        moderation = Moderation()  # folded from the moderation log by the moderator, read by all
        self.channels = Channels(store, channels, self.clock, self.metrics, moderation, allow_new_channels,
                                 max_channels, announce_limit)
        self.moderator = Moderator(store.actions, store.registry, self.channels, self.clock, moderation, files)
        self.reading = Reading(store.reads, store.events)
        self.annotator = Annotator(self.moderator.state)
        self.keyring = Keyring(store.keys, store.events)
        self.presence = Refresher(store.registry, self.channels, lambda: self.membership.expire_away())
        self.membership = Membership(store.registry, self.moderator.state, self.presence, self.channels,
                                     self.metrics, rejoin_grace, self.reading, self.keyring)

    async def start(self) -> None:
        """Start the store and open every configured channel."""
        await self.store.start(self.presence.refresh)
        await self.moderator.start()
        await self.store.events.start(self._event)
        self.channels.open_configured()
        await self._indexes_built()
        # Also with --rejoin-grace 0 here: the server that stopped may have had one.
        await self.membership.announce_back()
        self.presence.start()

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
            channel.typing.remote(handle, typing)
        elif event.get("type") == "read" and isinstance(cursor, str):
            channel.send_read(handle, cursor)
        elif event.get("type") == "key":
            self.keyring.remote(channel, event)
