"""Limit how fast one connection may send: a token bucket."""

from __future__ import annotations

import time


class TokenBucket:
    """Allow ``rate`` events per second on average and ``burst`` at once; ``rate`` 0 allows all."""

    __slots__ = ("_burst", "_last", "_rate", "_tokens")  # two per connection

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = time.monotonic()

    def allow(self) -> bool:
        """Take a token if there is one; return whether the event may go ahead."""
        if self._rate <= 0:
            return True
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
