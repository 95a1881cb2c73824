"""Waiting on state that has no event to await (files, Redis): poll it, with a deadline."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

TIMEOUT = 10.0


async def eventually(condition: Callable[[], bool | Awaitable[bool]], timeout: float = TIMEOUT,
                     what: str = "condition") -> None:
    """Poll ``condition`` (a function, or a coroutine function) until it holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not hold in {timeout} s")
        await asyncio.sleep(0.02)


def becomes(probe: Callable[[], Awaitable[Any]], wanted: Any) -> Callable[[], Awaitable[bool]]:
    """Return a condition for :func:`eventually`: ``await probe()`` equals ``wanted``."""

    async def check() -> bool:
        return bool(await probe() == wanted)

    return check
