"""Read positions: how far each identity has read in each channel.

A client says ``{"type": "read", "cursor": C}``; the position moves forward
to that line (never back), is kept by the store (:class:`~wsserver.store.base.Reads`,
durable for every process and node), and every connection of that identity
in the channel is told: here at once, and on the other processes and nodes
(its other devices may be there) through the store's events.  A joiner is
told its stored position after its backlog.

The identity is the handle: with tokens the token's subject, without tokens
whatever handle the connection took (a handle is not owned, so neither is
its read position; docs/protocol.md says so).

A private conversation has a read position too (IRC's ``MARKREAD nick``): a
time, not a line (its lines are in the private logs of several channels),
kept in the same store under ``@nick`` where a channel's name goes (no
channel name starts with ``@``), ordered by the time's digits.
"""

from __future__ import annotations

import logging

from .. import protocol
from ..channels.channel import Channel
from ..store.base import Events, Place, Reads, StoreError

log = logging.getLogger("wsserver.reading")  # the name operators know from the log (docs/operations.md)


class Reading:
    """Move read positions forward, and tell each identity's connections where it has read to."""

    def __init__(self, reads: Reads, events: Events) -> None:
        self._reads = reads
        self._events = events

    async def joined_frame(self, channel: str, handle: str) -> str | None:
        """Return the ``read`` event for a joiner, if it has a stored position (None too if the store failed)."""
        try:
            cursor = await self._reads.get(channel, handle.lower())
        except StoreError:
            log.warning("could not read the read position of %s in %s", handle, channel, exc_info=True)
            return None
        return None if cursor is None else protocol.event_frame("read", {"channel": channel, "cursor": cursor})

    async def advance(self, channel: Channel, handle: str, cursor: str) -> bool:
        """Move ``handle``'s position in ``channel`` to ``cursor`` if that is further; False if no line ends there.

        Raises :class:`StoreError` if the store failed.
        """
        place = await channel.finder.place(cursor)
        if place is None:
            return False
        if await self._reads.advance(channel.name, handle.lower(), cursor, place):
            channel.send_read(handle, cursor)
            self._events.publish({"type": "read", "channel": channel.name, "handle": handle, "cursor": cursor})
        return True

    async def conversation(self, handle: str, nick: str) -> str | None:
        """Return the time (``YYYY-MM-DDThh:mm:ss.sssZ``) ``handle`` has read its conversation with ``nick`` to.

        Raises StoreError.
        """
        return await self._reads.get(CONVERSATION + nick.lower(), handle.lower())

    async def read_conversation(self, handle: str, nick: str, stamp: str) -> bool:
        """Move ``handle``'s position in its conversation with ``nick`` to the time ``stamp`` if that is later.

        Returns whether it moved; raises StoreError.
        """
        place = Place(CONVERSATION_LOG, "".join(c for c in stamp if c.isdigit()))
        return await self._reads.advance(CONVERSATION + nick.lower(), handle.lower(), stamp, place)


CONVERSATION = "@"  # where a channel's name goes, for a private conversation's position (no channel starts with @)
CONVERSATION_LOG = "conversation"  # the "log" of its places: times, one order for them all
