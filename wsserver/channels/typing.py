"""Who is typing in one channel: this process's connections (each mark expires unless refreshed), and the
handles other processes and nodes say are typing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .. import protocol
from ..store.base import Events
from .fanout import Outbox, broadcast

# Timeouts
TYPING_EXPIRES = 6.0  # seconds a "typing: true" lasts without a refresh


class Typing:
    """The typing marks of one channel, told to its subscribers here and to the other processes."""

    def __init__(self, name: str, subscribers: set[Outbox], connections: Callable[[str], list[Outbox]],
                 events: Events) -> None:
        self.name = name
        self.subscribers = subscribers  # the channel's, here
        self.connections = connections  # a handle's connections here
        self._events = events
        self._local: dict[Outbox, tuple[str, asyncio.TimerHandle]] = {}
        self._remote: dict[str, asyncio.TimerHandle] = {}  # handles typing on other processes or nodes

    def stop(self) -> None:
        """Cancel every expiry."""
        for timer in self._local.values():
            timer[1].cancel()
        for handle_timer in self._remote.values():
            handle_timer.cancel()

    def is_typing(self, outbox: Outbox) -> bool:
        """Return whether the connection of ``outbox`` is marked as typing."""
        return outbox in self._local

    def set(self, outbox: Outbox, handle: str, typing: bool) -> bool:
        """Record that a connection of ``handle`` started or stopped typing; tell the others when ``handle``'s changed.

        Typing is per identity: with several devices, ``handle`` types while
        any of them does.  Return whether that changed.
        """
        own = self.connections(handle)
        before = outbox in self._local or any(o in self._local for o in own)
        current = self._local.pop(outbox, None)
        if current is not None:
            current[1].cancel()
        if typing:
            timer = asyncio.get_running_loop().call_later(TYPING_EXPIRES, self.set, outbox, handle, False)
            self._local[outbox] = (handle, timer)
        changed = before != (typing or any(o in self._local for o in own))
        if changed:
            frame = protocol.event_frame("typing", {"channel": self.name, "handle": handle, "typing": typing})
            broadcast((o for o in self.subscribers if o is not outbox and o not in own), frame)
        if changed or typing:  # a refresh too: the others' copies expire like ours
            self._events.publish({"type": "typing", "channel": self.name, "handle": handle, "typing": typing})
        return changed

    def remote(self, handle: str, typing: bool) -> None:
        """Someone on another process or node started, refreshed or stopped typing: tell everyone here of a change."""
        timer = self._remote.pop(handle, None)
        if timer is not None:
            timer.cancel()
        if typing:
            self._remote[handle] = asyncio.get_running_loop().call_later(
                TYPING_EXPIRES, self.remote, handle, False)
        if (timer is not None) != typing:
            frame = protocol.event_frame("typing", {"channel": self.name, "handle": handle, "typing": typing})
            own = self.connections(handle)  # its devices here are not told of themselves
            broadcast((o for o in self.subscribers if o not in own) if own else self.subscribers, frame)
