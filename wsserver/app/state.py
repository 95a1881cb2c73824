"""What the web application holds while it runs, typed for ``app[STATE]``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from ..channels.fanout import Outbox
from ..config import Config
from ..hub.accounts import Accounts
from ..hub.enforcement import Moderator
from ..hub.hub import Hub
from ..hub.member import Limits
from ..hub.membership import Membership
from ..hub.ratelimit import TokenBucket
from ..lines.moderation_log import Moderation
from ..metrics import Metrics
from ..store.base import Store
from ..uploads.storage import FilesDir
from .heartbeat import Heartbeat
from .security import AddressQuota


@dataclass
class State:
    """The running server's parts, shared by every request handler."""

    config: Config
    hub: Hub  # the channels of this process, and the parts they share (each held there, once)
    quota: AddressQuota
    heartbeat: Heartbeat  # one sweep pings and cuts the chat sockets
    files: FilesDir  # shared files (uploads)
    limits: Limits  # what a member's calls are checked against (from the config)
    accounts: Accounts | None = None  # with --accounts: sign-up, sign-in, sessions
    # Open sockets and their transports (to cut off one that will not close).
    sockets: dict[web.WebSocketResponse, asyncio.Transport | None] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    # With tokens: the connections whose resume token is renewed, and their handle and channel.
    resumable: dict[Outbox, tuple[str, str, bool]] = field(default_factory=dict)  # handle, channel, operator
    tasks: list[asyncio.Task[None]] = field(default_factory=list)  # background tasks of the app
    # With accounts: the connections of signed-in people, and their handle and session (its digest).
    signed_in: dict[Outbox, tuple[str, str]] = field(default_factory=dict)
    # With accounts: the rate of lines posted over HTTP, by account (a bot), in this process.
    post_buckets: dict[str, TokenBucket] = field(default_factory=dict)
    # With --irc-port: the IRC door's open connections (its Door sets this), for /healthz.
    irc_connections: Callable[[], int] = lambda: 0

    @property
    def metrics(self) -> Metrics:
        """Return the server's counters (the hub's)."""
        return self.hub.metrics

    @property
    def store(self) -> Store:
        """Return where the channels' logs and handles live (the hub's store)."""
        return self.hub.store

    @property
    def membership(self) -> Membership:
        """Return the seats taken and given back (the hub's)."""
        return self.hub.membership

    @property
    def moderator(self) -> Moderator:
        """Return what serves moderation frames and enforces the moderation log (the hub's)."""
        return self.hub.moderator

    @property
    def moderation(self) -> Moderation:
        """Return the moderation in force (bans, mutes, deleted lines), folded from the moderation log."""
        return self.moderator.state


STATE: web.AppKey[State] = web.AppKey("state", State)
