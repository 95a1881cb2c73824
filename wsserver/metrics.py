"""What ``GET /metrics`` reports, in the Prometheus text format (prometheus-client).

Each application has a registry of its own, so several servers in one
process (tests) do not share counters.  With ``--workers`` each worker
counts for itself; a scrape through the shared port reaches one of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from . import protocol, security

# The reason label of a refused message, by the sentence the client was sent.
_REASONS = {
    protocol.INVALID_FORMAT: "invalid_format",
    protocol.BINARY_FRAME: "binary_frame",
    protocol.EMPTY_MESSAGE: "empty",
    protocol.RATE_LIMITED: "rate_limited",
    protocol.NOT_SAVED: "not_saved",
    protocol.USER_NOT_FOUND: "user_not_found",
    protocol.BAD_CURSOR: "bad_cursor",
    protocol.BAD_AROUND: "bad_cursor",
    protocol.BAD_AFTER: "bad_cursor",
    protocol.UNAVAILABLE: "unavailable",
    protocol.NOT_UNICODE: "not_unicode",
}


# The reason label of a refused join or socket, by its sentence.
_JOIN_REASONS = {
    protocol.NO_CHANNEL: "no_channel",
    protocol.NO_HANDLE: "no_handle",
    protocol.HANDLE_TAKEN: "handle_taken",
    protocol.TOO_MANY_CHANNELS: "too_many_channels",
    protocol.UNAVAILABLE: "unavailable",
    security.QUERY_TOO_LONG: "query_too_long",
    security.ORIGIN_REFUSED: "origin",
    security.AUTH_FAILED: "authentication",
    security.TOO_MANY_CONNECTIONS: "too_many_connections",
}


def join_reason(sentence: str) -> str:
    """Return the label for a refused join (or a socket refused before the upgrade)."""
    return _JOIN_REASONS.get(sentence, "other")


def reason(sentence: str) -> str:
    """Return the label for a refusal sentence."""
    if sentence.startswith("Message is too long"):
        return "too_long"
    if sentence.startswith("Unknown message type"):
        return "unknown_type"
    return _REASONS.get(sentence, "other")


class Metrics:
    """The server's counters and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge("wsserver_connections", "Open chat sockets, by channel", ["channel"], registry=r)
        self.messages = Counter("wsserver_messages_accepted", "Chat and private messages written", ["kind"], registry=r)
        self.refused = Counter("wsserver_messages_refused", "Client frames refused, by reason", ["reason"], registry=r)
        self.joins_refused = Counter("wsserver_joins_refused", "Joins refused, by reason", ["reason"], registry=r)
        self.fanned_out = Counter(
            "wsserver_lines_fanned_out", "Log lines queued to connections (lines x receivers)", registry=r
        )
        self.stalled = Counter("wsserver_stalled_readers_dropped", "Connections closed for not reading", registry=r)
        self.count_stall = self.stalled.inc  # one bound method for every outbox, not one each
        self.history_reads = Counter(
            "wsserver_history_reads", "Reads of earlier lines: join backlog, resume, page, jump", ["kind"], registry=r
        )
        self.searches = Counter(
            "wsserver_searches", "Searches answered: done, or partial (cut off by --search-seconds)", ["result"],
            registry=r,
        )

        self.redis_connections = Gauge(
            "wsserver_redis_connections", "Connections Redis has from this node (CLIENT LIST), at scrape time",
            registry=r,
        )
        self.redis_reader_lag = Gauge(
            "wsserver_redis_reader_lag_seconds",
            "Seconds between the newest stream entry the node's readers delivered and its delivery", registry=r,
        )
        self.redis_reader_connections = Gauge(
            "wsserver_redis_reader_connections", "Connections following streams: doorbells and reads (2)", registry=r,
        )

    def watch_tail_lag(self, tailers: Callable[[], Iterable[tuple[str, int, int]]]) -> None:
        """Report, at each scrape, how far each tailer is behind the end of its file."""
        self.registry.register(_TailLag(tailers))


class _TailLag(Collector):
    def __init__(self, tailers: Callable[[], Iterable[tuple[str, int, int]]]) -> None:
        self._tailers = tailers

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "wsserver_tail_lag_bytes", "Bytes between a tailer's position and the end of its file", labels=["file"]
        )
        for name, fd, offset in self._tailers():
            try:
                family.add_metric([name], max(0, os.fstat(fd).st_size - offset))
            except OSError:
                continue
        yield family
