"""One line of an IRC connection served: parsed, labeled if the client asks (labeled-response), and handed to
the command's handler (:mod:`~wsserver.irc.registration`, :mod:`~wsserver.irc.channels`,
:mod:`~wsserver.irc.history`); an unknown command gets ``421``."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import Closing
from ..protocol import Code
from . import numerics as n
from .base import Place
from .channels import ChannelCommands
from .connection import Connection
from .history import History
from .message import Message
from .monitor import Monitor
from .registration import Registration
from .seats import Seats
from .users import UserCommands

log = logging.getLogger("wsserver.irc")

LABELS = itertools.count(1)
REGISTRATION = {"CAP", "NICK", "USER", "PASS", "PING", "PONG", "QUIT", "AUTHENTICATE", "REGISTER"}


class Commands:
    """Every IRC command, for every connection of a door."""

    def __init__(self, door: Place, seats: Seats, monitor: Monitor) -> None:
        self.door = door
        self.history = History(door, seats)
        users = UserCommands(door, seats)
        self.handlers: list[Any] = [Registration(door, seats), ChannelCommands(door, seats, self.history, users),
                                    users, self.history, monitor]

    def _handler(self, command: str) -> Callable[[Connection, Message], Awaitable[None]] | None:
        for handlers in self.handlers:
            found = getattr(handlers, f"do_{command.lower()}", None)
            if found is not None:
                return found  # type: ignore[no-any-return]
        return None

    async def serve(self, conn: Connection, raw: bytes) -> None:
        """Do what one line asks (nothing for an empty one)."""
        if not raw.strip():
            return
        message = conn.parse(raw)
        if message is None:
            return
        label = message.tags.get("label") if "labeled-response" in conn.caps else None
        command = message.command
        if not conn.registered and command not in REGISTRATION:
            conn.reply(n.ERR_NOTREGISTERED, "You have not registered")
            return
        handler = self._handler(command)
        if label:
            conn.hold()
        try:
            if handler is None:
                conn.reply(n.ERR_UNKNOWNCOMMAND, command, "Unknown command")
            else:
                await handler(conn, message)
            if label:
                await self.door.settled(conn)  # an echo of its line answers it too
        except Closing:
            raise
        except Exception:
            log.exception("IRC command %s of %s failed", command, conn.who)
            conn.fail(command, Code.SERVER_ERROR.sentence, "INTERNAL_ERROR")
        finally:
            if label:
                conn.release(label, f"l{next(LABELS)}")
