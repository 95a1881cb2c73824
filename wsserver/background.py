"""Background work done the same way everywhere: stopping tasks, retrying with backoff, a share at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")


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
