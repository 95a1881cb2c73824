"""What IRC commands share: taking and giving back seats, private lines, refusals as IRC says them, and the
replies a connection is sent of itself (ISUPPORT, LUSERS, the MOTD, a channel's topic and names).

One more translator onto the member API (:mod:`wsserver.hub.member`): ``JOIN`` is :meth:`Member.join`,
``PRIVMSG nick`` :meth:`Member.private`; a refusal is the chat's sentence, in the numeric IRC clients expect
or in a ``FAIL``.  docs/protocol.md "IRC" lists every command.
"""

from __future__ import annotations

import json
import logging

from ..channels.channel import Channel
from ..config import valid_channel
from ..errors import JoinRefused, TooManyChannels
from ..hub.accounts import Account
from ..hub.member import Kept, Member
from ..hub.seatless import post
from ..lines.logline import LINE_RE
from ..protocol import Code, Refused
from ..store.base import StoreError
from . import numerics as n
from .base import Place
from .connection import REALNAME_MOST, Connection
from .message import line
from .outbox import ACTION_PREFIX, IrcOutbox

log = logging.getLogger("wsserver.irc")

GONE_FOR_GOOD = (Code.NO_CHANNEL, Code.BANNED, Code.NOT_ALLOWED_HERE)  # an always-on channel dropped on these

MOTD = "Lines here are the channels' logs: what you send is kept, as the page's lines are."


