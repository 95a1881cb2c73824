"""What the web application holds while it runs, typed for ``app[STATE]``."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web

from .config import Config
from .fanout import Outbox
from .hub import Hub
from .metrics import Metrics
from .security import AddressQuota
from .store.base import Handles


@dataclass
class State:
    """The running server's parts, shared by every request handler."""

    config: Config
    hub: Hub
    registry: Handles
    metrics: Metrics
    quota: AddressQuota
    # Open sockets and their transports (to cut off one that will not close).
    sockets: dict[web.WebSocketResponse, asyncio.Transport | None] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    stopping: bool = False  # SIGTERM: sockets being closed
    # With tokens: the connections whose resume token is renewed, and their handle and channel.
    resumable: dict[Outbox, tuple[str, str, bool]] = field(default_factory=dict)  # handle, channel, operator
    tasks: list[asyncio.Task[None]] = field(default_factory=list)  # background tasks of the app


    @property
    def leaves_away(self) -> bool:
        """Whether closed sockets leave their users away, not gone: the server stops and has a grace."""
        return self.stopping and self.config.rejoin_grace > 0


STATE: web.AppKey[State] = web.AppKey("state", State)
