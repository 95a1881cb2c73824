"""The commands about people: WHO (with WHOX's fields), WHOIS, USERHOST, OPER, and a connection's own modes.

User modes are a connection's, for its session: ``+i`` (invisible: a WHO by
mask leaves it out for those who share no channel with it), ``+B`` (a bot:
``bot`` tag on its lines, ``B`` in WHO, ``335`` in WHOIS) and ``+o`` (an IRC
operator, by ``OPER`` against ``--irc-operators`` only: operator of every
channel, as an account with ``op``).  Who WHO can find: the IRC connections of
this process and the people of the channels the asker sits in (pages, and IRC
clients of other processes); an exact nick also anyone seated anywhere.
"""

from __future__ import annotations

import hmac
import logging
import re
import time

from . import numerics as n
from .base import Place
from .connection import Connection
from .message import Message, line
from .seats import Seats

log = logging.getLogger("wsserver.irc")

WHOX_ORDER = "tcuihsnfdlaor"  # the fields of a WHOX reply, in the order they are sent
USER_MODES = "iBo"
OPER_TRIES = 3  # wrong OPER passwords before the connection is closed


def mask_matches(mask: str) -> re.Pattern[str]:
    """Return a pattern for an IRC mask (``*`` and ``?``), case-insensitive."""
    return re.compile("^" + re.escape(mask).replace(r"\*", ".*").replace(r"\?", ".") + "$", re.IGNORECASE)


