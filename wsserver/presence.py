"""Who is in a channel, as the users list clients are sent: kept ready to send, spliced for joiners.

Presence comes from the store's registry: when any process claims or releases
a handle the store says so, the hub re-reads the handles, and each channel
sends its new list if it changed.  In a join storm every joiner needs a list
with itself in it: :meth:`PresenceList.with_joiner` splices it into the last
list sent (cached as sort keys and encoded handles) instead of sorting and
encoding a list of thousands per join.
"""

from __future__ import annotations

import bisect
import json

from . import protocol
from .fanout import Wire

# Timeouts
PRESENCE_SPACING = 0.25  # least seconds between two presence broadcasts: a join storm sends a few, not one per join
PRESENCE_SCALE = 1000  # users in a channel from which the spacing grows with the square of its size ...
PRESENCE_SPACING_MAX = 10.0  # ... up to this: a list of N users to N users is N² bytes


def handle_key(handle: str) -> tuple[str, str]:
    """Return the key handles are sorted by: as people read them, without regard to case."""
    return (handle.casefold(), handle)


def sort_handles(handles: list[str]) -> list[str]:
    """Sort handles as people read them: without regard to case."""
    return sorted(handles, key=handle_key)


def spacing(largest: int) -> float:
    """Return the least seconds between two presence broadcasts when the largest channel has ``largest`` users.

    0.25 s up to 1,000 users, then growing with the square of the size (the
    bytes a broadcast costs), up to 10 s: 6.25 s at 5,000.  Everyone still
    gets the latest list, only fewer of the lists in between.
    """
    scale = max(1.0, largest / PRESENCE_SCALE) ** 2
    return min(PRESENCE_SPACING * scale, PRESENCE_SPACING_MAX)


class PresenceList:
    """The last users list a channel sent, kept ready to send and to splice."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.users: list[str] | None = None
        self._keys: list[tuple[str, str]] = []
        self._json: list[str] = []
        self._wire: Wire | None = None

    def update(self, users: list[str]) -> Wire | None:
        """Take a new sorted list; return its frame to send, or None if it did not change."""
        if users == self.users:
            return None
        self.users = users
        self._keys = [handle_key(handle) for handle in users]
        self._json = [json.dumps(handle, ensure_ascii=False) for handle in users]
        self._wire = Wire(protocol.presence_frame(self.channel, self._json))
        return self._wire

    def with_joiner(self, handle: str) -> Wire:
        """Return a frame of the last list sent, with ``handle`` in it (a splice, not a sort and an encoding)."""
        key = handle_key(handle)
        at = bisect.bisect_left(self._keys, key)
        if self._wire is not None and at < len(self._keys) and self._keys[at] == key:
            return self._wire
        users = [*self._json[:at], json.dumps(handle, ensure_ascii=False), *self._json[at:]]
        return Wire(protocol.presence_frame(self.channel, users))
