"""Where a store's own library errors stop: one decorator turns them into :class:`~wsserver.errors.StoreError`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from ..errors import StoreError

F = TypeVar("F", bound=Callable[..., Any])


def faults_become_store_errors(faults: tuple[type[Exception], ...],
                               describe: Callable[[Any, Exception], str]) -> Callable[[F], F]:
    """Decorate a store's coroutine (or async generator) method so that ``faults`` leave it as :class:`StoreError`.

    ``describe(self, exc)`` gives the message: what failed, in words.  This is
    where a store's own library errors (``OSError``, Redis errors) stop.
    """

    def decorate(method: F) -> F:
        if inspect.isasyncgenfunction(method):
            async def generate(self: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    async for item in method(self, *args, **kwargs):
                        yield item
                except faults as exc:
                    raise StoreError(describe(self, exc)) from exc

            return cast(F, functools.wraps(method)(generate))

        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(self, *args, **kwargs)
            except faults as exc:
                raise StoreError(describe(self, exc)) from exc

        return cast(F, functools.wraps(method)(call))

    return decorate
