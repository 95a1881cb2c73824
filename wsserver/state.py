"""What the web application holds while it runs, typed for ``app[STATE]``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiohttp import web

from .config import Config
from .hub import Hub
from .registry import Registry


@dataclass
class State:
    """The running server's parts, shared by every request handler."""

    config: Config
    hub: Hub
    registry: Registry
    sockets: set[web.WebSocketResponse] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)


STATE: web.AppKey[State] = web.AppKey("state", State)