class Seats:
    """Seats, private lines, refusals and the replies about the connection itself, for every command."""

    def __init__(self, door: Place) -> None:
        self.door = door
        self.state = door.state

    # ------------------------------------------------------------ shared replies

    def isupport(self, conn: Connection) -> None:
        config = self.state.config
        tokens = ["AWAYLEN=200", "CASEMAPPING=ascii", "CHANLIMIT=#:", "CHANMODES=b,,,", "CHANNELLEN=33",
                  "CHANTYPES=#", "CHATHISTORY=200", "ELIST=", "KICKLEN=200", "MAXTARGETS=1",
                  "MODES=1", "MSGREFTYPES=msgid,timestamp", f"NETWORK={self.door.name}", "NICKLEN=16",
                  "PREFIX=(o)@", "STATUSMSG=", "TARGMAX=PRIVMSG:1,NOTICE:1,TAGMSG:1,JOIN:,PART:,KICK:1,NAMES:1,WHOIS:1",
                  f"TOPICLEN={config.max_message_chars}", "UTF8ONLY", "MONITOR=100", "WHOX", "BOT=B",
                  f"NAMELEN={REALNAME_MOST}"]  # no CLIENTTAGDENY: every client-only tag is relayed
        for start in range(0, len(tokens), 12):
            conn.reply(n.RPL_ISUPPORT, *tokens[start:start + 12], "are supported by this server")

    def lusers(self, conn: Connection) -> None:
        count = len(self.door.nicks)
        conn.reply(n.RPL_LUSERCLIENT, f"There are {count} users and 0 invisible on 1 servers")
        opers = sum(1 for other in self.door.connections if "o" in other.modes)
        conn.reply(n.RPL_LUSEROP, str(opers), "operator(s) online")
        conn.reply(n.RPL_LUSERUNKNOWN, str(max(0, len(self.door.connections) - count)), "unknown connection(s)")
        conn.reply(n.RPL_LUSERCHANNELS, str(len(self.door.state.hub.channels.names())), "channels formed")
        conn.reply(n.RPL_LUSERME, f"I have {count} clients and 0 servers")
        most = max(self.door.most, count)
        conn.reply(n.RPL_LOCALUSERS, str(count), str(most), f"Current local users {count}, max {most}")
        conn.reply(n.RPL_GLOBALUSERS, str(count), str(most), f"Current global users {count}, max {most}")

    def motd(self, conn: Connection) -> None:
        conn.reply(n.RPL_MOTDSTART, f"- {self.door.name} Message of the day -")
        conn.reply(n.RPL_MOTD, f"- {MOTD}")
        conn.reply(n.RPL_ENDOFMOTD, "End of /MOTD command")

    def topic_reply(self, conn: Connection, channel: str, joining: bool = False) -> None:
        known = self.state.hub.moderator.state.topics.get(channel)  # folded from the moderation log
        if known is None or not known.reason:
            if not joining:
                conn.reply(n.RPL_NOTOPIC, f"#{channel}", "No topic is set")
            return
        conn.reply(n.RPL_TOPIC, f"#{channel}", known.reason)
        conn.reply(n.RPL_TOPICWHOTIME, f"#{channel}", known.by, str(int(known.at)))

    def names_reply(self, conn: Connection, channel: str, users: list[str]) -> None:
        ops = self.door.operators(channel)
        multi = "multi-prefix" in conn.caps
        names = [("@" if user.lower() in ops else "") + (conn.mask(user) if "userhost-in-names" in conn.caps
                                                          else user) for user in users]
        del multi
        for start in range(0, max(len(names), 1), 20):
            chunk = names[start:start + 20]
            if chunk:
                conn.reply(n.RPL_NAMREPLY, "=", f"#{channel}", " ".join(chunk))
        conn.reply(n.RPL_ENDOFNAMES, f"#{channel}", "End of /NAMES list")

    # ------------------------------------------------------------ accounts and tokens

    async def sign_in_by_pass(self, conn: Connection) -> bool:
        assert conn.password is not None
        handle, _, password = conn.password.partition(":")
        return await self.check(conn, handle, password)

    async def check(self, conn: Connection, handle: str, password: str) -> bool:
        """Check an account's password (lockouts as for the page); on success the connection is that account."""
        accounts = self.state.accounts
        if accounts is None:
            return False
        try:
            checked = await accounts.check_password(handle, password, conn.address)
        except StoreError:
            log.warning("could not check a password for IRC: the store did not answer", exc_info=True)
            return False
        if isinstance(checked, Refused | tuple):
            refused = checked if isinstance(checked, Refused) else checked[0]
            conn.send(line("NOTICE", conn.nick, refused.sentence, source=conn.server_name))
            return False
        conn.account = Account.of(checked)
        conn.identity = True
        if not conn.registered:  # a registered connection's nick changes with a NICK (Registration._rename)
            conn.nick = conn.account.handle
        conn.operator_of = conn.account.op or set(conn.account.ops)
        return True

    def token_identity(self, conn: Connection) -> bool:
        """Take a site token from PASS: the nick is its ``sub``."""
        import jwt  # with --jwt-secret only

        config = self.state.config
        try:
            claims = jwt.decode(conn.password or "", config.jwt_secret, algorithms=["HS256"],
                                options={"require": ["exp", "sub"]})
        except jwt.PyJWTError:
            return False
        sub = claims.get("sub")
        if not isinstance(sub, str):
            return False
        conn.nick, conn.identity = sub, True
        conn.operator_of = bool(claims.get("op")) or set(claims.get("ops") or ())
        return True

    # ------------------------------------------------------------ seats

    def exists(self, name: str) -> bool:
        """Return whether channel ``name`` exists (configured, or made by a join on any process); never makes it."""
        channels = self.state.hub.channels
        return name in channels or name in channels.names()  # open here, or else configured or in the store

    async def join(self, conn: Connection, name: str, remember: bool = True) -> Code | None:
        """Seat the connection in channel ``name`` (without ``#``); return why not (told to the client), or None.

        ``remember``: keep the channel among an account's always-on channels (a rejoin has it there already).
        """
        if name in conn.members:
            return None
        hub = self.state.hub
        created = name not in hub.channels.names()  # a JOIN that makes it: on no process, in no log yet
        try:
            channel = hub.channels.channel(name)
        except TooManyChannels:
            conn.reply(n.ERR_NOSUCHCHANNEL, f"#{name}", Code.TOO_MANY_CHANNELS.sentence)
            return Code.TOO_MANY_CHANNELS
        if channel is None:
            conn.reply(n.ERR_NOSUCHCHANNEL, f"#{name}", Code.NO_CHANNEL.sentence)
            return Code.NO_CHANNEL
        if conn.account is not None and not conn.account.may_use(name):
            conn.reply(n.ERR_NOSUCHCHANNEL, f"#{name}", Code.NOT_ALLOWED_HERE.sentence)
            return Code.NOT_ALLOWED_HERE
        operator = self.door.operates(conn, name) or (created and not self.state.config.jwt_secret)
        outbox = IrcOutbox(conn, name)
        if "draft/read-marker" in conn.caps:  # said between the JOIN and the NAMES
            conn.join_markers[name] = await self.read_marker(conn, channel)
        self.door.seated(conn, name, operator)  # before the join's NAMES reply
        try:
            member = await Member.join(hub, channel, conn.nick, outbox, self.state.limits,
                                       history=self.state.config.history, since=await self._back(conn, channel),
                                       shared=conn.identity, operator=operator)
        except JoinRefused as refused:
            self.door.unseated(conn, name)
            numeric = n.ERR_BANNEDFROMCHAN if refused.refused.code is Code.BANNED else \
                n.ERR_NICKNAMEINUSE if refused.refused.code is Code.HANDLE_IN_USE else n.ERR_NOSUCHCHANNEL
            conn.reply(numeric, f"#{name}", refused.refused.sentence)
            return refused.refused.code
        if conn.closing:
            await member.leave()
            return None
        conn.members[name] = (member, outbox)
        if remember:
            await self.keep(conn, name, True)
        return None

    async def keep(self, conn: Connection, name: str, kept: bool) -> None:
        """Keep (or drop) ``name`` among the channels an account's IRC sessions are joined to when they sign in."""
        accounts = self.state.accounts
        if conn.account is None or accounts is None:
            return
        try:
            await accounts.keep_irc_channel(conn.account.handle, name, kept)
        except StoreError:
            log.warning("could not keep the IRC channels of %s", conn.account.handle, exc_info=True)

    async def rejoin(self, conn: Connection) -> None:
        """Join a signed-in account's session to the channels its sessions sat in (always-on, as a bouncer does)."""
        accounts = self.state.accounts
        if conn.account is None or accounts is None:
            return
        try:
            names = await accounts.irc_channels(conn.account.handle)
        except StoreError:
            log.warning("could not read the IRC channels of %s", conn.account.handle, exc_info=True)
            return
        for name in names:
            refused = await self.join(conn, name, remember=False) if self.exists(name) else Code.NO_CHANNEL
            if refused in GONE_FOR_GOOD:  # not again; a store that did not answer is asked next time
                await self.keep(conn, name, False)

    async def read_marker(self, conn: Connection, channel: Channel) -> str:
        """Return ``timestamp=...`` for the identity's read position in ``channel`` (``*``: none).

        The exact time an IRC client set is said back while the position is still the line it named
        (this process keeps it); else the time of the line the position names (set by a page, say).
        """
        kept = self.door.markers.get((conn.key, channel.name))
        try:
            frame = await self.state.hub.reading.joined_frame(channel.name, conn.nick)
        except StoreError:
            frame = None
        cursor = json.loads(frame)["data"]["cursor"] if frame is not None else None
        if kept is not None and kept[1] == cursor:
            return kept[0]
        if cursor is not None:
            picked = await channel.finder.pick([cursor])
            match = LINE_RE.match(picked[0].decode("utf-8", errors="replace")) if picked and picked[0] else None
            if match is not None:
                return "timestamp=" + self.door.time_tag(match.group(1))
        return kept[0] if kept is not None else "*"

    async def _back(self, conn: Connection, channel: Channel) -> str | None:
        """Return where a client away since a restart resumes (the log's end: IRC clients rejoin on their own)."""
        try:
            away = any(held.away and held.handle.lower() == conn.key
                       for held in await self.state.store.registry.users(channel.name))
        except StoreError:
            return None
        return channel.feed.cursor if away else None  # its seat back silently, as a page's resume

    async def leave(self, conn: Connection, name: str, reason: str = "") -> bool:
        entry = conn.members.pop(name, None)
        if entry is None:
            return False
        said = line("PART", f"#{name}", *([reason] if reason else []), source=conn.mask(conn.nick))
        conn.send(said)
        for other in self.door.connections:  # IRC clients here hear the reason; the users list tells the others
            seat = other.members.get(name)
            if seat is not None and other is not conn:
                seat[1].parted.add(conn.key)
                other.send(said)
        self.door.unseated(conn, name)
        await entry[0].leave()
        await self.keep(conn, name, False)
        return True

    # ------------------------------------------------------------ lines

    async def private(self, conn: Connection, to: str, text: str | None, notice: bool = False,
                      tags: str | None = None) -> None:
        """A private line to ``to``: in the first channel both sit in, else in the home channel's private log.

        ``tags``: its client-only tags; with no ``text``, the tags alone (a ``TAGMSG``).
        """
        command = "PRIVMSG" if text is not None else "TAGMSG"
        target = self.door.connection_of(to)
        shared = sorted(set(conn.members) & set(target.members)) if target is not None else []
        if not shared:
            for name in sorted(conn.members):
                seated = await self.state.membership.find(name, to)
                if seated is not None:
                    shared = [name]
                    break
        if shared:
            sent = await conn.members[shared[0]][0].private(to, text, tags=tags)
            if isinstance(sent, Kept):
                conn.send(line("NOTICE", conn.nick, sent.sentence, source=conn.server_name))
            elif sent is not None:
                self.refused(conn, command, sent, to)
            elif target is not None and target.away and not notice and text is not None:
                conn.reply(n.RPL_AWAY, target.nick, target.away)
            return
        # No channel in common: the home channel's private log, if the nick is anywhere (or is an account).
        recipient = target.nick if target is not None else await self.door.anywhere(to)
        if recipient is None:
            if not notice:
                conn.reply(n.ERR_NOSUCHNICK, to, "No such nick/channel")
            return
        home = self.door.home()
        if home is None:
            conn.reply(n.ERR_NOSUCHNICK, to, "No such nick/channel")
            return
        bucket = self.door.bucket(conn)
        posted = await post(self.state.hub, home, conn.nick, text, self.state.limits, bucket, to=recipient, tags=tags)
        if isinstance(posted, Refused):
            self.refused(conn, command, posted, to)
        elif target is not None and target.away and not notice and text is not None:
            conn.reply(n.RPL_AWAY, target.nick, target.away)

    def refused(self, conn: Connection, command: str, refused: Refused, target: str) -> None:
        """Say a refusal of the chat as IRC clients expect it."""
        code = refused.code
        if code is Code.USER_NOT_FOUND:
            conn.reply(n.ERR_NOSUCHNICK, target, "No such nick/channel")
        elif code in (Code.MUTED, Code.PLAIN_ONLY, Code.BANNED):
            conn.reply(n.ERR_CANNOTSENDTOCHAN, target, refused.sentence)
        elif code is Code.EMPTY_MESSAGE:
            conn.reply(n.ERR_NOTEXTTOSEND, "No text to send")
        elif code is Code.NOT_OPERATOR:
            conn.reply(n.ERR_CHANOPRIVSNEEDED, target, refused.sentence)
        elif code is Code.RATE_LIMITED:
            conn.fail(command, refused.sentence, "RATE_LIMITED")
            if self.door.strike(conn):
                conn.error("Excess flood")
        else:
            conn.fail(command, refused.sentence)

    @staticmethod
    def channel_name(target: str) -> str | None:
        """Return the channel a ``#name`` target names (lower-cased), or None if it cannot be one."""
        if not target.startswith("#"):
            return None
        name = target[1:].lower()
        return name if valid_channel(name) else None

    @staticmethod
    def chat_text(text: str) -> str:
        """Return what a PRIVMSG's text is in the log: CTCP ACTION as ``/me``; other CTCP as sent."""
        if text.startswith("\x01ACTION") and len(text) > 8:
            return ACTION_PREFIX + text[8:].rstrip("\x01")
        if text.startswith("\x01ACTION\x01"):
            return ACTION_PREFIX.rstrip()
        return text
