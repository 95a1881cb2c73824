"""The operator's moderation commands: ``kick``, ``ban``, ``unban``, ``mute``, ``unmute``, ``delete``, ``bans``.

Each appends its action to the store's moderation log, which every running
server follows (a kick or a ban closes the user's socket wherever it is), then
writes the ``System`` line that records it in the channel log.  The operator
acts as ``the operator``; nothing here needs a server to be running.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO

import pendulum

from ..annotations.found import index_of
from ..config import HANDLE_HINT, valid_handle
from ..errors import CommandError
from ..lines.logline import SYSTEM, Clock, format_line
from ..lines.moderation_log import (
    MODERATE,
    OPERATOR,
    REASON_CHARS,
    Action,
    Moderation,
    audit_line,
    check_delete,
    locate,
    parse_duration,
)
from ..store.base import Admin
from ..uploads.storage import FilesDir
from ..uploads.withdraw import withdraw_line
from .channel_commands import existing_channel


async def _fold(source: Admin) -> Moderation:
    state = Moderation()
    for action in await source.actions.read():
        state.apply(action)
    return state


async def _record(source: Admin, action: Action, timezone: str) -> str:
    await source.actions.append(action)
    line = audit_line(action)
    if not action.to:  # a private line's deletion is not told to the channel (lines.moderation_log)
        await source.append(action.channel, format_line(Clock(timezone).stamp(), SYSTEM, line))
    return line


async def moderate(source: Admin, kind: str, channel: str, handle: str, duration: str | None, reason: str | None,
                   timezone: str) -> str:
    """Take ``kind`` (one of :data:`~wsserver.moderation_log.MODERATE`) on ``handle``; return the audit line."""
    assert kind in MODERATE
    await existing_channel(source, channel)
    if not valid_handle(handle):
        raise CommandError(f"invalid handle {handle!r}: must be {HANDLE_HINT}")
    reason = (reason or "").strip()
    if len(reason) > REASON_CHARS or "\n" in reason:
        raise CommandError(f"invalid --reason: must be one line of at most {REASON_CHARS} characters")
    seconds = None
    if duration is not None:
        seconds = parse_duration(duration)
        if seconds is None:
            raise CommandError(f"invalid --for value {duration!r}: must be a duration such as 30m, 2h, 7d or 1h30m")
    present = {held.handle.lower(): held.handle for held in await source.users(channel)}
    state = await _fold(source)
    if kind == "kick" and handle.lower() not in present:
        raise CommandError(f"{handle} is not in {channel}")
    if kind == "unban" and not state.banned(channel, handle):
        raise CommandError(f"{handle} is not banned in {channel}")
    if kind == "unmute" and not state.muted(channel, handle):
        raise CommandError(f"{handle} is not muted in {channel}")
    until = time.time() + seconds if seconds else None
    action = Action(kind, channel, OPERATOR, handle=present.get(handle.lower(), handle), until=until,
                    duration=duration or "", reason=reason)
    return await _record(source, action, timezone)


async def delete(source: Admin, channel: str, cursor: str, erase: bool, timezone: str,
                 files_dir: Path | None = None, private: bool = False) -> str:
    """Delete (and with ``erase`` overwrite) the line just before ``cursor``; return the audit line.

    The file of a shared file's line (in ``files_dir``) is withdrawn, and with ``erase`` removed.
    ``private``: the cursor is of the channel's private log (an erasure request for a private line).
    """
    await existing_channel(source, channel)
    finder = source.finder(channel, private)
    found = await locate(finder, cursor, private)
    refusal = check_delete(await _fold(source), channel, found, None, True, Clock(timezone))
    if refusal is not None:
        where = f"the private log of {channel}" if private else channel
        raise CommandError(f"cannot delete at cursor {cursor!r} in {where}: {refusal.sentence}")
    assert found is not None
    end, author, stamp = found[:3]
    if erase:
        if not await finder.erase(end):
            raise CommandError(f"cannot erase at cursor {cursor!r} in {channel}: the line is gone")
        edited = None if private else (await index_of(finder)).lines.get(end)
        for edit in edited.edits if edited is not None else ():  # its edits hold its text too
            await finder.erase(edit)
    if files_dir is not None and not private:
        await withdraw_line(FilesDir(files_dir), finder, end, erase)
    return await _record(source, Action("delete", channel, OPERATOR, handle=author, to=found[-1] if private else "",
                                        cursor=end, stamp=stamp, erase=erase), timezone)


async def bans(source: Admin, channel: str | None, timezone: str, out: TextIO) -> int:
    """Print the bans and mutes in force: channel, handle, ban or mute, until, by, reason; return how many."""
    if channel is not None:
        await existing_channel(source, channel)
    restrictions = (await _fold(source)).in_force(channel)
    for kind, restriction in restrictions:
        until = "until lifted" if restriction.until is None else pendulum.from_timestamp(
            restriction.until, tz=timezone).format("YYYY-MM-DD HH:mm:ss")
        print("\t".join((restriction.channel, restriction.handle, kind, until, restriction.by, restriction.reason)),
              file=out)
    return len(restrictions)
