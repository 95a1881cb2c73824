"""Background work done the same way everywhere: stopping tasks, retrying with backoff, a share at a time,
requests that arrive together done in one thread call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any] | None]) -> None:
    """Cancel every task given (None is skipped), then wait until each has finished."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    for task in running:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def in_turn(items: list[T], position: int, count: int) -> tuple[list[T], int]:
    """Return ``count`` of ``items`` from ``position`` on (wrapping round), and where the next turn starts.

    For work done a share at a time on a list that changes between turns:
    over len(items) / count turns every item gets its turn.
    """
    if not items:
        return [], 0
    start = position % len(items)
    return (items[start:] + items[:start])[:count], start + count


class Backoff:
    """Delays between retries while a store does not answer: doubling from ``first`` up to ``most``."""

    def __init__(self, first: float = 0.1, most: float = 2.0) -> None:
        self.first, self.most = first, most
        self.delay = first

    async def wait(self) -> None:
        """Sleep the current delay, and double it for next time."""
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, self.most)

    def reset(self) -> None:
        """Start again from the first delay (the store answered)."""
        self.delay = self.first


class ThreadBatch(Generic[T, R]):
    """Requests that arrive together, done in one thread call: ``work(items)`` returns one result each, in order.

    While a call runs, new requests wait for the next one: a storm of
    thousands costs a few thread hops, not thousands queued in front of the
    event loop.  If ``work`` raises, each request of that batch gets
    ``fault(exc)`` (which also says what failed, in the log); the next batch
    is tried anew.
    """

    def __init__(self, name: str, work: Callable[[list[T]], list[R]], fault: Callable[[Exception], Exception]) -> None:
        self.name = name
        self._work = work
        self._fault = fault
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._worker: asyncio.Task[None] | None = None

    def submit(self, item: T) -> asyncio.Future[R]:
        """Queue ``item``; return the future of its result."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, done))
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain(), name=self.name)
        return done

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = await asyncio.to_thread(self._work, [item for item, _ in batch])
            except Exception as exc:
                error = self._fault(exc)
                for _, done in batch:
                    if not done.done():  # an asker that was cancelled meanwhile cancelled its future
                        done.set_exception(error)
                continue
            for (_, done), result in zip(batch, results, strict=True):
                if not done.done():
                    done.set_result(result)
