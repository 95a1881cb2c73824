"""Every channel of this process, their store, and presence across processes.

The hub opens channels (configured ones at start, new ones on demand when
allowed), appends what handlers say with the time stamp, and keeps each
channel's users list current: the store tells it when another process may
have claimed or released a handle, and it re-reads the handles, coalescing
requests that arrive while a read is under way.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable

from .background import in_turn
from .channel import Channel
from .config import CHANNEL_RE
from .enforcement import Moderator
from .errors import TooManyChannels
from .logline import Clock, format_line
from .membership import Membership
from .metrics import Metrics
from .presence import sort_handles, spacing
from .store.base import Store, StoreError

log = logging.getLogger(__name__)

# Timeouts
FULL_PRESENCE_EVERY = 12  # presence polls in which all channels are re-read once, when the store announces changes
PRESENCE_POLL = 5.0  # seconds between presence re-reads (users of a process killed outright drop out) and
# looks for away users whose grace ended


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
    ) -> None:
        self.store = store
        self.registry = store.registry
        self.metrics = metrics or Metrics()
        self.clock = Clock(timezone)
        self.configured = channels
        self.allow_new_channels = allow_new_channels
        self.max_channels = max_channels
        self.rejoin_grace = rejoin_grace
        self.channels: dict[str, Channel] = {}
        self.moderator = Moderator(store.actions, store.registry, self.channels, self.say, self.clock)
        self.membership = Membership(store.registry, self.moderator.state, self.say, self.refresh_presence,
                                     self.known, self.metrics, rejoin_grace)
        self._presence_task: asyncio.Task[None] | None = None
        self._presence_poll: asyncio.Task[None] | None = None
        self._presence_dirty = False
        self._presence_channels: set[str] | None = set()  # to re-read (None: every one)

    async def start(self) -> None:
        """Start the store and open every configured channel."""
        await self.store.start(self.refresh_presence)
        await self.moderator.start()
        await self.store.events.start(self._event)
        for name in self.configured:
            self._open(name)
        # Also with --rejoin-grace 0 here: the server that stopped may have had one.
        await self.membership.announce_back()
        self.refresh_presence()
        self._presence_poll = asyncio.get_running_loop().create_task(self._poll_presence(), name="presence poll")





    async def stop(self) -> None:
        """Close every channel and stop the store."""
        for task in (self._presence_task, self._presence_poll):
            if task is not None:
                task.cancel()
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
        """An ephemeral event from another process or node (typing)."""
        channel = self.channels.get(str(event.get("channel")))
        handle, typing = event.get("handle"), event.get("typing")
        if channel is None or event.get("type") != "typing":
            return
        if isinstance(handle, str) and isinstance(typing, bool):
            channel.remote_typing(handle, typing)

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
        channel = Channel(name, self.store, self.metrics, self.moderator.state)
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

    # ------------------------------------------------------------ writing

    async def say(self, channel: Channel, handle: str, text: str, to: str | None = None) -> bool:
        """Append ``handle: text`` (private to ``to`` if given) with the current time.

        Returns False (and logs) if it was not saved.
        """
        line = format_line(self.clock.stamp(), handle, text, to)
        try:
            await channel.append(line, private=to is not None)
        except StoreError:
            log.error("could not append to the logs of %s", channel.name, exc_info=True)
            return False
        return True

    # ------------------------------------------------------------ presence

    def refresh_presence(self, channels: Iterable[str] | None = None) -> None:
        """Re-read the handles of ``channels`` (None: all) soon; send each channel whose users changed its list.

        Reading only the channels that changed keeps a refresh cheap with thousands of channels.
        """
        self._presence_dirty = True
        if channels is None or self._presence_channels is None:
            self._presence_channels = None
        else:
            self._presence_channels.update(channels)
        if self._presence_task is None or self._presence_task.done():
            self._presence_task = asyncio.get_running_loop().create_task(self._refresh(), name="presence")

    async def _poll_presence(self) -> None:
        # A process killed outright changes no file; its entries stop counting
        # (their owner is not alive) the next time the file is read.
        checked = 0
        while True:
            await asyncio.sleep(PRESENCE_POLL)
            if not self.registry.changes_announced:
                self.refresh_presence()
            elif self.channels:
                # A store that announces every change (Redis) is re-read as a check only, a
                # twelfth of the channels a poll: at 10,000 channels a whole re-read every 5 s
                # was a fifth of a node's CPU, and all at once it stalls deliveries.
                names, checked = in_turn(list(self.channels), checked, -(-len(self.channels) // FULL_PRESENCE_EVERY))
                self.refresh_presence(names)
            await self.membership.expire_away()

    async def _refresh(self) -> None:
        # Requests that arrive while a read is under way are served by one
        # more read, not one each: a thousand joins cost a few reads.
        while self._presence_dirty:
            self._presence_dirty = False
            wanted, self._presence_channels = self._presence_channels, set()
            targets = list(self.channels.values()) if wanted is None else [
                self.channels[name] for name in wanted if name in self.channels]
            try:
                if wanted is None:
                    entries = await self.registry.users()
                else:
                    entries = await self.registry.users_in([channel.name for channel in targets]) if targets else []
            except StoreError:
                log.exception("reading the handles for presence failed")
                self._presence_channels = None  # read everything next time
                return
            users: dict[str, list[str]] = defaultdict(list)
            for entry in entries:
                users[entry.channel].append(entry.handle)
            for channel in targets:
                channel.send_presence(sort_handles(users.get(channel.name, [])))
            if self._presence_dirty:
                await asyncio.sleep(self.presence_spacing())

    def presence_spacing(self) -> float:
        """Return the least seconds between two presence broadcasts now (see :func:`~wsserver.presence.spacing`)."""
        return spacing(max((len(channel.subscribers) for channel in self.channels.values()), default=0))
