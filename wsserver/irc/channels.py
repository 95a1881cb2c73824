"""The commands of a registered IRC connection about channels and lines: JOIN, PART, PRIVMSG, NOTICE, TAGMSG,
TOPIC, NAMES, LIST, MODE, KICK, REDACT, MARKREAD, and the server's LUSERS, MOTD, VERSION, TIME, INFO,
HELP."""

from __future__ import annotations

import time

from ..hub.member import Member
from ..protocol import Code, Refused
from ..store.base import StoreError
from . import numerics as n
from .base import Place
from .connection import Connection, relay_room
from .history import History
from .message import Message, client_tags, line
from .outbox import ACTION_PREFIX, NOTICE_PREFIX
from .seats import Seats
from .users import UserCommands

HELP = {
    "": ["wsserver's IRC door: the channels, lines and logs of the web page.",
         "Commands: JOIN PART PRIVMSG NOTICE TAGMSG TOPIC NAMES WHO WHOIS LIST MODE KICK INVITE REDACT MARKREAD",
         "CHATHISTORY AWAY USERHOST OPER MONITOR LUSERS MOTD VERSION TIME INFO HELP QUIT"],
    "PRIVMSG": ["PRIVMSG <#channel|nick> :<text>: one line of the channel's log (or a private line)."],
    "JOIN": ["JOIN <#channel>[,<#channel>]: take a seat in channels (the join line, as the page's)."],
}


REPLY_TAGS = ("+draft/reply", "+reply")  # what makes a channel line a reply of the chat


