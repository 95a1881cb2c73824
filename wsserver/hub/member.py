"""A member of a channel: what someone seated there may do, whichever door they came in by.

The doors (the chat socket today; HTTP bots and IRC next) turn what a client
sends into calls on a :class:`Member` and its answers into what the client
reads.  Every call takes plain arguments and returns a result, or a
:class:`~wsserver.protocol.Refused` (its code and sentence); a member never
sees a frame, a request or a socket.  Each call keeps the rules of the
channel (:mod:`wsserver.hub.rules`): the text's size and form, the rate
limit (three refusals for rate within ten seconds close the connection),
mutes, encrypted-only channels, the windows for editing and deleting one's
own lines.  What the member is sent (lines, presence, events) reaches it
through its seat's :class:`~wsserver.channels.fanout.Outbox`, as for anyone.

A member joins (:meth:`Member.join`), then acts, then leaves (:meth:`Member.leave`)::

    join ──► say, private, react, reply, edit, delete, moderate, read, typing,
             history, thread, key, upload ──► leave

An upload's bytes arrive later, on any process: :func:`~wsserver.hub.seatless.take_ticket` and
:func:`~wsserver.hub.seatless.share` are that second half (the ``PUT``), with the same checks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import Config, valid_handle
from ..errors import StoreError
from ..protocol import CLOSE_POLICY, NAME_CHARS, Code, Refused
from ..uploads.rules import TICKET_SECONDS, megabytes, valid_name
from ..uploads.storage import new_id
from .keyring import Key
from .ratelimit import TokenBucket
from .rules import (
    HISTORY_LIMIT_MOST,
    THREAD_LIMIT_MOST,
    message_problem,
    said_problem,
    single_emoji,
    tags_problem,
    text_problem,
)

if TYPE_CHECKING:
    from ..channels.channel import Channel
    from ..channels.fanout import Outbox
    from .hub import Hub
    from .membership import Seat

log = logging.getLogger("wsserver.conversation")  # the name operators know from the log (docs/operations.md)

RATE_STRIKES = 3  # refusals for rate within RATE_STRIKE_WINDOW seconds that close the connection
RATE_STRIKE_WINDOW = 10.0


@dataclass(frozen=True)
class Limits:
    """The server's settings a member's calls are checked against."""

    # The defaults are the settings' (wsserver.config.Config), read from there, not written again.
    max_chars: int = Config.max_message_chars  # a line's text
    rate: float = Config.rate_limit  # lines a second, on average (0: no limit)
    burst: int = Config.rate_burst  # lines at once
    encrypted_channels: frozenset[str] = frozenset()  # channels that take only end-to-end encrypted text
    max_upload_bytes: int = Config.max_upload_bytes
    devices: bool = False  # identities have devices (tokens): a public key is kept per device
    accounts: bool = False  # accounts are on: a private line to an account away is kept for it

    @classmethod
    def of(cls, config: Config) -> Limits:
        """Return the limits ``config`` sets."""
        return cls(config.max_message_chars, config.rate_limit, config.rate_burst,
                   frozenset(config.encrypted_channels), config.max_upload_bytes, config.jwt_secret is not None,
                   config.accounts)


@dataclass(frozen=True)
class Kept:
    """A private line to an account that is not in the channel now: written, and shown to it when it joins."""

    to: str  # the account's handle, as it is written
    sentence: str  # what the sender is told


@dataclass(frozen=True)
class Ticket:
    """An upload under way: whose, where, the file's name and the caption of its line."""

    channel: str
    handle: str
    name: str
    caption: str


