"""Ephemeral events (typing) between the nodes of a Redis store: PUB/SUB on ``wsserver:events``.

Each node subscribes on a connection of its own and publishes on the command
pool; an event is one JSON message, never stored (a node that is down misses
it, which is right for typing).  A node ignores its own messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from ...background import Backoff, cancel_and_wait
from .keys import PREFIX, RedisFault
from .link import Link

log = logging.getLogger(__name__)

EVENTS_KEY = PREFIX + "events"


class RedisEvents:
    """Publish and receive ephemeral events among the nodes of one Redis."""

    def __init__(self, link: Link, node: str) -> None:
        self.link = link
        self.node = node
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._ready = asyncio.Event()
        self._stopping = False  # the loop ends on it too (a cancellation redis-py's timeout swallowed)

    async def start(self, receive: Callable[[dict[str, Any]], None]) -> None:
        """Subscribe, and deliver the other nodes' events to ``receive``."""
        self._task = asyncio.get_running_loop().create_task(self._run(receive), name="redis events")
        await asyncio.wait_for(self._ready.wait(), 5.0)

    async def _run(self, receive: Callable[[dict[str, Any]], None]) -> None:
        backoff = Backoff()
        while not self._stopping:
            client = self.link.subscriber_client()
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(EVENTS_KEY)
                self._ready.set()
                backoff.reset()
                while not self._stopping:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        event = json.loads(message["data"])
                    except ValueError:
                        continue
                    if isinstance(event, dict) and event.pop("node", None) != self.node:
                        receive(event)
            except RedisFault as exc:
                log.warning("the events subscription failed: %s; subscribing again", exc)
                self._ready.set()  # start-up goes on; typing crosses nodes again once Redis answers
                await backoff.wait()
            finally:
                await pubsub.aclose()
                await client.aclose()

    def publish(self, event: dict[str, Any]) -> None:
        """Publish ``event`` to the other nodes (never waits; best effort)."""
        data = json.dumps({**event, "node": self.node}, ensure_ascii=False)

        async def send() -> None:
            try:
                await self.link.client.publish(EVENTS_KEY, data)
            except RedisFault:
                pass

        task = asyncio.get_running_loop().create_task(send(), name="publish event")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def stop(self) -> None:
        """Unsubscribe."""
        self._stopping = True
        task, self._task = self._task, None
        await cancel_and_wait([task, *self._sending])
