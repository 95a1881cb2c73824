"""A process's side of moderation: fold the moderation log, enforce what it says, and take actions.

The :class:`Moderator` reads the store's moderation log whole at start, then
follows it: a kick or a ban closes the user's socket if it is on this
process, a deletion tells this process's clients to hide the line.  Taking
an action (:meth:`Moderator.act`) appends it to the moderation log first, so
every process enforces it, then writes its ``System`` line to the channel
log, the audit trail.  Operator commands take the same steps through their
own source (:mod:`wsserver.ops.commands`), with :func:`locate` and
:func:`check_delete` shared.
"""

from __future__ import annotations

import logging
import time

from . import protocol
from .channel import Channel
from .logline import SYSTEM, Clock
from .moderation_log import Action, Moderation, audit_line, check_delete, locate, parse_duration
from .protocol import Delete, Moderate
from .store.base import ActionLog, Handles, StoreError
from .uploads.storage import FilesDir
from .uploads.withdraw import withdraw_line

log = logging.getLogger(__name__)

class Moderator:
    """The moderation state of this process and what enforces it."""

    def __init__(self, actions: ActionLog, registry: Handles, channels: dict[str, Channel],
                 clock: Clock, files: FilesDir | None = None) -> None:
        self.actions = actions
        self.files = files  # a deleted line's shared file is withdrawn from here
        self.registry = registry
        self.channels = channels
        self.clock = clock
        self.state = Moderation()

    async def start(self) -> None:
        """Fold every action so far, then follow the log."""
        for action in await self.actions.read():
            self.state.apply(action)
        self.actions.follow(self._new)

    async def stop(self) -> None:
        """Stop following."""
        await self.actions.stop()

    def _new(self, actions: list[Action], replaced: bool) -> None:
        if replaced:
            log.warning("the moderation log was replaced: folding it again")
            self.state.reset()
        for action in actions:
            self.state.apply(action)
            if not replaced:
                self._enforce(action)

    def _enforce(self, action: Action) -> None:
        channel = self.channels.get(action.channel)
        if channel is None:
            return
        why = f": {action.reason}" if action.reason else ""
        if action.action == "kick":
            channel.remove(action.handle, protocol.KICKED + why)
        elif action.action == "ban":
            channel.remove(action.handle, protocol.BANNED + why)
        elif action.action == "delete":
            channel.send_deleted(action.cursor)

    async def act(self, channel: Channel, action: Action) -> bool:
        """Take ``action``: the moderation log (every process enforces it from there), the audit line.

        Returns False if the action was not stored.
        """
        try:
            await self.actions.append(action)
        except StoreError:
            log.exception("could not store a moderation action in %s", channel.name)
            return False
        # In force here at once (folding it again when the log brings it back changes nothing); it is
        # enforced, here as on every process, when the log brings it back: within milliseconds.
        self.state.apply(action)
        log.info("moderation in %s: %s", channel.name, audit_line(action))
        await channel.say(SYSTEM, audit_line(action))
        return True

    async def handle(self, channel: Channel, actor: str, operator: bool, request: Moderate | Delete) -> str | None:
        """Serve a ``moderate`` or ``delete`` frame of ``actor``; return the sentence of a refusal, or None."""
        if isinstance(request, Delete):
            return await self.delete(channel, actor, operator, request.cursor)
        if not operator:
            return protocol.NOT_OPERATOR
        handle = request.handle
        try:
            present = {held.handle.lower(): held.handle for held in await self.registry.users(channel.name)}
        except StoreError:
            return protocol.UNAVAILABLE
        handle = present.get(handle.lower(), handle)
        if request.action == "kick" and handle.lower() not in present:
            return protocol.USER_NOT_FOUND
        if request.action == "unban" and not self.state.banned(channel.name, handle):
            return protocol.NOT_BANNED
        if request.action == "unmute" and not self.state.muted(channel.name, handle):
            return protocol.NOT_MUTED
        seconds = parse_duration(request.duration) if request.duration else None
        until = time.time() + seconds if seconds else None
        action = Action(request.action, channel.name, actor, handle=handle, until=until, duration=request.duration,
                        reason=request.reason)
        return None if await self.act(channel, action) else protocol.NOT_SAVED

    async def delete(self, channel: Channel, actor: str, operator: bool, cursor: str) -> str | None:
        """Delete the line just before ``cursor`` for ``actor``; return the sentence of a refusal, or None."""
        try:
            found = await locate(channel.finder, cursor)
        except StoreError:
            return protocol.UNAVAILABLE
        refusal = check_delete(self.state, channel.name, found, actor, operator, self.clock)
        if refusal is not None:
            return refusal
        assert found is not None
        end, author, stamp = found
        if self.files is not None:  # first, so that whoever is told of the deletion finds the file gone
            try:
                await withdraw_line(self.files, channel.finder, end)
            except (StoreError, OSError):
                log.error("could not withdraw the file of a deleted line in %s", channel.name, exc_info=True)
        action = Action("delete", channel.name, actor, handle=author, cursor=end, stamp=stamp)
        return None if await self.act(channel, action) else protocol.NOT_SAVED