class Member:
    """One identity seated in one channel through one connection, and everything it may do there."""

    __slots__ = ("bucket", "closing", "hub", "limits", "operator", "seat", "strikes", "tickets", "typing_bucket")

    def __init__(self, hub: Hub, seat: Seat, limits: Limits, operator: bool = False) -> None:
        self.hub = hub
        self.seat = seat
        self.limits = limits
        self.operator = operator  # may moderate this channel
        self.bucket = TokenBucket(limits.rate, limits.burst)
        # Typing, reads and keys have a bucket of their own, so that a person's typing indicator
        # never uses up the messages it announces.
        self.typing_bucket = TokenBucket(limits.rate, limits.burst)
        self.strikes: list[float] | None = None  # times of recent refusals for rate (most members never get one)
        self.closing = False  # told why and being closed: what it sends from now on is ignored
        self.tickets: list[str] | None = None  # upload URLs issued to this connection (void when it leaves)

    @classmethod
    async def join(cls, hub: Hub, channel: Channel, handle: str, outbox: Outbox, limits: Limits, *,
                   history: int, since: str | None = None, first: Iterable[str] = (), shared: bool = False,
                   operator: bool = False, presence: str | None = None) -> Member:
        """Seat ``handle`` in ``channel`` (:meth:`~wsserver.hub.membership.Membership.join`); return the member.

        ``presence``: the version of the users list a resuming client has (none sent if it is the channel's).
        Raises :class:`~wsserver.errors.JoinRefused` with the refusal and close code.
        """
        seat = await hub.membership.join(channel, handle, outbox, history, since, first, shared=shared,
                                         presence=presence)
        return cls(hub, seat, limits, operator)

    async def leave(self) -> None:
        """Give the seat back (the leave line, unless another device still sits in it); void unused upload URLs."""
        await self.seat.leave()
        if self.tickets:
            try:
                await self.hub.store.tickets.drop(self.tickets)
            except StoreError:
                log.warning("could not void the upload tickets of %s", self.seat.who, exc_info=True)

    @property
    def handle(self) -> str:
        """Return the member's handle."""
        return self.seat.handle

    @property
    def channel(self) -> Channel:
        """Return the channel the member sits in."""
        return self.seat.channel

    # ------------------------------------------------------------ checks

    def _rate(self) -> Refused | None:
        """Take a token of the rate limit, or refuse; told three times in ten seconds, the member is closed."""
        if self.bucket.allow():
            return None
        now = time.monotonic()
        self.strikes = [t for t in self.strikes or () if now - t <= RATE_STRIKE_WINDOW] + [now]
        if len(self.strikes) >= RATE_STRIKES:
            log.warning("closing %s: kept exceeding the rate limit", self.seat.who)
            # Closed once everything queued is sent, the refusal its door is about to send included.
            self.seat.outbox.close_after(CLOSE_POLICY, Code.RATE_LIMITED.sentence)
            self.closing = True
        return Refused.of(Code.RATE_LIMITED)

    def _may_write(self, plain: bool) -> Refused | None:
        """Check what every line of the member's goes through: the rate, a mute, an encrypted-only channel."""
        refused = self._rate()
        if refused is not None:
            return refused
        if self.hub.moderator.state.muted(self.channel.name, self.handle):
            return Refused.of(Code.MUTED)
        if plain and self.channel.name in self.limits.encrypted_channels:
            return Refused.of(Code.PLAIN_ONLY)
        return None

    def _signal(self) -> Refused | None:
        """Take a token for a signal about the member (a read position, a key), not a line of the log."""
        return None if self.typing_bucket.allow() else Refused.of(Code.RATE_LIMITED)

    def _store_failed(self, what: str) -> Refused:
        log.warning("%s for %s: the store failed", what, self.seat.who, exc_info=True)
        return Refused.of(Code.UNAVAILABLE)

    def _counted(self, kind: str, refused: Refused | None) -> Refused | None:
        if refused is None:
            self.hub.metrics.messages.labels(kind).inc()
        return refused

    # ------------------------------------------------------------ lines

    async def say(self, text: str, encrypted: bool = False, reply_to: str | None = None,
                  tags: str | None = None) -> Refused | None:
        """Append the member's chat line (a reply to the line before ``reply_to``, if given).

        ``tags``: an IRC client's client-only tags (``+key=value;...`` as sent), kept with the line.
        """
        refused = said_problem(text, tags, self.limits.max_chars, encrypted) or self._may_write(not encrypted)
        if refused is not None:
            return refused
        if reply_to is None:
            saved = await self.channel.say(self.handle, text, tags=tags)
            return self._counted("chat", None if saved else Refused.of(Code.NOT_SAVED))
        try:
            refused = await self.hub.annotator.reply(self.channel, self.handle, text, reply_to, tags)
        except StoreError:
            return self._store_failed("annotation")
        return self._counted("chat", refused)

    async def private(self, to: str, text: str | None, encrypted: bool = False,
                      tags: str | None = None) -> Refused | Kept | None:
        """Append a line only ``to`` and the member see.

        ``to`` is seated in the channel (on any process), or, with accounts and
        for a member with an identity, an account: the line is kept, ``to``
        sees it in its next join's backlog, and the answer says so (:class:`Kept`).
        ``tags``: an IRC client's client-only tags, kept with the line; with no
        ``text``, the tags alone (an IRC ``TAGMSG`` to a person).
        """
        refused = said_problem(text, tags, self.limits.max_chars, encrypted)
        if refused is None and not valid_handle(to):
            refused = Refused.of(Code.USER_NOT_FOUND)
        refused = refused or self._may_write(not encrypted and text is not None)
        if refused is not None:
            return refused
        try:
            recipient = await self.hub.membership.find(self.channel.name, to)
        except StoreError:
            return self._store_failed("recipient lookup")
        kept = None
        if recipient is None and self.limits.accounts and self.seat.shared:
            try:
                account = await self.hub.store.accounts.get(to)
            except StoreError:
                return self._store_failed("recipient lookup")
            if account is not None and not account.get("removed"):
                recipient = str(account["handle"])
                kept = Kept(recipient, Refused.of(Code.KEPT_FOR_LATER, handle=recipient).sentence)
        if recipient is None:
            return Refused.of(Code.USER_NOT_FOUND)
        if text is None:
            saved = await self.channel.send_tags(self.handle, str(tags), to=recipient)
        else:
            saved = await self.channel.say(self.handle, text, to=recipient, tags=tags)
        return self._counted("private", None if saved else Refused.of(Code.NOT_SAVED)) or kept

    async def send_tags(self, tags: str) -> Refused | None:
        """Send the member's client-only tags alone to the channel (an IRC ``TAGMSG``): a line of the log
        that pages are not shown (lines.annotation)."""
        refused = tags_problem(tags) or self._may_write(False)
        if refused is not None:
            return refused
        saved = await self.channel.send_tags(self.handle, tags)
        return self._counted("chat", None if saved else Refused.of(Code.NOT_SAVED))

    async def set_topic(self, text: str) -> Refused | None:
        """As a channel operator: set the topic (empty: cleared); the log says ``HANDLE set the topic: TEXT``."""
        refused = (text_problem(text, self.limits.max_chars) if text else None) or self._rate()
        if refused is not None:
            return refused
        return await self.hub.moderator.set_topic(self.channel, self.handle, self.operator, text)

    async def react(self, cursor: str, emoji: str, remove: bool = False) -> Refused | None:
        """Add (``remove``: take back) the member's ``emoji`` on the line before ``cursor``."""
        if not single_emoji(emoji):
            return Refused.of(Code.BAD_EMOJI)
        return await self._annotate(self._may_write(False), "react", cursor, emoji, remove)

    async def edit(self, cursor: str, text: str, encrypted: bool = False) -> Refused | None:
        """Replace the text of the member's own line before ``cursor`` (sent within the last 24 hours)."""
        refused = message_problem(text, self.limits.max_chars, encrypted) or self._may_write(not encrypted)
        return await self._annotate(refused, "edit", cursor, text)

    async def _annotate(self, refused: Refused | None, kind: str, cursor: str, *args: Any) -> Refused | None:
        if refused is not None:
            return refused
        annotator = self.hub.annotator
        try:
            if kind == "react":
                return await annotator.react(self.channel, self.handle, cursor, *args)
            return await annotator.edit(self.channel, self.handle, cursor, *args)
        except StoreError:
            return self._store_failed("annotation")

    async def delete(self, cursor: str, reason: str = "", private: bool = False) -> Refused | None:
        """Delete the line before ``cursor``: the member's own within 15 minutes, or any as an operator.

        ``private``: the cursor is of the channel's private log; only the line's sender may delete it.
        """
        return self._rate() or await self.hub.moderator.delete(self.channel, self.handle, self.operator, cursor,
                                                               reason, private)

    async def moderate(self, action: str, handle: str, reason: str = "", duration: str = "") -> Refused | None:
        """As a channel operator: kick, ban, unban, mute or unmute ``handle`` (``duration`` e.g. ``1h``)."""
        return self._rate() or await self.hub.moderator.moderate(self.channel, self.handle, self.operator, action,
                                                                 handle, reason, duration)

    # ------------------------------------------------------------ signals and reads

    def typing(self, typing: bool) -> None:
        """Say the member started or stopped typing (best effort: a change over the limit is dropped unsaid)."""
        # Repeats of the same state only refresh its expiry and cost nothing.
        channel, outbox = self.channel, self.seat.outbox
        if typing == channel.typing.is_typing(outbox) or self.typing_bucket.allow():
            channel.typing.set(outbox, self.handle, typing)

    async def read(self, cursor: str) -> Refused | None:
        """Move the member's read position forward to the line before ``cursor`` (every device is told)."""
        refused = self._signal()
        if refused is not None:
            return refused
        try:
            found = await self.hub.reading.advance(self.channel, self.handle, cursor)
        except StoreError:
            return self._store_failed("read position")
        return None if found else Refused.of(Code.BAD_AROUND)

    async def key(self, key: Key) -> Refused | None:
        """Publish the member's public key (of its device, with devices) and tell the channel."""
        refused = self._signal()
        if refused is not None:
            return refused
        try:
            await self.hub.keyring.publish(self.channel, self.handle, key, devices=self.limits.devices)
        except StoreError:
            return self._store_failed("public key")
        return None

    async def history(self, before: str | None = None, limit: int = 50, around: str | None = None,
                      at: str | None = None, after: str | None = None) -> str | Refused:
        """Return a ``history`` frame: the lines before ``before``, or around a line, from a time, or after."""
        limit = max(1, min(limit, HISTORY_LIMIT_MOST))
        identity = self.handle if self.seat.shared else None  # a stable identity's private lines come along
        try:
            if around is None and at is None and after is None:
                page = await self.channel.page(before, limit, identity)
            else:
                page = await self.channel.jump(around, at, after, limit, identity)
        except StoreError:
            return self._store_failed("history")
        if page is None:
            return Refused.of(Code.BAD_AROUND if around is not None else
                              Code.BAD_AFTER if after is not None else Code.BAD_CURSOR)
        return page

    async def thread(self, cursor: str, limit: int = 50, after: str | None = None) -> str | Refused:
        """Return a ``thread`` frame: the root of the line's thread and up to ``limit`` replies (after ``after``)."""
        try:
            answer = await self.channel.thread(cursor, max(1, min(limit, THREAD_LIMIT_MOST)), after)
        except StoreError:
            return self._store_failed("thread")
        return Refused.of(Code.BAD_AROUND) if answer is None else answer

    # ------------------------------------------------------------ files

    async def upload(self, name: str, size: int, caption: str = "") -> str | Refused:
        """Ask to share a file: return the upload's id (its one-time URL is ``/api/uploads/ID``, for ``PUT``)."""
        if not valid_name(name):
            return Refused.of(Code.BAD_NAME, limit=NAME_CHARS)
        if size < 0:
            return Refused.of(Code.BAD_SIZE)
        refused = (text_problem(caption, self.limits.max_chars) if caption else None) or self._may_write(True)
        if refused is not None:
            return refused
        if size > self.limits.max_upload_bytes:
            return Refused.of(Code.TOO_LARGE, limit=megabytes(self.limits.max_upload_bytes))
        channel, upload = self.channel.name, new_id()
        ticket = {"channel": channel, "handle": self.handle, "name": name, "size": size, "caption": caption}
        try:
            await self.hub.store.tickets.issue(upload, ticket, TICKET_SECONDS)
        except StoreError:
            return self._store_failed("upload ticket")
        self.tickets = [*(self.tickets or []), upload]
        return upload
