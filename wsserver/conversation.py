"""One connection's side of the conversation: what each client frame does, within its limits.

The socket handler (:mod:`wsserver.chat`) reads frames and hands each parsed
request to the connection's :class:`Conversation`, which holds what belongs
to that connection alone (its rate buckets, its strikes, whether it is being
closed) and answers through the seat's outbox: a line appended to the log (it
comes back to everyone through the reader), a history page, or an error frame.
"""

from __future__ import annotations

import logging
import time

from . import protocol
from .app_state import State
from .errors import StoreError
from .membership import Seat
from .protocol import (
    Chat,
    ClientFrame,
    Delete,
    Edit,
    History,
    Keepalive,
    Key,
    Moderate,
    Private,
    React,
    Read,
    Thread,
    Typing,
    Upload,
    error_frame,
)
from .ratelimit import TokenBucket
from .uploads.requests import TICKET_SECONDS, megabytes
from .uploads.storage import new_id

log = logging.getLogger(__name__)

# The reason label of a refused message, by the sentence the client was sent.
_REASONS = {
    protocol.INVALID_FORMAT: "invalid_format",
    protocol.BINARY_FRAME: "binary_frame",
    protocol.EMPTY_MESSAGE: "empty",
    protocol.RATE_LIMITED: "rate_limited",
    protocol.NOT_SAVED: "not_saved",
    protocol.USER_NOT_FOUND: "user_not_found",
    protocol.BAD_CURSOR: "bad_cursor",
    protocol.BAD_AROUND: "bad_cursor",
    protocol.BAD_AFTER: "bad_cursor",
    protocol.UNAVAILABLE: "unavailable",
    protocol.NOT_UNICODE: "not_unicode",
}


def reason(sentence: str) -> str:
    """Return the label for a refusal sentence."""
    if sentence.startswith("Message is too long"):
        return "too_long"
    if sentence.startswith("Unknown message type"):
        return "unknown_type"
    return _REASONS.get(sentence, "other")


# Limits
RATE_STRIKES = 3  # refusals for rate within RATE_STRIKE_WINDOW seconds that close the socket
RATE_STRIKE_WINDOW = 10.0


