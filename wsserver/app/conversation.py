"""One connection's side of the conversation: each client frame turned into a call on its member.

The socket handler (:mod:`wsserver.app.chat`) reads frames and hands each
parsed request (:mod:`wsserver.app.frames`) to the connection's
:class:`Conversation`, which calls the :class:`~wsserver.hub.member.Member`
and turns what it answers into frames on the seat's outbox: a history page,
an upload URL, or an error frame with the refusal's sentence (counted by its
code's label).  A line that was written comes back to everyone through the
channel's reader, as any line.
"""

from __future__ import annotations

from ..channels.fanout import Outbox
from ..hub.member import Kept, Member
from ..metrics import Metrics
from ..protocol import Code, Refused, error_frame, event_frame
from .frames import (
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
    Topic,
    Typing,
    Upload,
)


class Conversation:
    """Serve one connection's requests through its member: chat, private lines, typing, history, moderation."""

    __slots__ = ("member", "metrics", "outbox")

    def __init__(self, member: Member, metrics: Metrics) -> None:
        self.member = member
        self.metrics = metrics
        self.outbox: Outbox = member.seat.outbox

    @property
    def closing(self) -> bool:
        """Whether the connection was told why and is being closed (further frames are read and ignored)."""
        return self.member.closing

    def refuse(self, refused: Refused | Code) -> None:
        """Send the client an error frame with the refusal's sentence; count it by its code."""
        if isinstance(refused, Code):
            refused = Refused.of(refused)
        self.metrics.refused.labels(refused.code.label).inc()
        self.outbox.put(error_frame(refused.sentence))

    def _answer(self, answer: str | Refused | None) -> None:
        if isinstance(answer, Refused):
            self.refuse(answer)
        elif answer is not None:
            self.outbox.put(answer)

    async def serve(self, request: ClientFrame) -> None:
        """Do what ``request`` asks, or refuse it with its sentence."""
        member = self.member
        if isinstance(request, Keepalive):
            return
        if isinstance(request, Typing):
            member.typing(request.typing)
        elif isinstance(request, History):
            self._answer(await member.history(request.before, request.limit, request.around, request.at,
                                              request.after))
        elif isinstance(request, Read):
            self._answer(await member.read(request.cursor))
        elif isinstance(request, Thread):
            self._answer(await member.thread(request.cursor, request.limit, request.after))
        elif isinstance(request, Key):
            self._answer(await member.key(request))
        elif isinstance(request, Moderate):
            self._answer(await member.moderate(request.action, request.handle, request.reason, request.duration))
        elif isinstance(request, Delete):
            self._answer(await member.delete(request.cursor, private=request.private))
        elif isinstance(request, Topic):
            self._answer(await member.set_topic(request.text))
        elif isinstance(request, Upload):
            upload = await member.upload(request.name, request.size, request.caption)
            self._answer(upload if isinstance(upload, Refused) else event_frame(
                "upload", {"channel": member.channel.name, "id": upload, "url": f"/api/uploads/{upload}"}))
        elif isinstance(request, React):
            self._answer(await member.react(request.cursor, request.emoji, request.remove))
        elif isinstance(request, Edit):
            self._answer(await member.edit(request.cursor, request.text, request.encrypted))
        elif isinstance(request, Private):
            sent = await member.private(request.to, request.text, request.encrypted)
            self._answer(event_frame("kept", {"channel": member.channel.name, "to": sent.to, "message": sent.sentence})
                         if isinstance(sent, Kept) else sent)
        else:
            assert isinstance(request, Chat)
            self._answer(await member.say(request.text, request.encrypted, request.reply_to))
