"""``wsserver export``: print a channel's lines exactly as a log file holds them, from either store.

With the file store this reads ``channel_<name>.log``; with a Redis store it
pages through the channel's stream with ``XRANGE``.  ``--since`` keeps the
lines stamped at or after a time (in ``--timezone``); on a stream it also
starts the read there, since entry IDs are append times.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import pendulum
import redis
from redis.exceptions import RedisError

from .admin import AdminError, existing_log
from .config import CHANNEL_RE, Config, redacted
from .logline import LINE_RE
from .redisstore import stream_key

PAGE = 1000  # entries per XRANGE


def parse_since(text: str, timezone: str) -> str:
    """Return ``text`` (a date or date and time in ``timezone``) as a log stamp ``YYYY-MM-DD HH:MM:SS``."""
    try:
        moment = pendulum.parse(text, tz=timezone)
    except Exception:
        raise AdminError(f"invalid --since value {text!r}: must be a date or time such as 2026-11-22 14:00") from None
    if not isinstance(moment, pendulum.DateTime):
        raise AdminError(f"invalid --since value {text!r}: must be a date or time such as 2026-11-22 14:00")
    return str(moment.in_timezone(timezone).format("YYYY-MM-DD HH:mm:ss"))


def export(config: Config, channel: str, since: str | None, out: TextIO) -> int:
    """Print the lines of ``channel`` (stamped at or after ``since``); return how many."""
    if not CHANNEL_RE.match(channel):
        raise AdminError(f"invalid channel name {channel!r}: must match {CHANNEL_RE.pattern}")
    stamp = parse_since(since, config.timezone) if since is not None else None
    lines = _file_lines(config.data_dir, channel) if config.store == "file" else _stream_lines(config, channel, stamp)
    count = 0
    keep = stamp is None
    for line in lines:
        if not keep:
            match = LINE_RE.match(line)
            keep = match is not None and stamp is not None and match.group(1) >= stamp
        if keep:
            out.write(line + "\n")
            count += 1
    return count


def _file_lines(data_dir: Path, channel: str) -> Iterator[str]:
    with existing_log(data_dir, channel).open("rb") as log:
        for raw in log:
            if raw.endswith(b"\n"):  # a line still being written is not exported
                yield raw[:-1].decode("utf-8", errors="replace")


def _stream_lines(config: Config, channel: str, stamp: str | None) -> Iterator[str]:
    client: Any = redis.Redis.from_url(config.store, socket_connect_timeout=5, socket_timeout=30)  # answers are bytes
    start = "-"
    if stamp is not None:
        moment = pendulum.from_format(stamp, "YYYY-MM-DD HH:mm:ss", tz=config.timezone)
        start = f"{int(moment.timestamp() * 1000)}-0"
    key = stream_key(channel)
    try:
        if not client.exists(key):
            raise AdminError(f"no stream for channel {channel!r} in Redis at {redacted(config.store)}")
        while True:
            entries = client.xrange(key, start, "+", count=PAGE)
            for _, fields in entries:
                yield fields.get(b"line", b"").decode("utf-8", errors="replace")
            if len(entries) < PAGE:
                return
            start = "(" + entries[-1][0].decode()
    except RedisError as exc:
        raise AdminError(f"cannot read from Redis at {redacted(config.store)}: {exc}") from None
    finally:
        client.close()
