"""IRCv3 MONITOR: a client's list of nicks it is told of when they come and go.

A nick is online while an IRC connection of this process is registered with it (``730 RPL_MONONLINE``
with its mask), offline otherwise (``731``); at most :data:`MONITOR_MOST` nicks a connection.  With
``extended-monitor``, a watcher is also told what those who share a channel with the nick are
(``AWAY`` with ``away-notify``, ``SETNAME`` with ``setname``).
"""

from __future__ import annotations

from . import numerics as n
from .base import Place
from .connection import Connection
from .message import Message, line

MONITOR_MOST = 100  # ISUPPORT MONITOR=100
RPL_MONONLINE, RPL_MONOFFLINE, RPL_MONLIST, RPL_ENDOFMONLIST, ERR_MONLISTFULL = "730", "731", "732", "733", "734"


class Monitor:
    """Who monitors which nick, on this door."""

    def __init__(self, door: Place) -> None:
        self.door = door
        self.watchers: dict[str, set[Connection]] = {}

    def online(self, conn: Connection) -> None:
        """``conn`` registered (or took a nick): tell those who monitor it."""
        for watcher in self.watchers.get(conn.key, set()):
            watcher.send(line(RPL_MONONLINE, watcher.nick, conn.mask(conn.nick), source=watcher.server_name))

    def offline(self, conn: Connection) -> None:
        """``conn`` quit (or left a nick): tell those who monitor it."""
        for watcher in self.watchers.get(conn.key, set()):
            if watcher is not conn:
                watcher.send(line(RPL_MONOFFLINE, watcher.nick, conn.nick, source=watcher.server_name))

    def tell(self, conn: Connection, message: str, cap: str, itself: bool = False) -> None:
        """Say a change of ``conn`` (``AWAY``, ``SETNAME``) to the connections here that have ``cap``
        and share a channel with it or monitor it with ``extended-monitor``: once each (``itself``: to it too)."""
        told = {conn}
        watching = [other for other in self.watchers.get(conn.key, set()) if "extended-monitor" in other.caps]
        for other in [*self.door.sharing(conn), *watching]:
            if other not in told and cap in other.caps:
                told.add(other)
                other.send(message)
        if itself and cap in conn.caps:
            conn.send(message)

    def forget(self, conn: Connection) -> None:
        """The connection ended: it monitors nothing any more."""
        for key in conn.monitoring:
            watching = self.watchers.get(key)
            if watching is not None:
                watching.discard(conn)
                if not watching:
                    del self.watchers[key]
        conn.monitoring.clear()

    async def do_monitor(self, conn: Connection, message: Message) -> None:
        action = message.params[0] if message.params else ""
        targets = [nick for nick in (message.params[1] if len(message.params) > 1 else "").split(",") if nick]
        if action == "+":
            for start, nick in enumerate(targets):
                if len(conn.monitoring) >= MONITOR_MOST and nick.lower() not in conn.monitoring:
                    conn.reply(ERR_MONLISTFULL, str(MONITOR_MOST), ",".join(targets[start:]), "Monitor list is full")
                    targets = targets[:start]
                    break
                conn.monitoring.add(nick.lower())
                self.watchers.setdefault(nick.lower(), set()).add(conn)
            self._status(conn, targets)
        elif action == "-":
            for nick in targets:
                conn.monitoring.discard(nick.lower())
                self.watchers.get(nick.lower(), set()).discard(conn)
        elif action.upper() == "C":
            self.forget(conn)
        elif action.upper() == "L":
            if conn.monitoring:
                conn.reply(RPL_MONLIST, ",".join(sorted(conn.monitoring)))
            conn.reply(RPL_ENDOFMONLIST, "End of MONITOR list")
        elif action.upper() == "S":
            self._status(conn, sorted(conn.monitoring))
        else:
            conn.reply(n.ERR_NEEDMOREPARAMS, "MONITOR", "Not enough parameters")

    def _status(self, conn: Connection, targets: list[str]) -> None:
        on = [self.door.connection_of(nick) for nick in targets]
        online = [other.mask(other.nick) for other in on if other is not None and other.registered]
        offline = [nick for nick, other in zip(targets, on, strict=True) if other is None or not other.registered]
        if online:
            conn.reply(RPL_MONONLINE, ",".join(online))
        if offline:
            conn.reply(RPL_MONOFFLINE, ",".join(offline))
