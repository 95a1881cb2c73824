"""The moderation log of the Redis store: the ``wsserver:moderation`` stream, one action an entry.

Every node reads it whole at start (``XRANGE``) and follows it (``XREAD
BLOCK`` on one connection of the readers' pool), so an action taken on any
node, or by ``wsserver ban ... --store URL``, reaches every node at once.
The stream is never trimmed: it is the state in force, not a cache.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ...background import Backoff, cancel_and_wait
from ...lines.moderation_log import Action
from ..base import StoreError
from .keys import PREFIX, RedisFault
from .link import BLOCK_MS, stream_entries

log = logging.getLogger(__name__)

ACTIONS_KEY = PREFIX + "moderation"


class RedisActions:
    """Append actions to the moderation stream, read it whole, and follow it."""

    def __init__(self, client: Any, readers: Any = None) -> None:
        self._client = client
        self._readers = readers if readers is not None else client
        self._last = "0-0"
        self._task: asyncio.Task[None] | None = None
        self._stopping = False  # the loop ends on it too (a cancellation redis-py swallowed)

    async def append(self, action: Action) -> None:
        """XADD one action; raises StoreError if Redis did not take it."""
        try:
            await self._client.xadd(ACTIONS_KEY, {"line": action.to_json()})
        except RedisFault as exc:
            raise StoreError(f"Redis did not take the action: {exc}") from exc

    async def read(self) -> list[Action]:
        """Return every action so far; :meth:`follow` goes on from here."""
        actions = []
        try:
            async for entry_id, raw in stream_entries(self._client, ACTIONS_KEY, "(" + self._last):
                self._last = entry_id
                action = Action.from_json(raw) if raw is not None else None
                if action is not None:
                    actions.append(action)
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer a read of {ACTIONS_KEY}: {exc}") from exc
        return actions

    def follow(self, on_new: Callable[[list[Action], bool], None]) -> None:
        """Call ``on_new(actions, False)`` with each batch of new actions until :meth:`stop`."""
        self._task = asyncio.get_running_loop().create_task(self._run(on_new), name="follow moderation stream")

    async def _run(self, on_new: Callable[[list[Action], bool], None]) -> None:
        backoff = Backoff()
        while not self._stopping:
            try:
                found = await self._readers.xread({ACTIONS_KEY: self._last}, count=1000, block=BLOCK_MS)
            except RedisFault as exc:
                log.warning("following %s failed: %s", ACTIONS_KEY, exc)
                await backoff.wait()
                continue
            backoff.reset()
            if not found:
                continue
            actions = []
            for entry_id, fields in found[0][1]:
                self._last = entry_id.decode()
                raw = fields.get(b"line")
                action = Action.from_json(raw) if raw is not None else None
                if action is not None:
                    actions.append(action)
            if actions:
                on_new(actions, False)

    async def stop(self) -> None:
        """Stop following."""
        self._stopping = True
        task, self._task = self._task, None
        await cancel_and_wait([task])
