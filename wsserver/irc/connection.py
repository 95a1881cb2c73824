"""One IRC connection: lines in and out, registration, and the channels it sits in as a member.

The connection reads one line at a time (at most 512 bytes besides the tags;
``417`` for more), answers registration (``CAP``, ``PASS``, ``NICK``,
``USER``, ``AUTHENTICATE``) itself, and hands every other command to
:mod:`wsserver.irc.commands`.  What it sends goes straight to its transport;
one that stops reading is dropped as a web socket is (``Too slow``).  Each
channel it joins is a :class:`~wsserver.hub.member.Member` with an
:class:`~wsserver.irc.outbox.IrcOutbox` that says the channel's frames as IRC
messages.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from typing import Any

from ..config import valid_handle
from ..errors import Closing
from ..hub.member import Member
from ..protocol import Code
from . import numerics as n
from .base import Place
from .message import CLIENT_TAG_BYTES, LINE_BYTES, Message, line, parse
from .outbox import ACTION_PREFIX, NOTICE_PREFIX, TEXT_BYTES, IrcOutbox, split_text

log = logging.getLogger("wsserver.irc")  # docs/operations.md

# Timeouts
REALNAME_MOST = 100  # characters of a real name (USER, SETNAME; ISUPPORT NAMELEN)
REGISTRATION_SECONDS = 60.0  # to send NICK and USER (and CAP END, SASL)
PING_AFTER = 90.0  # quiet this long: the server pings
PING_TIMEOUT = 60.0  # then this long without an answer: closed
# Limits
SEND_BUFFER = 1024 * 1024  # bytes unsent to a client that stops reading: past this it is dropped
READ_LIMIT = LINE_BYTES + CLIENT_TAG_BYTES + 4096  # a line longer than this is cut off, not read into memory

CAPS: dict[str, str | None] = {
    "message-tags": None, "server-time": None, "echo-message": None, "batch": None, "labeled-response": None,
    "account-tag": None, "extended-join": None, "multi-prefix": None, "away-notify": None,
    "draft/chathistory": None, "draft/event-playback": None, "draft/read-marker": None, "draft/message-redaction": None,
    "cap-notify": None, "userhost-in-names": None, "extended-monitor": None,
    "setname": None,
}


def relay_room(source: str, command: str, target: str) -> int:
    """Return the bytes of text that fit in one message from ``source`` (``nick!user@host``) to ``target``."""
    return LINE_BYTES - 2 - len(f":{source} {command} {target} :".encode())


class Connection:
    """One IRC client: its caps, nick and account, the channels it sits in, and the lines to and from it."""

    def __init__(self, door: Place, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str) -> None:
        self.door = door
        self.reader, self.writer = reader, writer
        self.address = address
        self.nick = "*"
        self.user: str | None = None
        self.realname = ""
        self.registered = False
        self.negotiating = False  # between CAP LS/REQ and CAP END
        self.caps: set[str] = set()
        self.cap_version = 0
        self.password: str | None = None  # PASS
        self.account: Any = None  # with accounts: the Account of SASL or PASS
        self.identity = False  # a stable identity (an account or a token): its devices share seats
        self.operator_of: set[str] | bool = False
        self.sasl: str | None = None  # a SASL exchange under way: its mechanism
        self.away: str | None = None
        self.modes: set[str] = set()  # its user modes: i, B, o (wsserver.irc.users)
        self.oper_failures = 0
        self.members: dict[str, tuple[Member, IrcOutbox]] = {}
        self.held: list[str] | None = None  # labeled-response: what answers the command being served, held
        self.closing = False
        self.heard = time.monotonic()
        self.opened = time.time()  # a guest's private history starts here (wsserver.irc.direct)
        self.follower: IrcOutbox | None = None  # its direct lines (the home channel's private log), once registered
        self.monitoring: set[str] = set()  # nicks it MONITORs (lower-cased)
        self.join_markers: dict[str, str] = {}  # channel: the read marker to say on joining it (draft/read-marker)
        self.quit_reason = "Connection closed"
        self.gone: set[str] = set()  # nicks this client was told quit (no PART for them as well)
        self.private_seen: deque[str] = deque(maxlen=64)  # cursors of private lines said (two outboxes may get one)

    # ------------------------------------------------------------ who

    @property
    def key(self) -> str:
        """Return the nick lower-cased (ASCII case mapping)."""
        return self.nick.lower()

    @property
    def server_name(self) -> str:
        return str(self.door.name)

    @property
    def plays_back(self) -> bool:
        """Whether a join plays back the last lines (with their times): not for clients that ask with CHATHISTORY."""
        return "server-time" in self.caps and "draft/chathistory" not in self.caps

    def mask(self, handle: str) -> str:
        """Return the source of a handle's messages: ``nick!user@host`` (an IRC client's USER, else the handle)."""
        other = self.door.connection_of(handle)
        user = other.user if other is not None and other.user else handle.lower()
        return f"{handle}!{user}@{self.door.name}"

    def tags(self, stamp: str | None, cursor: str | None, ordinal: int = 0) -> dict[str, str]:
        """Return the tags of a line for this client: its time and msgid, as its caps allow."""
        tags = {}
        if stamp is not None and "server-time" in self.caps:
            tags["time"] = self.door.time_tag(stamp, ordinal)
        if cursor is not None and "message-tags" in self.caps:
            tags["msgid"] = cursor
        return tags

    # ------------------------------------------------------------ sending

    def send(self, text: str) -> None:
        """Write one message; a client whose unread bytes pass :data:`SEND_BUFFER` is dropped."""
        if self.held is not None:
            self.held.append(text)
            return
        if self.closing:
            return
        transport = self.writer.transport
        if transport.is_closing():
            return
        if transport.get_write_buffer_size() > SEND_BUFFER:
            log.warning("closing %s: stalled reader", self.who)
            self.closing = True
            transport.abort()
            return
        self.writer.write(text.encode("utf-8", errors="replace") + b"\r\n")

    def reply(self, numeric: str, *params: str) -> None:
        """Send a numeric reply to this client (its nick first)."""
        self.send(line(numeric, self.nick, *params, source=self.server_name))

    def hold(self) -> None:
        """Hold what is sent from now on: it answers a labeled command (labeled-response)."""
        self.held = []

    def release(self, label: str, batch: str) -> None:
        """Send what was held with the label: an ACK for nothing, the label on one message, or a batch of all."""
        held, self.held = self.held or [], None
        if not held:
            self.send(f"@label={label} " + line("ACK", source=self.server_name))
        elif len(held) == 1 or "batch" not in self.caps:
            self.send(_tagged(held[0], f"label={label}"))
            for text in held[1:]:
                self.send(text)
        else:
            self.send(f"@label={label} " + line("BATCH", f"+{batch}", "labeled-response", source=self.server_name))
            for text in held:  # a line of a batch of its own (chathistory's) is in that one
                self.send(text if text.startswith(("@batch=", "@label=")) or ";batch=" in text.split(" ", 1)[0]
                          else _tagged(text, f"batch={batch}"))
            self.send(line("BATCH", f"-{batch}", source=self.server_name))

    def lacks(self, message: Message, count: int = 1) -> bool:
        """Return whether ``message`` has fewer than ``count`` parameters, said with ``461``."""
        if len(message.params) >= count:
            return False
        self.reply(n.ERR_NEEDMOREPARAMS, message.command, "Not enough parameters")
        return True

    def fail(self, command: str, sentence: str, code: str = "REFUSED", *context: str) -> None:
        """Say a command was refused: ``FAIL`` (standard replies) with its context and the chat's sentence."""
        self.send(line("FAIL", command, code, *context, sentence, source=self.server_name))

    def error(self, reason: str) -> None:
        """Say ``ERROR :reason`` and end the connection."""
        self.send(line("ERROR", reason))
        raise Closing(reason)

    def say_text(self, handle: str, target: str, text: str, tags: dict[str, str]) -> None:
        """Send a chat line as PRIVMSG (an action as CTCP ACTION), split into lines an IRC client takes."""
        account = self.account_of(handle) if "account-tag" in self.caps else None
        if account is not None:
            tags = {**tags, "account": account}
        author = self.door.connection_of(handle)
        if author is not None and "B" in author.modes and "message-tags" in self.caps:
            tags = {**tags, "bot": ""}
        action, notice = text.startswith(ACTION_PREFIX), text.startswith(NOTICE_PREFIX)
        if action or notice:
            text = text[len(ACTION_PREFIX if action else NOTICE_PREFIX):]
        command, source = "NOTICE" if notice else "PRIVMSG", self.mask(handle)
        room = relay_room(source, command, target) - (len("\x01ACTION \x01") if action else 0)
        for part in split_text(text, max(room, TEXT_BYTES)):
            self.send(line(command, target, f"\x01ACTION {part}\x01" if action else part, source=source, tags=tags))
            tags = {key: value for key, value in tags.items() if key != "msgid"}  # the first part names the line

    def account_of(self, handle: str) -> str | None:
        """Return the account a handle's lines come from: with accounts every handle's, but a guest's (None)."""
        if self.door.state.accounts is None:
            return None
        other = self.door.connection_of(handle)
        return None if other is not None and other.account is None and not other.identity else handle

    def join_line(self, handle: str, channel: str) -> str:
        if "extended-join" in self.caps:
            other = self.door.connection_of(handle)
            real = other.realname if other is not None and other.realname else "web"
            return line("JOIN", f"#{channel}", self.account_of(handle) or "*", real, source=self.mask(handle))
        return line("JOIN", f"#{channel}", source=self.mask(handle))

    def joined(self, channel: str, users: list[str]) -> None:
        """Say this client joined ``channel``: JOIN, the topic, the names."""
        self.send(self.join_line(self.nick, channel))
        marker = self.join_markers.pop(channel, None)
        if marker is not None:
            self.send(line("MARKREAD", f"#{channel}", marker, source=self.server_name))
        self.door.seats.topic_reply(self, channel, joining=True)
        self.door.seats.names_reply(self, channel, users)

    async def tell_marker(self, channel: str) -> None:
        """Say the identity's read marker in ``channel`` (it moved: another session, or a page, moved it)."""
        entry = self.members.get(channel)
        if entry is not None:
            marker = await self.door.seats.read_marker(self, entry[0].channel)
            self.send(line("MARKREAD", f"#{channel}", marker, source=self.server_name))

    def removed(self, channel: str, reason: str) -> None:
        """The hub closed this client's member in ``channel`` (a kick, a ban, a sign-out): say so, and leave it."""
        if reason == Code.RATE_LIMITED.sentence:
            return  # the command that went over says so, and the third time closes with Excess flood
        if reason in (Code.SIGNED_OUT.sentence, Code.ACCOUNT_CLOSED.sentence):
            self.send(line("ERROR", reason))
            self.closing = True
            self.writer.transport.close()
            return
        why = reason.split(": ", 1)[1] if ": " in reason else reason  # Code.KICKED and its ": WHY"
        self.send(line("KICK", f"#{channel}", self.nick, why, source=self.server_name))
        entry = self.members.pop(channel, None)
        if entry is not None:
            self.door.later(entry[0].leave())
            self.door.later(self.door.seats.keep(self, channel, False))  # kicked or banned: not joined again

    def reactions(self, channel: str, cursor: str, reactions: dict[str, list[str]], seen: dict[str, list[str]]) -> None:
        """Say a line's reactions changed: a TAGMSG ``+draft/react`` for each one not in ``seen`` (the state before)."""
        for emoji, handles in reactions.items():
            for handle in handles:
                if handle not in seen.get(emoji, ()) and handle.lower() != self.key:
                    self.send(line("TAGMSG", f"#{channel}", source=self.mask(handle),
                                   tags={"+draft/react": emoji, "+draft/reply": cursor}))

    @property
    def who(self) -> str:
        return f"{self.nick} ({self.address}, IRC)"

    # ------------------------------------------------------------ reading

    async def run(self) -> None:
        """Serve the client until it quits, breaks the rules or goes away; then give every seat back."""
        try:
            await self._read_all()
        except Closing as closed:
            log.info("IRC connection %s ended: %s", self.who, closed)
        except (ConnectionError, asyncio.IncompleteReadError):
            log.info("IRC connection %s lost", self.who)
        finally:
            self.closing = True
            if self.registered:
                self.door.quit(self)
            await self.leave_all()
            self.door.forget(self)
            self.writer.close()

    async def leave_all(self) -> None:
        members, self.members = list(self.members.values()), {}
        for member, _ in members:
            await member.leave()

    async def _read_all(self) -> None:
        started = time.monotonic()
        pinged = 0.0
        while not self.closing:
            wait = REGISTRATION_SECONDS - (time.monotonic() - started) if not self.registered else \
                (PING_TIMEOUT if pinged else PING_AFTER)
            try:
                raw = await asyncio.wait_for(self._read_line(), max(wait, 0.1))
            except TimeoutError:
                if not self.registered:
                    self.error("Registration timed out")
                if pinged:
                    self.error(f"Ping timeout: {int(PING_TIMEOUT)} seconds")
                pinged = time.monotonic()
                self.send(line("PING", self.server_name))
                continue
            if raw is None:
                return
            pinged = 0.0
            self.heard = time.monotonic()
            await self.door.commands.serve(self, raw)

    async def _read_line(self) -> bytes | None:
        """Return the next line (without CR LF), or None at the end; a line past the limits is refused whole."""
        try:
            data = await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            return exc.partial or None
        except asyncio.LimitOverrunError as exc:
            await self.reader.readexactly(exc.consumed)  # drop what was read of it, then the rest of the line
            while True:
                try:
                    await self.reader.readuntil(b"\n")
                    break
                except asyncio.LimitOverrunError as more:
                    await self.reader.readexactly(more.consumed)
            self.reply(n.ERR_INPUTTOOLONG, "Input line was too long")
            return b""
        return data.rstrip(b"\r\n")

    # ------------------------------------------------------------ registration

    def parse(self, raw: bytes) -> Message | None:
        """Return the message of a line, or None (said why) for one that is refused."""
        text = raw.decode("utf-8", errors="replace")
        if "\ufffd" in text and "\ufffd".encode() not in raw:
            self.fail("*", "Text must be UTF-8", "INVALID_UTF8")
            return None
        body = text[text.index(" ") + 1:] if text.startswith("@") and " " in text else text
        if (text.startswith("@") and len(raw) - len(body.encode()) > CLIENT_TAG_BYTES) or \
                len(body.encode("utf-8")) > LINE_BYTES - 2:
            self.reply(n.ERR_INPUTTOOLONG, "Input line was too long")
            return None
        return parse(text)

    def nick_problem(self, nick: str) -> str | None:
        """Return the numeric that refuses ``nick`` (None: it may be taken)."""
        if not valid_handle(nick):
            return n.ERR_ERRONEUSNICKNAME
        holder = self.door.nicks.get(nick.lower())
        # An identity's sessions share its nick; so may one that signs in as it with PASS handle:password
        # (checked when registration ends: a wrong password is refused then).
        signing_in = bool(self.password) and (self.password or "").lower().startswith(nick.lower() + ":")
        if holder is not None and holder is not self and not ((self.identity or signing_in) and holder.identity):
            return n.ERR_NICKNAMEINUSE
        return None

    def welcome(self) -> None:
        """Registration done: the welcome numerics, ISUPPORT, the user counts and the MOTD."""
        self.registered = True
        self.door.nicks[self.key] = self
        self.door.registered(self)
        name = self.server_name
        self.reply(n.RPL_WELCOME, f"Welcome to the {name} IRC door, {self.nick}")
        self.reply(n.RPL_YOURHOST, f"Your host is {name}, running wsserver")
        self.reply(n.RPL_CREATED, "This server was created at start-up")
        self.reply(n.RPL_MYINFO, name, "wsserver", "iBo", "bo", "bo")
        self.door.seats.isupport(self)
        self.door.seats.lusers(self)
        self.door.seats.motd(self)
        log.info("IRC connection %s registered", self.who)

    async def start_session(self) -> None:
        """Registration is complete on our side (NICK, USER, CAP END, the account): welcome, or refuse."""
        if self.registered or self.negotiating or self.user is None or self.nick == "*":
            return
        if self.sasl is not None:  # registration completed during a SASL exchange: it is aborted (SASL 3.1)
            self.sasl = None
            self.reply(n.ERR_SASLABORTED, "SASL authentication aborted")
        state = self.door.state
        if state.config.irc_password is not None:
            if self.password is None or not secrets.compare_digest(self.password.encode(),
                                                                   state.config.irc_password.encode()):
                self.reply(n.ERR_PASSWDMISMATCH, "Password incorrect")
                self.error("Bad password")
            self.password = None  # the server's: not a token or an account's
        if state.accounts is not None and self.account is None:
            if self.password and ":" in self.password and await self.door.seats.sign_in_by_pass(self):
                pass
            elif state.config.jwt_secret and self.password and self.door.seats.token_identity(self):
                pass
            elif state.config.irc_guests:  # a guest: an open handle, never an account's
                if await self.door.anywhere_account(self.nick):
                    self.reply(n.ERR_NICKNAMEINUSE, self.nick, "That nick is an account's: sign in with SASL")
                    return
            else:
                self.reply(n.ERR_SASLFAIL, "Sign in with SASL PLAIN (or PASS handle:password) first")
                self.error("Authentication required")
        elif state.accounts is None and state.config.jwt_secret:
            if not (self.password and self.door.seats.token_identity(self)):
                self.error("Authentication required: PASS with a token")
        problem = self.nick_problem(self.nick)
        if problem is not None:
            self.reply(problem, self.nick, "Nickname is already in use" if problem == n.ERR_NICKNAMEINUSE
                       else "Erroneous nickname")
            return
        self.welcome()
        await self.door.seats.rejoin(self)


def _tagged(text: str, tag: str) -> str:
    """Return a message with one more tag (first)."""
    return f"@{tag};{text[1:]}" if text.startswith("@") else f"@{tag} {text}"
