"""Registration and the connection's own commands: CAP, PASS, NICK, USER, AUTHENTICATE (SASL PLAIN), REGISTER,
PING, PONG, QUIT, AWAY."""

from __future__ import annotations

import base64
import binascii
import logging

from ..config import HANDLE_HINT
from ..errors import Closing
from ..protocol import Code, Refused
from ..store.base import StoreError
from . import numerics as n
from .base import Place
from .connection import CAPS, REALNAME_MOST, Connection
from .message import Message, line
from .seats import Seats

log = logging.getLogger("wsserver.irc")

SASL_PAYLOAD_MOST = 400 * 4  # bytes of a PLAIN payload (four AUTHENTICATE lines)
# draft/account-registration's FAIL codes for the sign-up's refusals (the rest: REGISTRATION_DISABLED)
REGISTER_FAILS = {Code.HANDLE_IN_USE: "ACCOUNT_EXISTS", Code.BAD_HANDLE: "BAD_ACCOUNT_NAME",
                  Code.BAD_PASSWORD: "WEAK_PASSWORD"}


class Registration:
    """The commands of a connection before (and around) registration."""

    def __init__(self, door: Place, seats: Seats) -> None:
        self.door = door
        self.seats = seats
        self.state = door.state

    # ------------------------------------------------------------ CAP

    def _cap_list(self, conn: Connection) -> dict[str, str | None]:
        caps = dict(CAPS)
        if self.state.accounts is not None:
            caps["sasl"] = "PLAIN"
            caps["draft/account-registration"] = "before-connect" if self.state.config.sign_up == "open" else ""
        return caps

    async def do_cap(self, conn: Connection, message: Message) -> None:
        sub = (message.params[0] if message.params else "").upper()
        caps = self._cap_list(conn)
        if sub == "LS":
            conn.negotiating = not conn.registered
            version = int(message.params[1]) if len(message.params) > 1 and message.params[1].isdigit() else 0
            conn.cap_version = max(conn.cap_version, version)
            if version >= 302:
                conn.caps.add("cap-notify")
            words = [name if value is None or version < 302 or value == "" else f"{name}={value}"
                     for name, value in caps.items()]
            self._cap_lines(conn, "LS", words)
        elif sub == "LIST":
            self._cap_lines(conn, "LIST", sorted(conn.caps))
        elif sub == "REQ":
            conn.negotiating = not conn.registered
            wanted = (message.params[1] if len(message.params) > 1 else "").split()
            names = [name.removeprefix("-") for name in wanted]
            if not wanted or any(name not in caps for name in names):
                conn.send(line("CAP", conn.nick, "NAK", " ".join(wanted), source=conn.server_name))
                return
            for word in wanted:
                if word.startswith("-"):
                    conn.caps.discard(word[1:])
                else:
                    conn.caps.add(word)
            conn.send(line("CAP", conn.nick, "ACK", " ".join(wanted), source=conn.server_name))
        elif sub == "END":
            conn.negotiating = False
            await conn.start_session()
        else:
            conn.reply("410", sub or "*", "Invalid CAP command")

    def _cap_lines(self, conn: Connection, sub: str, words: list[str]) -> None:
        chunks: list[list[str]] = [[]]
        for word in words:
            if sum(len(w) + 1 for w in chunks[-1]) + len(word) > 380:
                chunks.append([])
            chunks[-1].append(word)
        for index, chunk in enumerate(chunks):
            more = ["*"] if index < len(chunks) - 1 and conn.cap_version >= 302 else []
            conn.send(line("CAP", conn.nick, sub, *more, " ".join(chunk), source=conn.server_name))

    # ------------------------------------------------------------ who the client is

    async def do_pass(self, conn: Connection, message: Message) -> None:
        if conn.registered:
            conn.reply(n.ERR_ALREADYREGISTERED, "You may not reregister")
        elif not message.params:
            conn.reply(n.ERR_NEEDMOREPARAMS, "PASS", "Not enough parameters")
        else:
            conn.password = message.params[0]

    async def do_nick(self, conn: Connection, message: Message) -> None:
        if not message.params or not message.params[0]:
            conn.reply(n.ERR_NONICKNAMEGIVEN, "No nickname given")
            return
        nick = message.params[0]
        if conn.account is not None or (conn.identity and conn.registered):
            if nick != conn.nick:
                conn.reply(n.ERR_ERRONEUSNICKNAME, nick, "The nick is the account's handle")
            return
        problem = conn.nick_problem(nick)
        if problem is not None:
            conn.reply(problem, nick, "Nickname is already in use" if problem == n.ERR_NICKNAMEINUSE
                       else f"Erroneous nickname: {HANDLE_HINT}")
            return
        if conn.registered:
            if self.state.accounts is not None and await self.door.anywhere_account(nick):
                conn.reply(n.ERR_NICKNAMEINUSE, nick, "That nick is an account's: sign in with SASL")
                return
            if conn.members:
                conn.fail("NICK", "A nick is a handle in the channels it sits in: part them to change it",
                          "CANNOT_CHANGE_NICK")
                return
            self._rename(conn, nick)
            return
        conn.nick = nick
        await conn.start_session()

    def _rename(self, conn: Connection, nick: str) -> None:
        """A registered connection in no channel takes another nick: ``NICK``, and MONITOR's watchers are told."""
        old = conn.mask(conn.nick)
        if nick.lower() == conn.key:  # only its case: the same nick for MONITOR
            conn.nick = nick
            conn.send(line("NICK", nick, source=old))
            return
        self.door.monitor.offline(conn)
        if self.door.nicks.get(conn.key) is conn:
            del self.door.nicks[conn.key]
        conn.nick = nick
        self.door.nicks[conn.key] = conn
        conn.send(line("NICK", nick, source=old))
        self.door.monitor.online(conn)

    async def do_user(self, conn: Connection, message: Message) -> None:
        if conn.registered:
            conn.reply(n.ERR_ALREADYREGISTERED, "You may not reregister")
            return
        if len(message.params) < 4 or not message.params[0] or not message.params[3]:
            conn.reply(n.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
            return
        conn.user, conn.realname = message.params[0][:10], message.params[3][:REALNAME_MOST]
        await conn.start_session()

    async def do_authenticate(self, conn: Connection, message: Message) -> None:
        if self.state.accounts is None or not message.params:
            conn.reply(n.ERR_SASLFAIL, "SASL authentication failed")
            return
        payload = message.params[0]
        if conn.sasl is None:
            if conn.account is not None:
                conn.reply(n.ERR_SASLALREADY, "You have already authenticated")
                return
            if payload.upper() != "PLAIN":
                conn.reply(n.RPL_SASLMECHS, "PLAIN", "are available SASL mechanisms")
                conn.reply(n.ERR_SASLFAIL, "SASL authentication failed")
                return
            conn.sasl = ""
            conn.send(line("AUTHENTICATE", "+"))
            return
        if payload == "*":
            conn.sasl = None
            conn.reply(n.ERR_SASLABORTED, "SASL authentication aborted")
            return
        if len(payload) > 400:
            conn.sasl = None
            conn.reply(n.ERR_SASLTOOLONG, "SASL message too long")
            return
        if len(conn.sasl) + len(payload) > SASL_PAYLOAD_MOST:  # lines of 400 past what PLAIN can need
            conn.sasl = None
            conn.reply(n.ERR_SASLFAIL, "SASL authentication failed")
            return
        conn.sasl += "" if payload == "+" else payload
        if len(payload) == 400:
            return  # more to come
        data, conn.sasl = conn.sasl, None
        plain = decode_plain(data)
        if plain is not None and conn.registered and conn.members and plain[0].lower() != conn.key:
            conn.send(line("NOTICE", conn.nick, "Signing in makes the nick the account's handle: part your "
                           "channels first", source=conn.server_name))
            plain = None
        if plain is None or not await self.seats.check(conn, *plain):
            conn.reply(n.ERR_SASLFAIL, "SASL authentication failed")
            return
        handle = conn.account.handle
        conn.reply(n.RPL_LOGGEDIN, conn.mask(handle), handle, f"You are now logged in as {handle}")
        conn.reply(n.RPL_SASLSUCCESS, "SASL authentication successful")
        if conn.registered and handle != conn.nick:  # signed in after registering: the nick becomes the handle
            self._rename(conn, handle)

    async def do_register(self, conn: Connection, message: Message) -> None:
        """draft/account-registration: ``REGISTER <account> <email> <password>`` under the sign-up mode."""
        accounts = self.state.accounts
        if accounts is None or len(message.params) < 3:
            conn.fail("REGISTER", "Accounts are not on" if accounts is None else "Not enough parameters",
                      "TEMPORARILY_UNAVAILABLE" if accounts is None else "NEED_MORE_PARAMS")
            return
        handle = conn.nick if message.params[0] == "*" else message.params[0]
        password = message.params[2]
        try:
            made = await accounts.sign_up(handle, password, None, conn.address)
        except StoreError:
            conn.fail("REGISTER", Code.UNAVAILABLE.sentence, "TEMPORARILY_UNAVAILABLE")
            return
        if isinstance(made, Refused):
            conn.fail("REGISTER", made.sentence, REGISTER_FAILS.get(made.code, "REGISTRATION_DISABLED"))
            return
        await accounts.store.drop_sessions(made.account.handle)  # IRC keeps no cookie
        conn.account = made.account
        conn.nick, conn.identity = made.account.handle, True
        conn.send(line("REGISTER", "SUCCESS", made.account.handle, "Account created", source=conn.server_name))
        if conn.registered:
            conn.reply(n.RPL_LOGGEDIN, conn.mask(conn.nick), conn.nick, f"You are now logged in as {conn.nick}")

    # ------------------------------------------------------------ the line itself

    async def do_ping(self, conn: Connection, message: Message) -> None:
        if conn.lacks(message):
            return
        await self.door.settled(conn)  # what it caused has reached every member here first
        conn.send(line("PONG", conn.server_name, message.params[0], source=conn.server_name))

    async def do_pong(self, conn: Connection, message: Message) -> None:
        return

    async def do_quit(self, conn: Connection, message: Message) -> None:
        reason = message.params[0] if message.params else "Client quit"
        conn.quit_reason = f"Quit: {reason}"
        conn.send(line("ERROR", f"Closing link: {reason}"))
        raise Closing(f"quit: {reason[:100]}")

    async def do_away(self, conn: Connection, message: Message) -> None:
        text = message.params[0] if message.params and message.params[0] else None
        conn.away = text
        if text is None:
            conn.reply(n.RPL_UNAWAY, "You are no longer marked as being away")
        else:
            conn.reply(n.RPL_NOWAWAY, "You have been marked as being away")
        said = line("AWAY", *([text] if text else []), source=conn.mask(conn.nick))
        self.door.monitor.tell(conn, said, "away-notify")

    async def do_setname(self, conn: Connection, message: Message) -> None:
        """IRCv3 ``setname``: ``SETNAME :new real name`` (at most :data:`REALNAME_MOST` characters)."""
        name = message.params[0] if message.params else ""
        if not name.strip() or len(name) > REALNAME_MOST:
            conn.fail("SETNAME", f"A real name is 1 to {REALNAME_MOST} characters", "INVALID_REALNAME")
            return
        conn.realname = name
        self.door.monitor.tell(conn, line("SETNAME", name, source=conn.mask(conn.nick)), "setname", itself=True)


def decode_plain(payload: str) -> tuple[str, str] | None:
    """Return (account, password) of a SASL PLAIN payload (base64 of ``authzid NUL authcid NUL password``)."""
    try:
        parts = base64.b64decode(payload, validate=True).decode("utf-8").split("\x00")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if len(parts) != 3:
        return None
    authzid, authcid, password = parts
    if authzid and authzid != authcid:
        return None
    return authcid, password