class Conversation:
    """Serve one connection's requests in its seat: chat, private lines, typing, history, moderation."""

    __slots__ = ("bucket", "closing", "max_chars", "operator", "seat", "state", "strikes", "tickets", "typing_bucket")

    def __init__(self, state: State, seat: Seat, operator: bool) -> None:
        self.state = state
        self.seat = seat
        self.operator = operator
        self.max_chars = state.config.max_message_chars
        self.bucket = TokenBucket(state.config.rate_limit, state.config.rate_burst)
        # Typing has a bucket of its own so that a person's typing indicator
        # never uses up the messages it announces.
        self.typing_bucket = TokenBucket(state.config.rate_limit, state.config.rate_burst)
        self.strikes: list[float] | None = None  # times of recent refusals for rate (most sockets never get one)
        self.closing = False  # told why and being closed: further frames are read and ignored
        self.tickets: list[str] | None = None  # upload URLs issued to this connection (void when it closes)

    def refuse(self, sentence: str) -> None:
        """Send the client an error frame with ``sentence``."""
        self.state.metrics.refused.labels(reason(sentence)).inc()
        self.seat.outbox.put(error_frame(sentence))

    def _store_failed(self, what: str) -> None:
        log.warning("%s for %s: the store failed", what, self.seat.who, exc_info=True)
        self.refuse(protocol.UNAVAILABLE)

    async def serve(self, request: ClientFrame) -> None:
        """Do what ``request`` asks, or refuse it with its sentence."""
        if isinstance(request, Keepalive):
            return
        if isinstance(request, Typing):
            self._typing(request)
        elif isinstance(request, History):
            await self._history(request)
        elif isinstance(request, Read):
            await self._read(request)
        elif isinstance(request, Thread):
            await self._thread(request)
        elif isinstance(request, Key):
            await self._key(request)
        elif not self.bucket.allow():
            self._flooding()
        elif isinstance(request, Moderate | Delete):
            refusal = await self.state.moderator.handle(self.seat.channel, self.seat.handle, self.operator, request)
            if refusal is not None:
                self.refuse(refusal)
        elif self.state.moderation.muted(self.seat.channel.name, self.seat.handle):
            self.refuse(protocol.MUTED)
        elif self._plain_in_encrypted(request):
            self.refuse(protocol.PLAIN_ONLY)
        elif isinstance(request, Upload):
            await self._upload(request)
        elif isinstance(request, React | Edit) or (isinstance(request, Chat) and request.reply_to is not None):
            await self._annotate(request)
        else:
            assert isinstance(request, Chat | Private)
            await self._say(request)

    def _plain_in_encrypted(self, request: ClientFrame) -> bool:
        """Return whether ``request`` would write plain text in a channel of ``--encrypted-channels``."""
        if self.seat.channel.name not in self.state.config.encrypted_channels:
            return False
        return isinstance(request, Upload) or (isinstance(request, Chat | Private | Edit) and not request.encrypted)

    async def _key(self, request: Key) -> None:
        # Keys share the typing bucket: a signal about the connection, not a line of the log.
        if not self.typing_bucket.allow():
            self.refuse(protocol.RATE_LIMITED)
            return
        try:
            await self.state.hub.keyring.publish(self.seat.channel, self.seat.handle, request,
                                                 devices=self.state.config.jwt_secret is not None)
        except StoreError:
            self._store_failed("public key")

    def _typing(self, request: Typing) -> None:
        # Repeats of the same state only refresh its expiry and cost nothing.
        # A change is broadcast, so it is rate limited; typing is best
        # effort, and a change over the limit is dropped without a word.
        channel, outbox = self.seat.channel, self.seat.outbox
        if request.typing == channel.is_typing(outbox) or self.typing_bucket.allow():
            channel.set_typing(outbox, self.seat.handle, request.typing)

    async def _read(self, request: Read) -> None:
        # Reads share the typing bucket: signals about the reader, not lines of the log.
        if not self.typing_bucket.allow():
            self.refuse(protocol.RATE_LIMITED)
            return
        try:
            found = await self.state.hub.reading.advance(self.seat.channel, self.seat.handle, request.cursor)
        except StoreError:
            self._store_failed("read position")
            return
        if not found:
            self.refuse(protocol.BAD_AROUND)

    async def _history(self, request: History) -> None:
        channel = self.seat.channel
        try:
            if request.around is None and request.at is None and request.after is None:
                page = await channel.page(request.before, request.limit)
            else:
                page = await channel.jump(request.around, request.at, request.after, request.limit)
        except StoreError:
            self._store_failed("history")
            return
        if page is None:
            self.refuse(protocol.BAD_AROUND if request.around is not None else
                        protocol.BAD_AFTER if request.after is not None else protocol.BAD_CURSOR)
        else:
            self.seat.outbox.put(page)

    async def _thread(self, request: Thread) -> None:
        try:
            answer = await self.seat.channel.thread(request.cursor, request.limit, request.after)
        except StoreError:
            self._store_failed("thread")
            return
        if answer is None:
            self.refuse(protocol.BAD_AROUND)
        else:
            self.seat.outbox.put(answer)

    async def _annotate(self, request: React | Edit | Chat) -> None:
        annotator, channel, handle = self.state.hub.annotator, self.seat.channel, self.seat.handle
        try:
            if isinstance(request, React):
                refusal = await annotator.react(channel, handle, request)
            elif isinstance(request, Edit):
                refusal = await annotator.edit(channel, handle, request)
            else:
                assert request.reply_to is not None
                refusal = await annotator.reply(channel, handle, request.text, request.reply_to)
        except StoreError:
            self._store_failed("annotation")
            return
        if refusal is not None:
            self.refuse(refusal)
        elif isinstance(request, Chat):
            self.state.metrics.messages.labels("chat").inc()

    async def _upload(self, request: Upload) -> None:
        limit = self.state.config.max_upload_bytes
        if request.size > limit:
            self.refuse(protocol.TOO_LARGE.format(limit=megabytes(limit)))
            return
        channel, upload = self.seat.channel.name, new_id()
        ticket = {"channel": channel, "handle": self.seat.handle, "name": request.name, "size": request.size,
                  "caption": request.caption}
        try:
            await self.state.store.tickets.issue(upload, ticket, TICKET_SECONDS)
        except StoreError:
            self._store_failed("upload ticket")
            return
        self.tickets = [*(self.tickets or []), upload]
        self.seat.outbox.put(protocol.event_frame(
            "upload", {"channel": channel, "id": upload, "url": f"/api/uploads/{upload}"}))

    async def drop_tickets(self) -> None:
        """Void the upload URLs not used yet: they were for this connection only."""
        if self.tickets:
            try:
                await self.state.store.tickets.drop(self.tickets)
            except StoreError:
                log.warning("could not void the upload tickets of %s", self.seat.who, exc_info=True)

    def _flooding(self) -> None:
        self.refuse(protocol.RATE_LIMITED)
        # Told, and still flooding: a connection that keeps at it is closed.
        now = time.monotonic()
        self.strikes = [t for t in self.strikes or () if now - t <= RATE_STRIKE_WINDOW] + [now]
        if len(self.strikes) >= RATE_STRIKES:
            log.warning("closing %s: kept exceeding the rate limit", self.seat.who)
            self.seat.outbox.close_after(protocol.CLOSE_POLICY, protocol.RATE_LIMITED)
            self.closing = True

    async def _say(self, request: Chat | Private) -> None:
        state, channel, handle = self.state, self.seat.channel, self.seat.handle
        if isinstance(request, Chat):
            saved = await channel.say(handle, request.text)
        else:
            try:
                recipient = await state.membership.find(channel.name, request.to)
            except StoreError:
                self._store_failed("recipient lookup")
                return
            if recipient is None:
                self.refuse(protocol.USER_NOT_FOUND)
                return
            saved = await channel.say(handle, request.text, to=recipient)
        if saved:
            state.metrics.messages.labels("chat" if isinstance(request, Chat) else "private").inc()
        else:
            self.refuse(protocol.NOT_SAVED)
