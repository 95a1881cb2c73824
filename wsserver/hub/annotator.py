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

from ..annotations.index import REACTIONS_MOST
from ..lines.annotation import annotatable, edit_line, reaction_line, reply_line, tagged_line
from ..lines.moderation_log import Moderation
from ..protocol import Code, Refused
from .rules import EDIT_SECONDS

if TYPE_CHECKING:
    from ..channels.channel import Channel


class Annotator:
    """Reactions, edits and replies, as lines appended to a channel's log."""

    def __init__(self, moderation: Moderation) -> None:
        self.moderation = moderation

    async def _target(self, channel: Channel, cursor: str) -> tuple[re.Match[str], str] | Refused:
        """Return the parts and the ref of the line ``cursor`` names, or the refusal.

        Raises StoreError if the store did not answer.
        """
        located = channel.finder.locate(cursor)
        match = annotatable((await channel.finder.pick([cursor]))[0]) if located is not None else None
        if match is None or located is None:
            return Refused.of(Code.BAD_AROUND)
        if cursor in self.moderation.deleted_in(channel.name):
            return Refused.of(Code.ALREADY_DELETED)
        return match, located[1]

    @staticmethod
    async def _write(channel: Channel, lines: Callable[[str], str]) -> Refused | None:
        return None if await channel.write(lines) else Refused.of(Code.NOT_SAVED)

    async def react(self, channel: Channel, handle: str, cursor: str, emoji: str, remove: bool) -> Refused | None:
        """Add or take back ``handle``'s reaction; return the refusal, or None (also when nothing changes)."""
        target = await self._target(channel, cursor)
        if isinstance(target, Refused):
            return target
        match, ref = target
        reactions = channel.index.reactions(cursor)
        mine = any(h.lower() == handle.lower() for h in reactions.get(emoji, ()))
        if mine != remove:  # already there, or not there to take back: nothing to write
            return None
        if not remove and emoji not in reactions and len(reactions) >= REACTIONS_MOST:
            return Refused.of(Code.TOO_MANY_REACTIONS, limit=REACTIONS_MOST)
        return await self._write(channel, lambda stamp: reaction_line(
            stamp, handle, emoji, match.group(2), match.group(1), ref, remove))

    async def edit(self, channel: Channel, handle: str, cursor: str, text: str) -> Refused | None:
        """Replace the text of ``handle``'s own line sent within :data:`EDIT_SECONDS`; return the refusal, or None."""
        target = await self._target(channel, cursor)
        if isinstance(target, Refused):
            return target
        match, ref = target
        if match.group(2).lower() != handle.lower() or channel.clock.epoch(match.group(1)) < time.time() - EDIT_SECONDS:
            return Refused.of(Code.NOT_YOURS_TO_EDIT)
        return await self._write(channel, lambda stamp: edit_line(stamp, match.group(2), match.group(1), ref, text))

    async def reply(self, channel: Channel, handle: str, text: str, reply_to: str,
                    tags: str | None = None) -> Refused | None:
        """Append ``handle``'s chat line and its link to the line it replies to, in one append; return the refusal.

        ``tags`` (an IRC client's client-only tags) go between the link and the line.
        """
        target = await self._target(channel, reply_to)
        if isinstance(target, Refused):
            return target
        match, ref = target
        return await self._write(channel, lambda stamp: reply_line(stamp, handle, match.group(2), match.group(1), ref)
                                 + "\n" + tagged_line(stamp, handle, text, tags))