class UserCommands:
    """WHO, WHOIS, OPER and user modes."""

    def __init__(self, door: Place, seats: Seats) -> None:
        self.door = door
        self.seats = seats
        self.state = door.state

    # ------------------------------------------------------------ WHO

    async def do_who(self, conn: Connection, message: Message) -> None:
        mask = message.params[0] if message.params else "*"
        fields = token = None
        if len(message.params) > 1 and message.params[1].startswith("%"):
            fields, _, token = message.params[1][1:].partition(",")
        for channel, nick, prefix in await self._rows(conn, mask):
            self._reply(conn, channel, nick, prefix, fields, token)
        conn.reply(n.RPL_ENDOFWHO, mask, "End of WHO list")

    async def _rows(self, conn: Connection, mask: str) -> list[tuple[str, str, str]]:
        """Return (channel shown, nick, channel prefix) of the people a WHO mask names."""
        if mask.startswith("#"):
            name = self.seats.channel_name(mask)
            if name is None or not self.seats.exists(name):
                return []
            ops = self.door.operators(name)
            inside = name in conn.members
            return [(f"#{name}", user, "@" if user.lower() in ops else "") for user in await self.door.users(name)
                    if inside or not self._invisible(user)]
        if not any(mark in mask for mark in "*?") and mask != "0":
            other = self.door.connection_of(mask)
            found = other.nick if other is not None and other.registered else await self.door.anywhere(mask)
            return [("*", found, "")] if found is not None else []
        pattern = mask_matches("*" if mask == "0" else mask)
        shared: set[str] = set()
        for channel in conn.members:
            shared.update(await self.door.users(channel))
        here = {other.nick for other in self.door.connections if other.registered and not self._invisible(other.nick)}
        return [("*", nick, "") for nick in sorted(shared | here | {conn.nick}, key=str.lower) if pattern.match(nick)]

    def _invisible(self, nick: str) -> bool:
        other = self.door.connection_of(nick)
        return other is not None and "i" in other.modes

    def flags(self, nick: str, prefix: str = "") -> str:
        """Return WHO's flags: ``H`` here or ``G`` away, ``*`` an IRC operator, ``B`` a bot, then the prefix."""
        other = self.door.connection_of(nick)
        if other is None:
            return "H" + prefix
        return ("G" if other.away else "H") + ("*" if "o" in other.modes else "") + \
            ("B" if "B" in other.modes else "") + prefix

    def _reply(self, conn: Connection, channel: str, nick: str, prefix: str, fields: str | None,
               token: str | None) -> None:
        other = self.door.connection_of(nick)
        ident = other.user if other is not None and other.user else nick.lower()
        real = other.realname if other is not None and other.realname else "web"
        if fields is None:
            conn.reply(n.RPL_WHOREPLY, channel, ident, self.door.name, self.door.name, nick, self.flags(nick, prefix),
                       f"0 {real}")
            return
        idle = str(int(time.monotonic() - other.heard)) if other is not None else "0"
        values = {"t": token or "0", "c": channel, "u": ident, "i": "255.255.255.255", "h": self.door.name,
                  "s": self.door.name, "n": nick, "f": self.flags(nick, prefix), "d": "0", "l": idle,
                  "a": conn.account_of(nick) or "0", "o": "0", "r": real}
        conn.reply(n.RPL_WHOSPCRPL, *(values[field] for field in WHOX_ORDER if field in fields))

    # ------------------------------------------------------------ WHOIS

    async def do_whois(self, conn: Connection, message: Message) -> None:
        if not message.params:
            conn.reply(n.ERR_NONICKNAMEGIVEN, "No nickname given")
            return
        nick = message.params[-1]
        other = self.door.connection_of(nick)
        if other is None or not other.registered:
            conn.reply(n.ERR_NOSUCHNICK, nick, "No such nick/channel")
            conn.reply(n.RPL_ENDOFWHOIS, nick, "End of /WHOIS list")
            return
        conn.reply(n.RPL_WHOISUSER, other.nick, other.user or other.nick.lower(), self.door.name, "*", other.realname)
        if other.members:
            ops = {name for name in other.members if other.key in self.door.operators(name)}
            conn.reply(n.RPL_WHOISCHANNELS, other.nick,
                       " ".join(("@" if name in ops else "") + f"#{name}" for name in sorted(other.members)))
        conn.reply(n.RPL_WHOISSERVER, other.nick, self.door.name, "wsserver")
        if "o" in other.modes:
            conn.reply(n.RPL_WHOISOPERATOR, other.nick, "is an IRC operator")
        if "B" in other.modes:
            conn.reply(n.RPL_WHOISBOT, other.nick, "is a bot")
        if other.account is not None:
            conn.reply(n.RPL_WHOISACCOUNT, other.nick, other.account.handle, "is logged in as")
        if other.away:
            conn.reply(n.RPL_AWAY, other.nick, other.away)
        conn.reply(n.RPL_WHOISIDLE, other.nick, str(int(time.monotonic() - other.heard)),
                   str(int(self.door.started)), "seconds idle, signon time")
        conn.reply(n.RPL_ENDOFWHOIS, other.nick, "End of /WHOIS list")

    async def do_userhost(self, conn: Connection, message: Message) -> None:
        """``USERHOST nick...`` (at most 5): ``nick[*]=+user@host`` (``-`` away, ``*`` an IRC operator)."""
        if conn.lacks(message):
            return
        found = []
        for nick in message.params[:5]:
            other = self.door.connection_of(nick)
            if other is not None and other.registered:
                oper, here = "*" if "o" in other.modes else "", "-" if other.away else "+"
                found.append(f"{other.nick}{oper}={here}{other.user or other.key}@{self.door.name}")
        conn.reply(n.RPL_USERHOST, " ".join(found))

    # ------------------------------------------------------------ OPER and user modes

    async def do_oper(self, conn: Connection, message: Message) -> None:
        if conn.lacks(message, 2):
            return
        configured = self.state.config.irc_operators
        if not configured:
            conn.reply(n.ERR_NOOPERHOST, "No IRC operators here (--irc-operators)")
            return
        name, password = message.params[0], message.params[1]
        right = False
        for known, secret in configured:  # every entry compared, in constant time
            right |= hmac.compare_digest(known.encode(), name.encode()) & \
                hmac.compare_digest(secret.encode(), password.encode())
        if not right:
            conn.oper_failures += 1
            log.warning("wrong OPER password for %r from %s", name[:32], conn.who)
            conn.reply(n.ERR_PASSWDMISMATCH, "Password incorrect")
            if conn.oper_failures >= OPER_TRIES:
                conn.error("Too many wrong OPER passwords")
            return
        conn.modes.add("o")
        conn.operator_of = True
        for channel, (member, _) in conn.members.items():
            member.operator = True
            self.door.seated(conn, channel, True)
        log.info("%s is an IRC operator (OPER %s)", conn.who, name)
        conn.reply(n.RPL_YOUREOPER, "You are now an IRC operator")
        conn.send(line("MODE", conn.nick, "+o", source=conn.mask(conn.nick)))

    def _unoper(self, conn: Connection) -> None:
        """An IRC operator's ``-o``: back to what its identity operates."""
        account = conn.account
        conn.operator_of = (account.op or set(account.ops)) if account is not None else False
        for channel, (member, _) in conn.members.items():
            if not self.door.operates(conn, channel):
                member.operator = False
                self.door.unseated(conn, channel)

    def user_mode(self, conn: Connection, target: str, changes: list[str]) -> None:
        """``MODE nick [+i|-i|+B|-B|-o]``: a connection's own modes (``+o`` only by OPER)."""
        if target.lower() != conn.key:
            conn.reply(n.ERR_USERSDONTMATCH, "Cant change mode for other users")
            return
        if not changes:
            conn.reply(n.RPL_UMODEIS, "+" + "".join(sorted(conn.modes)))
            return
        adding, done, unknown = True, [], False
        for char in changes[0]:
            if char in "+-":
                adding = char == "+"
            elif char not in USER_MODES:
                unknown = True
            elif (char in conn.modes) != adding and not (char == "o" and adding):
                (conn.modes.add if adding else conn.modes.discard)(char)
                done.append(("+" if adding else "-") + char)
                if char == "o":
                    self._unoper(conn)
        if unknown:
            conn.reply(n.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
        if done:
            conn.send(line("MODE", conn.nick, "".join(done), source=conn.mask(conn.nick)))
