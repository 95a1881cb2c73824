"""A node's appends to Redis, sent in pipelines instead of one command each.

All the appends asked for while one pipeline is out go in the next: one round
trip and one pool connection carry a burst (a line in 10,000 channels at
once) instead of 10,000 commands queuing for the pool.  Appends keep the
order they were asked in.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import RedisError

from .keys import RedisFault
from .scripts import run_script_each

APPEND_BATCH = 1000  # appends sent in one pipeline at most

Call = tuple[list[str], list[str], "asyncio.Future[bytes]"]


class Appender:
    """Run one script (the append) for many callers, a pipeline at a time."""

    def __init__(self, client: Any, script: str) -> None:
        self._client = client
        self._script = script
        self._queue: list[Call] = []
        self._task: asyncio.Task[None] | None = None

    async def append(self, keys: list[str], args: list[str]) -> bytes:
        """Run the append script with ``keys`` and ``args`` in the next pipeline; raises RedisFault."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._queue.append((keys, args, future))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._send(), name="redis appends")
        return await future

    async def _send(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:APPEND_BATCH], self._queue[APPEND_BATCH:]
            try:
                results = await self._pipeline(batch)
            except BaseException as exc:  # whatever it was, no caller may wait forever
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else RedisError("cancelled"))
                raise
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _pipeline(self, batch: list[Call]) -> list[Any]:
        try:
            return await run_script_each(self._client, self._script, [(keys, args) for keys, args, _ in batch])
        except RedisFault as exc:
            return [exc] * len(batch)
