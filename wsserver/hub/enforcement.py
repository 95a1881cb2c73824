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

import asyncio
import contextlib
import logging
import time

from ..channels.channel import Channel
from ..lines import moderation_log
from ..lines.logline import SYSTEM, Clock
from ..lines.moderation_log import (
    Action,
    Moderation,
    audit_line,
    check_delete,
    locate,
    parse_duration,
)
from ..protocol import Code, Refused
from ..store.base import ActionLog, Handles, StoreError
from ..uploads.storage import FilesDir
from ..uploads.withdraw import withdraw_line

log = logging.getLogger("wsserver.enforcement")  # the name operators know from the log (docs/operations.md)

class Moderator:
    """The moderation state of this process and what enforces it."""

    def __init__(self, actions: ActionLog, registry: Handles, channels: dict[str, Channel],
                 clock: Clock, state: Moderation, files: FilesDir | None = None) -> None:
        self.actions = actions
        self.files = files  # a deleted line's shared file is withdrawn from here
        self.registry = registry
        self.channels = channels
        self.clock = clock
        self.state = state  # the moderation in force, folded here from the moderation log
        self.pending: list[Action] = []  # appended here, not yet read back (and enforced)
        self._enforced: asyncio.Event | None = None  # set when actions are read back (for settled())

    async def settled(self, most: float = 2.0) -> None:
        """Wait until every action appended here so far has been read back and enforced (at most ``most`` s)."""
        waiting = list(self.pending)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(most):
                while any(action in self.pending for action in waiting):
                    self._enforced = self._enforced or asyncio.Event()
                    await self._enforced.wait()

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
            if action in self.pending:
                self.pending.remove(action)
        if self._enforced is not None:
            self._enforced.set()
            self._enforced = None

    def _enforce(self, action: Action) -> None:
        channel = self.channels.get(action.channel)
        if channel is None:
            return
        why = f": {action.reason}" if action.reason else ""
        if action.action == "kick":
            channel.remove(action.handle, Code.KICKED.sentence + why)
        elif action.action == "ban":
            channel.remove(action.handle, Code.BANNED.sentence + why)
        elif action.action == "delete" and action.to:
            channel.send_deleted_private(action.cursor, action.handle, action.to)
        elif action.action == "delete":
            channel.send_deleted(action.cursor)
        elif action.action == "topic":
            channel.send_frame(moderation_log.topic_frame(action))

    async def act(self, channel: Channel, action: Action) -> bool:
        """Take ``action``: the moderation log (every process enforces it from there), the audit line.

        Returns False if the action was not stored.
        """
        self.pending.append(action)
        try:
            await self.actions.append(action)
        except StoreError:
            self.pending.remove(action)
            log.exception("could not store a moderation action in %s", channel.name)
            return False
        # In force here at once (folding it again when the log brings it back changes nothing); it is
        # enforced, here as on every process, when the log brings it back: within milliseconds.
        self.state.apply(action)
        log.info("moderation in %s: %s", channel.name, audit_line(action))
        if not action.to:  # a private deletion is only in the moderation log: the channel is not told of it
            await channel.say(SYSTEM, audit_line(action))
        return True

    async def moderate(self, channel: Channel, actor: str, operator: bool, action: str, handle: str,
                       reason: str = "", duration: str = "") -> Refused | None:
        """Take ``actor``'s ``action`` (kick, ban, unban, mute, unmute) on ``handle``; return the refusal, or None."""
        if not operator:
            return Refused.of(Code.NOT_OPERATOR)
        try:
            present = {held.handle.lower(): held.handle for held in await self.registry.users(channel.name)}
        except StoreError:
            return Refused.of(Code.UNAVAILABLE)
        handle = present.get(handle.lower(), handle)
        if action == "kick" and handle.lower() not in present:
            return Refused.of(Code.USER_NOT_FOUND)
        if action == "unban" and not self.state.banned(channel.name, handle):
            return Refused.of(Code.NOT_BANNED)
        if action == "unmute" and not self.state.muted(channel.name, handle):
            return Refused.of(Code.NOT_MUTED)
        seconds = parse_duration(duration) if duration else None
        until = time.time() + seconds if seconds else None
        taken = Action(action, channel.name, actor, handle=handle, until=until, duration=duration, reason=reason)
        return None if await self.act(channel, taken) else Refused.of(Code.NOT_SAVED)

    async def set_topic(self, channel: Channel, actor: str, operator: bool, text: str) -> Refused | None:
        """Set ``channel``'s topic for ``actor`` (an operator; empty: cleared); return the refusal, or None."""
        if not operator:
            return Refused.of(Code.NOT_OPERATOR)
        return None if await self.act(channel, Action("topic", channel.name, actor, reason=text)) else \
            Refused.of(Code.NOT_SAVED)

    async def delete(self, channel: Channel, actor: str, operator: bool, cursor: str,
                     reason: str = "", private: bool = False) -> Refused | None:
        """Delete the line just before ``cursor`` for ``actor`` (saying why, if given); return the refusal, or None.

        ``private``: the cursor is of the channel's private log, and only the line's sender may
        delete it, within the same 15 minutes (a channel operator does not read private lines).
        """
        try:
            found = await locate(channel.private_finder if private else channel.finder, cursor, private)
        except StoreError:
            return Refused.of(Code.UNAVAILABLE)
        refusal = check_delete(self.state, channel.name, found, actor, operator and not private, self.clock)
        if refusal is not None:
            return refusal
        assert found is not None
        end, author, stamp = found[:3]
        to = found[-1] if private else ""  # a private line's recipient (locate: the last)
        if self.files is not None and not private:  # first, so that whoever is told finds the file gone
            try:
                await withdraw_line(self.files, channel.finder, end)
            except (StoreError, OSError):
                log.error("could not withdraw the file of a deleted line in %s", channel.name, exc_info=True)
        action = Action("delete", channel.name, actor, handle=author, to=to, cursor=end, stamp=stamp, reason=reason)
        return None if await self.act(channel, action) else Refused.of(Code.NOT_SAVED)
