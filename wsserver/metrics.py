"""What ``GET /metrics`` reports, in the Prometheus text format (prometheus-client).

It imports nothing of the package: the stores count with it without loading the
protocol or the web server.  The reason labels of refusals are the doors'
(:mod:`wsserver.chat`, :mod:`wsserver.conversation`).  Each application has a
registry of its own, so several servers in one process (tests) do not share
counters.  With ``--workers`` each worker
counts for itself; a scrape through the shared port reaches one of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class Metrics:
    """The server's counters and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge("wsserver_connections", "Open chat sockets, by channel", ["channel"], registry=r)
        self.irc_connections = Gauge("wsserver_irc_connections", "Open IRC connections (registered or not)", registry=r)
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
        self.log_flushes = Counter(
            "wsserver_log_flushes", "Flushes of the logs to disk (--fsync always: per line; batch: per round), "
            "done or failed", ["result"], registry=r,
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