class ChannelCommands:
    """Channels, lines and the server's information."""

    def __init__(self, door: Place, seats: Seats, history: History, users: UserCommands) -> None:
        self.door = door
        self.seats = seats
        self.history = history
        self.users = users
        self.state = door.state

    def _member(self, conn: Connection, target: str, command: str) -> tuple[str, Member] | None:
        """Return the channel a target names and the connection's member there; None (said why) if not in it."""
        name = self.seats.channel_name(target)
        entry = conn.members.get(name) if name is not None else None
        if name is not None and entry is not None:
            return name, entry[0]  # sat in: it exists (no look at the store for each line)
        if command == "NOTICE":
            return None  # no automatic reply to a NOTICE
        if name is None or not self.seats.exists(name):
            conn.reply(n.ERR_NOSUCHCHANNEL, target, "No such channel")
            return None
        conn.reply(n.ERR_NOTONCHANNEL if command != "PRIVMSG" else n.ERR_CANNOTSENDTOCHAN, target,
                   "You're not on that channel")
        return None

    # ------------------------------------------------------------ seats

    async def do_join(self, conn: Connection, message: Message) -> None:
        if conn.lacks(message):
            return
        if message.params[0] == "0":
            for name in list(conn.members):
                await self.seats.leave(conn, name)
            return
        for target in message.params[0].split(","):
            wanted = self.seats.channel_name(target)
            if wanted is None:
                conn.reply(n.ERR_NOSUCHCHANNEL, target, "No such channel")
                continue
            await self.seats.join(conn, wanted)

    async def do_part(self, conn: Connection, message: Message) -> None:
        if conn.lacks(message):
            return
        reason = message.params[1] if len(message.params) > 1 else ""
        for target in message.params[0].split(","):
            name = self.seats.channel_name(target)
            if name is None or not self.seats.exists(name):
                conn.reply(n.ERR_NOSUCHCHANNEL, target, "No such channel")
            elif not await self.seats.leave(conn, name, reason):
                conn.reply(n.ERR_NOTONCHANNEL, target, "You're not on that channel")

    # ------------------------------------------------------------ lines

    async def do_privmsg(self, conn: Connection, message: Message, notice: bool = False) -> None:
        command = "NOTICE" if notice else "PRIVMSG"
        if not message.params or not message.params[0]:
            if not notice:
                conn.reply(n.ERR_NORECIPIENT, f"No recipient given ({command})")
            return
        if len(message.params) < 2 or message.params[1] == "":
            if not notice:
                conn.reply(n.ERR_NOTEXTTOSEND, "No text to send")
            return
        target = message.params[0]
        if len(message.params[1].encode()) > relay_room(conn.mask(conn.nick), command, target):
            conn.reply(n.ERR_INPUTTOOLONG, "Input line was too long")  # it could not be relayed whole
            return
        text = self.seats.chat_text(message.params[1])
        if text.startswith("\x01"):
            return  # CTCP other than ACTION: not a line of the log
        if notice and not text.startswith(ACTION_PREFIX):
            text = NOTICE_PREFIX + text
        tags = client_tags(message.tags)
        if not target.startswith("#"):
            await self.seats.private(conn, target, text, notice, tags)
            return
        found = self._member(conn, target, command)
        if found is None:
            return
        _, member = found
        reply_to = message.tags.get("+draft/reply") or message.tags.get("+reply")
        refused = None
        if reply_to:  # a reply of the chat: its tag is said from the reply (the other tags are kept)
            refused = await member.say(text, reply_to=reply_to, tags=client_tags(message.tags, REPLY_TAGS))
        if not reply_to or (refused is not None and refused.code in (Code.BAD_AROUND, Code.BAD_CURSOR)):
            refused = await member.say(text, tags=tags)  # a reply tag naming no line here: the line, not a reply
        if refused is not None and not notice:
            self.seats.refused(conn, command, refused, target)

    async def do_notice(self, conn: Connection, message: Message) -> None:
        await self.do_privmsg(conn, message, notice=True)

    async def do_tagmsg(self, conn: Connection, message: Message) -> None:
        if conn.lacks(message):
            return
        target, tags = message.params[0], client_tags(message.tags, ("+typing",))
        if not target.startswith("#"):
            if tags is not None:  # to a person: its tags, a line of the private log (typing is not said)
                await self.seats.private(conn, target, None, tags=tags)
            return
        found = self._member(conn, target, "TAGMSG")
        if found is None:
            return
        _, member = found
        typing = message.tags.get("+typing")
        if typing in ("active", "paused", "done"):
            member.typing(typing == "active")
        emoji, to = message.tags.get("+draft/react") or message.tags.get("+react"), message.tags.get("+draft/reply")
        refused = None
        if emoji and to:
            refused = await member.react(to, emoji, remove=bool(message.tags.get("+draft/unreact")))
            if refused is None or refused.code is not Code.BAD_EMOJI:
                tags = None  # a reaction (or its refusal); one the chat cannot hold is relayed as it came
        if tags is not None:
            refused = await member.send_tags(tags)
        if refused is not None:
            self.seats.refused(conn, "TAGMSG", refused, target)

    async def do_redact(self, conn: Connection, message: Message) -> None:
        if conn.lacks(message, 2):
            return
        target, msgid = message.params[0], message.params[1]
        if not target.startswith("#"):
            await self._redact_private(conn, target, msgid, message.params[2] if len(message.params) > 2 else "")
            return
        name = self.seats.channel_name(target)
        entry = conn.members.get(name) if name is not None else None
        if entry is None:
            conn.fail("REDACT", "You're not on that channel", "INVALID_TARGET", target)
            return
        refused = await entry[0].delete(msgid, message.params[2] if len(message.params) > 2 else "")
        if refused is None:
            return
        self._redact_refused(conn, refused, target, msgid)

    async def _redact_private(self, conn: Connection, target: str, msgid: str, reason: str) -> None:
        """``REDACT nick msgid``: a private line (its msgid ``CHANNEL/CURSOR``), by its sender only."""
        name, _, cursor = msgid.partition("/")
        hub = self.seats.state.hub
        channel = hub.channels.channel(name) if cursor else None
        if channel is None:
            refused: Refused | None = Refused.of(Code.BAD_AROUND)
        elif not self.door.bucket(conn).allow():
            refused = Refused.of(Code.RATE_LIMITED)
        else:
            refused = await hub.moderator.delete(channel, conn.nick, False, cursor, reason, private=True)
        if refused is not None:
            self._redact_refused(conn, refused, target, msgid)

    @staticmethod
    def _redact_refused(conn: Connection, refused: Refused, target: str, msgid: str) -> None:
        code = "UNKNOWN_MSGID" if refused.code in (Code.BAD_AROUND, Code.BAD_CURSOR) else "REDACT_FORBIDDEN"
        conn.fail("REDACT", refused.sentence, code, target, msgid)

    async def do_markread(self, conn: Connection, message: Message) -> None:
        await self.history.markread(conn, message)

    # ------------------------------------------------------------ channel state

    async def do_topic(self, conn: Connection, message: Message) -> None:
        if conn.lacks(message):
            return
        name = self.seats.channel_name(message.params[0])
        if name is None or not self.seats.exists(name):
            conn.reply(n.ERR_NOSUCHCHANNEL, message.params[0], "No such channel")
            return
        if len(message.params) == 1:
            self.seats.topic_reply(conn, name)
            return
        entry = conn.members.get(name)
        if entry is None:
            conn.reply(n.ERR_NOTONCHANNEL, message.params[0], "You're not on that channel")
            return
        refused = await entry[0].set_topic(message.params[1])
        if refused is not None:
            self.seats.refused(conn, "TOPIC", refused, message.params[0])

    async def do_names(self, conn: Connection, message: Message) -> None:
        if not message.params:
            conn.reply(n.RPL_ENDOFNAMES, "*", "End of /NAMES list")
            return
        for target in message.params[0].split(","):
            name = self.seats.channel_name(target)
            if name is None or not self.seats.exists(name):
                conn.reply(n.RPL_ENDOFNAMES, target, "End of /NAMES list")
                continue
            self.seats.names_reply(conn, name, await self.door.users(name))

    async def do_invite(self, conn: Connection, message: Message) -> None:
        """``INVITE nick #c``: the nick is told (an IRC client of this process: ``INVITE``); channels need none."""
        if conn.lacks(message, 2):
            return
        nick, target = message.params[0], message.params[1]
        name = self.seats.channel_name(target)
        if name is None or not self.seats.exists(name):
            conn.reply(n.ERR_NOSUCHCHANNEL, target, "No such channel")
            return
        if name not in conn.members:
            conn.reply(n.ERR_NOTONCHANNEL, target, "You're not on that channel")
            return
        other = self.door.connection_of(nick)
        if other is None or not other.registered:
            conn.reply(n.ERR_NOSUCHNICK, nick, "No such nick/channel")
            return
        if name in other.members:
            conn.reply(n.ERR_USERONCHANNEL, other.nick, f"#{name}", "is already on channel")
            return
        conn.reply(n.RPL_INVITING, other.nick, f"#{name}")
        account = conn.account_of(conn.nick) if "account-tag" in other.caps else None
        other.send(line("INVITE", other.nick, f"#{name}", source=conn.mask(conn.nick),
                        tags={"account": account} if account else None))

    async def do_list(self, conn: Connection, message: Message) -> None:
        wanted = {name.lstrip("#").lower() for name in message.params[0].split(",")} if message.params else None
        conn.reply(n.RPL_LISTSTART, "Channel", "Users  Name")
        try:
            held = await self.state.store.registry.users()
        except StoreError:
            held = []
        counts = {name: 0 for name in self.state.hub.channels.names()}
        for entry in held:
            if entry.channel in counts:
                counts[entry.channel] += 1
        for name, count in counts.items():
            if wanted is None or name in wanted:
                known = self.state.hub.moderator.state.topics.get(name)
                topic = known.reason if known is not None else ""
                conn.reply(n.RPL_LIST, f"#{name}", str(count), topic)
        conn.reply(n.RPL_LISTEND, "End of /LIST")

    async def do_mode(self, conn: Connection, message: Message) -> None:
        if conn.lacks(message):
            return
        target = message.params[0]
        if not target.startswith("#"):
            self.users.user_mode(conn, target, message.params[1:])
            return
        name = self.seats.channel_name(target)
        if name is None or not self.seats.exists(name):
            conn.reply(n.ERR_NOSUCHCHANNEL, target, "No such channel")
            return
        if len(message.params) == 1:
            conn.reply(n.RPL_CHANNELMODEIS, target, "+nt")
            conn.reply(n.RPL_CREATIONTIME, target, str(int(self.door.started)))
            return
        await self.door.modes.change(conn, name, target, message.params[1], message.params[2:])

    async def do_kick(self, conn: Connection, message: Message) -> None:
        if conn.lacks(message, 2):
            return
        found = self._member(conn, message.params[0], "KICK")
        if found is None:
            return
        reason = message.params[2] if len(message.params) > 2 else conn.nick  # IRC's default comment
        for nick in message.params[1].split(","):
            refused = await found[1].moderate("kick", nick, reason)
            if refused is None:
                continue
            if refused.code is Code.USER_NOT_FOUND:
                conn.reply(n.ERR_USERNOTINCHANNEL, nick, message.params[0], "They aren't on that channel")
            else:
                self.seats.refused(conn, "KICK", refused, message.params[0])

    # ------------------------------------------------------------ the server

    async def do_lusers(self, conn: Connection, message: Message) -> None:
        self.seats.lusers(conn)

    async def do_motd(self, conn: Connection, message: Message) -> None:
        self.seats.motd(conn)

    async def do_version(self, conn: Connection, message: Message) -> None:
        conn.reply(n.RPL_VERSION, "wsserver", self.door.name, "the IRC door of wsserver")
        self.seats.isupport(conn)

    async def do_time(self, conn: Connection, message: Message) -> None:
        conn.reply(n.RPL_TIME, self.door.name, time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))

    async def do_info(self, conn: Connection, message: Message) -> None:
        conn.reply(n.RPL_INFO, "wsserver: a chat server whose channels are plain text logs")
        conn.reply(n.RPL_ENDOFINFO, "End of /INFO list")

    async def do_help(self, conn: Connection, message: Message) -> None:
        subject = message.params[0].upper() if message.params else ""
        text = HELP.get(subject)
        if text is None:
            conn.reply(n.ERR_HELPNOTFOUND, subject, "No help available on this topic")
            return
        conn.reply(n.RPL_HELPSTART, subject or "*", text[0])
        for more in text[1:]:
            conn.reply(n.RPL_HELPTXT, subject or "*", more)
        conn.reply(n.RPL_ENDOFHELP, subject or "*", "End of /HELP")

    async def do_helpop(self, conn: Connection, message: Message) -> None:
        await self.do_help(conn, message)

