"""Channel modes as far as they map onto the chat: ``+o`` (a channel operator of this door's connections, for
their session) and ``+b`` (a ban of the chat's moderation, by the handle of a ``nick!*@*`` mask)."""

from __future__ import annotations

from ..protocol import Code
from . import numerics as n
from .base import Place
from .connection import Connection
from .message import line


class Modes:
    """MODE on a channel."""

    def __init__(self, door: Place) -> None:
        self.door = door

    async def change(self, conn: Connection, name: str, target: str, modes: str, args: list[str]) -> None:
        """Apply ``modes`` (``+o nick``, ``-b mask``, ``b``: the ban list) to channel ``name``."""
        adding, queue = True, list(args)
        for char in modes:
            if char in "+-":
                adding = char == "+"
            elif char == "b":
                if not queue:
                    self.ban_list(conn, name, target)
                    continue
                await self._ban(conn, name, target, adding, queue.pop(0))
            elif char == "o":
                if not queue:
                    conn.reply(n.ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters")
                    return
                self._op(conn, name, target, adding, queue.pop(0))
            else:
                conn.reply("472", char, "is not a mode of this server: channel modes here are +o and +b")

    def ban_list(self, conn: Connection, name: str, target: str) -> None:
        moderation = self.door.state.hub.moderator.state
        for kind, restriction in moderation.in_force(name):
            if kind == "ban":
                conn.reply(n.RPL_BANLIST, target, f"{restriction.handle}!*@*", restriction.by, "0")
        conn.reply(n.RPL_ENDOFBANLIST, target, "End of channel ban list")

    async def _ban(self, conn: Connection, name: str, target: str, adding: bool, mask: str) -> None:
        entry = conn.members.get(name)
        if entry is None:
            conn.reply(n.ERR_NOTONCHANNEL, target, "You're not on that channel")
            return
        handle = mask.split("!", 1)[0]
        refused = await entry[0].moderate("ban" if adding else "unban", handle)
        if refused is None:
            self._tell(name, conn, f"{'+' if adding else '-'}b", f"{handle}!*@*")
        elif refused.code is Code.NOT_OPERATOR:
            conn.reply(n.ERR_CHANOPRIVSNEEDED, target, refused.sentence)
        else:
            conn.fail("MODE", refused.sentence)

    def _op(self, conn: Connection, name: str, target: str, adding: bool, nick: str) -> None:
        entry = conn.members.get(name)
        if entry is None or not entry[0].operator:
            conn.reply(n.ERR_CHANOPRIVSNEEDED, target, Code.NOT_OPERATOR.sentence)
            return
        other = self.door.connection_of(nick)
        seat = other.members.get(name) if other is not None else None
        if other is None or seat is None:
            conn.reply(n.ERR_USERNOTINCHANNEL, nick, target, "They aren't on that channel (on IRC, here)")
            return
        seat[0].operator = adding
        ops = self.door.ops.setdefault(name, set())
        (ops.add if adding else ops.discard)(other.key)
        self._tell(name, conn, f"{'+' if adding else '-'}o", other.nick)

    def _tell(self, name: str, actor: Connection, change: str, argument: str) -> None:
        for other in self.door.connections:
            if name in other.members:
                other.send(line("MODE", f"#{name}", change, argument, source=actor.mask(actor.nick)))
