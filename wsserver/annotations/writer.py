"""Check an annotation request against the log and the index, and append its line.

The line a request points at is read back from the log by its cursor
(:meth:`~wsserver.store.base.Finder.pick`): it must be a user's public chat
line of the channel's current log.  Nothing is delivered from here: the line
is appended, and every process learns of it by reading it back, as any line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..logline import format_line
from ..moderation_log import ALREADY_DELETED, BAD_AROUND, Moderation
from .index import REACTIONS_MOST
from .lines import annotatable, edit_line, reaction_line, reply_line
from .requests import EDIT_SECONDS, NOT_YOURS_TO_EDIT, TOO_MANY_REACTIONS, Edit, React

if TYPE_CHECKING:
    from ..channel import Channel

NOT_SAVED = "Message not saved"  # the same sentence as a chat line's (wsserver.protocol)


class Annotator:
    """Reactions, edits and replies, as lines appended to a channel's log."""

    def __init__(self, moderation: Moderation) -> None:
        self.moderation = moderation

    async def _target(self, channel: Channel, cursor: str) -> tuple[re.Match[str], str] | str:
        """Return the parts and the ref of the line ``cursor`` names, or the sentence that refuses it.

        Raises StoreError if the store did not answer.
        """
        located = channel.finder.locate(cursor)
        match = annotatable((await channel.finder.pick([cursor]))[0]) if located is not None else None
        if match is None or located is None:
            return BAD_AROUND
        if cursor in self.moderation.deleted_in(channel.name):
            return ALREADY_DELETED
        return match, located[1]

    @staticmethod
    async def _write(channel: Channel, lines: Callable[[str], str]) -> str | None:
        return None if await channel.write(lines) else NOT_SAVED

    async def react(self, channel: Channel, handle: str, request: React) -> str | None:
        """Add or take back ``handle``'s reaction; return the refusal, or None (also when nothing changes)."""
        target = await self._target(channel, request.cursor)
        if isinstance(target, str):
            return target
        match, ref = target
        reactions = channel.index.reactions(request.cursor)
        mine = any(h.lower() == handle.lower() for h in reactions.get(request.emoji, ()))
        if mine != request.remove:  # already there, or not there to take back: nothing to write
            return None
        if not request.remove and request.emoji not in reactions and len(reactions) >= REACTIONS_MOST:
            return TOO_MANY_REACTIONS
        return await self._write(channel, lambda stamp: reaction_line(
            stamp, handle, request.emoji, match.group(2), match.group(1), ref, request.remove))

    async def edit(self, channel: Channel, handle: str, request: Edit) -> str | None:
        """Replace the text of ``handle``'s own line sent within :data:`EDIT_SECONDS`; return the refusal, or None."""
        target = await self._target(channel, request.cursor)
        if isinstance(target, str):
            return target
        match, ref = target
        if match.group(2).lower() != handle.lower() or channel.clock.epoch(match.group(1)) < time.time() - EDIT_SECONDS:
            return NOT_YOURS_TO_EDIT
        return await self._write(channel, lambda stamp: edit_line(stamp, match.group(2), match.group(1), ref,
                                                                  request.text))

    async def reply(self, channel: Channel, handle: str, text: str, reply_to: str) -> str | None:
        """Append ``handle``'s chat line and its link to the line it replies to, in one append; return the refusal."""
        target = await self._target(channel, reply_to)
        if isinstance(target, str):
            return target
        match, ref = target
        return await self._write(channel, lambda stamp: reply_line(stamp, handle, match.group(2), match.group(1), ref)
                                 + "\n" + format_line(stamp, handle, text))
