"""Lines written without a seat: a bot's post over HTTP, IRC's direct lines, an upload's line.

They go through the rules a member's lines go through (:mod:`wsserver.hub.member`): the text, a rate,
a ban or a mute, an encrypted-only channel.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import AppendError, StoreError
from ..lines.annotation import shared_line
from ..lines.logline import format_line
from ..protocol import Code, Refused
from ..uploads.rules import megabytes
from ..uploads.storage import Stored
from .member import Limits, Ticket
from .ratelimit import TokenBucket
from .rules import said_problem

if TYPE_CHECKING:
    from ..channels.channel import Channel
    from .hub import Hub

log = logging.getLogger("wsserver.conversation")  # the name operators know from the log (docs/operations.md)


async def post(hub: Hub, channel: Channel, handle: str, text: str | None, limits: Limits,
               bucket: TokenBucket, to: str | None = None, tags: str | None = None) -> str | Refused:
    """Append ``handle``'s line posted without a seat (a bot over HTTP; private ``to``: IRC's direct line).

    The rules of a member's line: the text, the rate (``bucket``, the account's), a ban or a mute,
    an encrypted-only channel.  ``tags``: an IRC client's client-only tags, kept with the line (with no
    ``text``: alone, a ``TAGMSG``).  Returns the line's cursor.
    """
    refused = said_problem(text, tags, limits.max_chars)
    if refused is not None:
        return refused
    if not bucket.allow():
        return Refused.of(Code.RATE_LIMITED)
    refused = _kept_out(hub, channel.name, handle)
    if refused is not None:
        return refused
    if channel.name in limits.encrypted_channels and text is not None:
        return Refused.of(Code.PLAIN_ONLY)
    if text is None:
        cursor = await channel.send_tags(handle, str(tags), to=to)
    else:
        cursor = await channel.say(handle, text, to=to, tags=tags)
    if cursor is None:
        return Refused.of(Code.NOT_SAVED)
    try:
        await hub.store.durable()  # the ok of an explicit ok (the 201) waits for the line's flush (--fsync)
    except AppendError:
        return Refused.of(Code.NOT_SAVED)
    hub.metrics.messages.labels("chat" if to is None else "private").inc()
    return cursor


async def take_ticket(hub: Hub, upload: str) -> Ticket | Refused:
    """Take the one-time ticket of ``upload`` (any process may; then it is gone); refuse a banned or muted uploader."""
    try:
        ticket = await hub.store.tickets.take(upload)
    except StoreError:
        log.warning("could not take upload ticket %s", upload, exc_info=True)
        return Refused.of(Code.UNAVAILABLE)
    if ticket is None:
        return Refused.of(Code.NO_TICKET)
    taken = Ticket(str(ticket["channel"]), str(ticket["handle"]), str(ticket["name"]), str(ticket.get("caption") or ""))
    return _kept_out(hub, taken.channel, taken.handle) or taken


def _kept_out(hub: Hub, channel: str, handle: str) -> Refused | None:
    """Refuse a line of ``handle`` written without a seat (a bot's post, an upload's line): banned, or muted."""
    moderation = hub.moderator.state
    if moderation.banned(channel, handle):
        return Refused.of(Code.BANNED)
    if moderation.muted(channel, handle):
        return Refused.of(Code.MUTED)
    return None


async def share(hub: Hub, ticket: Ticket, stored: Stored) -> Refused | None:
    """Append the uploader's line and its link to the kept file, in one append."""
    channel = hub.channels.known(ticket.channel)
    if channel is None:
        return Refused.of(Code.NOT_SAVED)
    text = f"{stored.name} ({megabytes(stored.size)}) {stored.url}" + (f" {ticket.caption}" if ticket.caption else "")
    if not await channel.write(lambda stamp: shared_line(stamp, ticket.handle, stored.url, stored.type, stored.size,
                                                         stored.width, stored.height)
                               + "\n" + format_line(stamp, ticket.handle, text)):
        return Refused.of(Code.NOT_SAVED)
    hub.metrics.messages.labels("file").inc()
    return None
