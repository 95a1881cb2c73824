"""The IRC door: a TCP listener beside the web server, and what its connections share in this process.

``--irc-port`` opens it (on ``--host``; with ``--reuse-port`` every worker
listens on it).  Its connections are members of the same channels as the
page's sockets, through the same hub: seats, lines, history, moderation and
accounts are the chat's, not the door's.  What the door keeps is only what
IRC needs on top: the nicks registered here (a nick is free when no one here
has it and, on joining, when no one holds it in that channel), the channel
operators of its connections, the read markers its clients set, and the
reactions each line had when last said.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

from ..app.security import within
from ..background import cancel_and_wait
from ..channels.channel import Channel
from ..hub.ratelimit import TokenBucket
from ..store.base import StoreError
from .commands import Commands
from .connection import READ_LIMIT, Connection
from .message import line
from .modes import Modes
from .monitor import Monitor
from .outbox import IrcOutbox
from .seats import Seats
from .stamps import Seconds

log = logging.getLogger("wsserver.irc")

# Limits
REACTIONS_KEPT = 2000  # lines whose reactions are remembered (to say only what is new)
STRIKES, STRIKE_WINDOW = 3, 10.0  # refusals for rate within the window that close a connection (as a socket)


class Door:
    """The listener, its connections and what they share."""

    def __init__(self, state: Any) -> None:
        self.state = state  # the web app's State: the hub, the config, the accounts, the quota
        self.name = state.config.irc_name
        self.server: asyncio.Server | None = None
        self.connections: set[Connection] = set()
        self.nicks: dict[str, Connection] = {}
        self.most = 0  # the most registered connections at once (LUSERS)
        self.reactions: OrderedDict[str, dict[str, list[str]]] = OrderedDict()
        self.ops: dict[str, set[str]] = {}  # channel: lower-cased nicks of its operators connected here
        # Read markers IRC clients set here: (nick, channel): the timestamp= said, the line it named (or None).
        self.markers: dict[tuple[str, str], tuple[str, str | None]] = {}
        self.started = time.time()
        self.seats = Seats(self)
        self.monitor = Monitor(self)
        self.seconds = Seconds()
        self.commands = Commands(self, self.seats, self.monitor)
        self.modes = Modes(self)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stopping = False  # stop() has begun: connections' tasks are cancelled
        self._strikes: dict[Connection, list[float]] = {}
        self._buckets: dict[Connection, TokenBucket] = {}
        state.irc_connections = lambda: len(self.connections)
        self._reactions_frame: object = None
        self._reactions_before: dict[str, list[str]] = {}

    # ------------------------------------------------------------ life

    async def start(self, host: str, port: int, reuse_port: bool) -> None:
        """Listen for IRC clients."""
        self.server = await asyncio.start_server(self._accept, host, port, reuse_port=reuse_port or None,
                                                 limit=READ_LIMIT)
        for sock in self.server.sockets:
            address = sock.getsockname()
            log.info("listening for IRC on %s:%s", address[0], address[1])

    async def stop(self) -> None:
        """Stop listening, tell every connection the server is going, and let each give its seats back."""
        self.stopping = True
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.send("ERROR :Server shutting down")
            conn.closing = True
            conn.writer.transport.close()
        await cancel_and_wait(list(self._tasks))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = peer[0] if peer else ""
        trusted = self.state.config.trusted_proxy
        if trusted and within(address, trusted):
            address = await _proxied(reader) or address  # NGINX's PROXY protocol line: the client's address
        quota = self.state.quota
        try:
            quota.take(address)
        except Exception as refusal:  # the per-address cap: Refusal
            writer.write(f"ERROR :{getattr(refusal, 'sentence', 'Too many connections')}\r\n".encode())
            writer.close()
            return
        conn = Connection(self, reader, writer, address)
        self.connections.add(conn)
        self.state.metrics.irc_connections.inc()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await conn.run()
        except asyncio.CancelledError:
            if not self.stopping:
                raise
            # Cancelled by stop(): the handler ends here, not cancelled (Python 3.11's stream callback would
            # log a cancelled handler as "Exception in callback", once a connection, at every shutdown).
        finally:
            quota.give_back(address)
            self.state.metrics.irc_connections.dec()
            if task is not None:
                self._tasks.discard(task)

    def later(self, work: Any) -> None:
        """Run a coroutine in the background (a seat given back after a kick)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def forget(self, conn: Connection) -> None:
        """The connection ended: its nick is free here again."""
        self.connections.discard(conn)
        self.monitor.forget(conn)
        if conn.registered and self.nicks.get(conn.key) is conn:
            self.monitor.offline(conn)
        if self.nicks.get(conn.key) is conn:
            del self.nicks[conn.key]
        self._strikes.pop(conn, None)
        self._buckets.pop(conn, None)
        home = self.home()
        follower = getattr(conn, "follower", None)
        if home is not None and follower is not None:
            home.follow(conn.nick, follower, on=False)
        for ops in self.ops.values():
            ops.discard(conn.key)

    def quit(self, conn: Connection) -> None:
        """Tell the connections here that share a channel with ``conn`` that it quit (once each, not a PART)."""
        for other in self.sharing(conn):
            other.gone.add(conn.key)
            other.send(line("QUIT", conn.quit_reason, source=conn.mask(conn.nick)))

    # ------------------------------------------------------------ who is where

    def connection_of(self, nick: str) -> Connection | None:
        return self.nicks.get(nick.lower())

    def registered(self, conn: Connection) -> None:
        """A connection registered: it gets its direct lines (private lines of the home channel) from now on."""
        self.monitor.online(conn)
        self.most = max(self.most, len(self.nicks))
        home = self.home()
        if home is not None:
            conn.follower = IrcOutbox(conn, home.name, direct=True)
            conn.follower.pending = None
            home.follow(conn.nick, conn.follower)

    def home(self) -> Channel | None:
        """Return the channel whose private log holds direct lines: the first of --channels."""
        channels = self.state.config.channels
        return self.state.hub.channels.channel(channels[0]) if channels else None

    async def anywhere(self, nick: str) -> str | None:
        """Return ``nick`` as written if it is seated in any channel (or, with accounts, is an account)."""
        try:
            for held in await self.state.store.registry.users():
                if held.handle.lower() == nick.lower():
                    return str(held.handle)
            if self.state.accounts is not None:
                record = await self.state.store.accounts.get(nick)
                if record is not None and not record.get("removed"):
                    return str(record["handle"])
        except StoreError:
            return None
        return None

    async def anywhere_account(self, nick: str) -> bool:
        """Return whether ``nick`` is an account's handle (removed ones included: their handles stay taken)."""
        try:
            return await self.state.store.accounts.get(nick) is not None
        except StoreError:
            return True  # unknown: not given to a guest

    async def users(self, channel: str) -> list[str]:
        try:
            return sorted({held.handle for held in await self.state.store.registry.users(channel)}, key=str.lower)
        except StoreError:
            return []

    def sharing(self, conn: Connection) -> list[Connection]:
        """Return the other connections here that sit in a channel with ``conn``."""
        return [other for other in self.connections
                if other is not conn and not set(other.members).isdisjoint(conn.members)]

    def operates(self, conn: Connection, channel: str) -> bool:
        """Return whether the connection's identity operates ``channel`` (an account's or a token's say)."""
        ops = conn.operator_of
        return ops is True or (isinstance(ops, set) and channel in ops)

    def operators(self, channel: str) -> set[str]:
        return self.ops.get(channel, set())

    def seated(self, conn: Connection, channel: str, operator: bool) -> None:
        if operator:
            self.ops.setdefault(channel, set()).add(conn.key)

    def unseated(self, conn: Connection, channel: str) -> None:
        self.ops.get(channel, set()).discard(conn.key)

    # ------------------------------------------------------------ limits

    def bucket(self, conn: Connection) -> TokenBucket:
        """Return the rate limit of the connection's direct lines (its members have their own)."""
        limits = self.state.limits
        return self._buckets.setdefault(conn, TokenBucket(limits.rate, limits.burst))

    def strike(self, conn: Connection) -> bool:
        """Count a refusal for rate; return True at the third within the window (the connection is closed)."""
        now = time.monotonic()
        strikes = [at for at in self._strikes.get(conn, []) if now - at <= STRIKE_WINDOW] + [now]
        self._strikes[conn] = strikes
        return len(strikes) >= STRIKES

    async def settled(self, conn: Connection) -> None:
        """Wait until what this process appended has reached its members here (so a PONG comes after it)."""
        channels = [member.channel for member, _ in conn.members.values()]
        home = self.home()
        if home is not None:
            channels.append(home)
        moderator = self.state.hub.moderator
        if moderator.pending:  # a deletion, a kick, a ban: enforced when the moderation log is read back
            await moderator.settled()
        for channel in channels:
            if channel.unsettled:
                await channel.settled()

    # ------------------------------------------------------------ text and time

    def time_tag(self, stamp: str, ordinal: int = 0) -> str:
        """Return the ``time`` tag (UTC, ISO 8601) of a log stamp in --timezone: its milliseconds are the ordinal.

        (wsserver.irc.stamps: a line's order within its second.)
        """
        if self.state.config.timezone == "UTC":
            return f"{stamp.replace(' ', 'T')}.{ordinal:03d}Z"
        import pendulum

        moment = pendulum.from_format(stamp, "YYYY-MM-DD HH:mm:ss", tz=self.state.config.timezone)
        return f"{moment.in_timezone('UTC').format('YYYY-MM-DDTHH:mm:ss')}.{ordinal:03d}Z"

    def local_stamp(self, utc: str, later: int = 0) -> str:
        """Return the log stamp (in --timezone) of a UTC time ``YYYY-MM-DD HH:mm:ss``, ``later`` seconds on."""
        import pendulum

        moment = pendulum.from_format(utc, "YYYY-MM-DD HH:mm:ss", tz="UTC").add(seconds=later)
        return str(moment.in_timezone(self.state.config.timezone).format("YYYY-MM-DD HH:mm:ss"))

    def reactions_before(self, frame: object, cursor: str, reactions: dict[str, list[str]]) -> dict[str, list[str]]:
        """Return a line's reactions before the event ``frame`` (which says them now): what each connection diffs.

        The same frame reaches every IRC connection; the first one moves the state on.
        """
        if self._reactions_frame is not frame:
            self._reactions_frame = frame
            self._reactions_before = self.reactions.get(cursor, {})
            self.reactions[cursor] = reactions
            self.reactions.move_to_end(cursor)
            while len(self.reactions) > REACTIONS_KEPT:
                self.reactions.popitem(last=False)
        return self._reactions_before


async def _proxied(reader: asyncio.StreamReader) -> str | None:
    """Read the PROXY protocol (v1) line a trusted proxy sends first; return the client's address (None: none)."""
    try:
        first = await asyncio.wait_for(reader.readuntil(b"\n"), 10)
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    parts = first.decode("ascii", errors="replace").split()
    if len(parts) >= 3 and parts[0] == "PROXY" and parts[1] in ("TCP4", "TCP6"):
        return parts[2]
    return None
