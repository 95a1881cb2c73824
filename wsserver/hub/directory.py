"""The channels a process has open, and which it may open: the configured ones, and new ones when allowed.

A :class:`Channels` is the dict of open channels by name (what fan-out,
presence and moderation walk) with the rules of opening one more: a name
that keeps the channel rule, ``--allow-new-channels``, and no more than
``--max-channels``.  Each channel stamps with the one clock it is given
(``--timezone``).
"""

from __future__ import annotations

import logging

from ..channels.channel import Channel
from ..config import CHANNEL_RE
from ..errors import TooManyChannels
from ..lines.logline import Clock
from ..lines.moderation_log import Moderation
from ..metrics import Metrics
from ..store.base import Store

log = logging.getLogger("wsserver.hub")  # the name operators know from the log (docs/operations.md)


class Channels(dict[str, Channel]):
    """The open channels by name, and what opens one more."""

    def __init__(self, store: Store, configured: tuple[str, ...], clock: Clock, metrics: Metrics,
                 moderation: Moderation, allow_new: bool = False, most: int = 1000, announce_limit: int = 0) -> None:
        super().__init__()
        self.store = store
        self.configured = configured
        self.clock = clock
        self.metrics = metrics
        self.moderation = moderation
        self.allow_new = allow_new
        self.most = most
        self.announce_limit = announce_limit

    def open_configured(self) -> None:
        """Open every configured channel."""
        for name in self.configured:
            self._open(name)

    def channel(self, name: str) -> Channel | None:
        """Return the channel ``name``, opening it if new channels are allowed; None if it cannot exist.

        Raises :class:`TooManyChannels` when opening it would pass ``--max-channels``.
        """
        existing = self.get(name)
        if existing is not None or not self.allow_new or not CHANNEL_RE.match(name):
            return existing
        if len(self) >= self.most:
            raise TooManyChannels(name)
        log.info("creating channel %s", name)
        return self._open(name)

    def _open(self, name: str) -> Channel:
        channel = Channel(name, self.store, self.metrics, self.moderation, self.announce_limit, self.clock)
        channel.start()
        self[name] = channel
        return channel

    def known(self, name: str) -> Channel | None:
        """Return the channel ``name`` if it is open or may be opened here; None if not (or if too many are open)."""
        try:
            return self.channel(name)
        except TooManyChannels:
            return None

    def names(self) -> list[str]:
        """Return the configured channels, then those created here or by other processes on the store."""
        names = list(self.configured)
        others = set(self) - set(names)
        if self.allow_new:
            others.update(self.store.channel_names())
        return names + sorted(others - set(names))
