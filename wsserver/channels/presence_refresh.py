"""Keep every channel's users list current, across processes, without re-reading it per join.

The store tells the hub when another process may have claimed or released a
handle; the :class:`Refresher` re-reads the handles of the channels named,
coalescing requests that arrive while a read is under way (a thousand joins
cost a few reads), and each channel sends its new list if it changed.  A poll
every :data:`PRESENCE_POLL` seconds catches what no one announces (a process
killed outright) and lets away seats whose grace ended go.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable

from ..background import in_turn
from ..store.base import Handles, StoreError
from .channel import Channel
from .presence import spacing

log = logging.getLogger("wsserver.presence_refresh")  # the name operators know from the log (docs/operations.md)

# Timeouts
FULL_PRESENCE_EVERY = 12  # presence polls in which all channels are re-read once, when the store announces changes
PRESENCE_POLL = 5.0  # seconds between presence re-reads (users of a process killed outright drop out) and
# looks for away users whose grace ended


class Refresher:
    """Re-reads handles for presence: on request (coalesced) and every :data:`PRESENCE_POLL` seconds."""

    def __init__(self, registry: Handles, channels: dict[str, Channel],
                 each_poll: Callable[[], Awaitable[None]]) -> None:
        self.registry = registry
        self.channels = channels
        self._each_poll = each_poll
        self._task: asyncio.Task[None] | None = None
        self._poll: asyncio.Task[None] | None = None
        self._dirty = False
        self._wanted: set[str] | None = set()  # to re-read (None: every one)

    def start(self) -> None:
        """Read every channel's users now, then poll."""
        self.refresh()
        self._poll = asyncio.get_running_loop().create_task(self._poll_presence(), name="presence poll")

    def stop(self) -> None:
        """Stop reading (a read under way is cancelled)."""
        for task in (self._task, self._poll):
            if task is not None:
                task.cancel()

    def refresh(self, channels: Iterable[str] | None = None) -> None:
        """Re-read the handles of ``channels`` (None: all) soon; send each channel whose users changed its list.

        Reading only the channels that changed keeps a refresh cheap with thousands of channels.
        """
        self._dirty = True
        if channels is None or self._wanted is None:
            self._wanted = None
        else:
            self._wanted.update(channels)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._refresh(), name="presence")

    async def _poll_presence(self) -> None:
        # A process killed outright changes no file; its entries stop counting
        # (their owner is not alive) the next time the file is read.
        checked = 0
        while True:
            await asyncio.sleep(PRESENCE_POLL)
            if not self.registry.changes_announced:
                self.refresh()
            elif self.channels:
                # A store that announces every change is re-read as a check only, a
                # twelfth of the channels a poll: at 10,000 channels a whole re-read every 5 s
                # was a fifth of a node's CPU, and all at once it stalls deliveries.
                names, checked = in_turn(list(self.channels), checked, -(-len(self.channels) // FULL_PRESENCE_EVERY))
                self.refresh(names)
            await self._each_poll()

    async def _refresh(self) -> None:
        # Requests that arrive while a read is under way are served by one
        # more read, not one each: a thousand joins cost a few reads.
        while self._dirty:
            self._dirty = False
            wanted, self._wanted = self._wanted, set()
            targets = list(self.channels.values()) if wanted is None else [
                self.channels[name] for name in wanted if name in self.channels]
            try:
                if wanted is None:
                    entries = await self.registry.users()
                else:
                    entries = await self.registry.users_in([channel.name for channel in targets]) if targets else []
            except StoreError:
                log.exception("reading the handles for presence failed")
                self._wanted = None  # read everything next time
                return
            users: dict[str, list[str]] = defaultdict(list)
            for entry in entries:
                users[entry.channel].append(entry.handle)
            for channel in targets:
                channel.send_presence(users.get(channel.name, []))  # in any order: compared as a set
            if self._dirty:
                await asyncio.sleep(self.presence_spacing())

    def presence_spacing(self) -> float:
        """Return the least seconds between two presence broadcasts now (see :func:`~wsserver.presence.spacing`)."""
        # A channel's users, not only this process's sockets in it: every member is sent each delta (a
        # channel of 10,000 on two workers is 2 s apart, as on one), and the clients' cost is theirs.
        return spacing(max((max(len(channel.subscribers), len(channel.presence.members))
                            for channel in self.channels.values()), default=0))
