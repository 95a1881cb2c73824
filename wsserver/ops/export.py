"""``wsserver export``: print a channel's lines exactly as a log file holds them, from either store.

With the file store this reads ``channel_<name>.log``; with a Redis store it
pages through the channel's stream with ``XRANGE``.  ``--since`` keeps the
lines stamped at or after a time (in ``--timezone``); on a stream it also
starts the read there, since entry IDs are append times.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

import pendulum

from ..config import CHANNEL_RE, Config
from ..logline import LINE_RE
from ..store.redis import stream_entries
from .files import AdminError, existing_log
from .redis import client_of, existing_stream


def parse_since(text: str, timezone: str) -> str:
    """Return ``text`` (a date or date and time in ``timezone``) as a log stamp ``YYYY-MM-DD HH:MM:SS``."""
    try:
        moment = pendulum.parse(text, tz=timezone)
    except Exception:
        raise AdminError(f"invalid --since value {text!r}: must be a date or time such as 2026-11-22 14:00") from None
    if not isinstance(moment, pendulum.DateTime):
        raise AdminError(f"invalid --since value {text!r}: must be a date or time such as 2026-11-22 14:00")
    return str(moment.in_timezone(timezone).format("YYYY-MM-DD HH:mm:ss"))


async def export(config: Config, channel: str, since: str | None, out: TextIO) -> int:
    """Print the lines of ``channel`` (stamped at or after ``since``); return how many."""
    if not CHANNEL_RE.match(channel):
        raise AdminError(f"invalid channel name {channel!r}: must match {CHANNEL_RE.pattern}")
    stamp = parse_since(since, config.timezone) if since is not None else None
    lines = _file_lines(config.data_dir, channel) if config.store == "file" else _stream_lines(config, channel, stamp)
    count = 0
    keep = stamp is None
    async for line in lines:
        if not keep:
            match = LINE_RE.match(line)
            keep = match is not None and stamp is not None and match.group(1) >= stamp
        if keep:
            out.write(line + "\n")
            count += 1
    return count


async def _file_lines(data_dir: Path, channel: str) -> AsyncIterator[str]:
    with existing_log(data_dir, channel).open("rb") as log:
        for raw in log:
            if raw.endswith(b"\n"):  # a line still being written is not exported
                yield raw[:-1].decode("utf-8", errors="replace")


async def _stream_lines(config: Config, channel: str, stamp: str | None) -> AsyncIterator[str]:
    start = "-"
    if stamp is not None:
        moment = pendulum.from_format(stamp, "YYYY-MM-DD HH:mm:ss", tz=config.timezone)
        start = f"{int(moment.timestamp() * 1000)}-0"
    async with client_of(config) as client:
        key = await existing_stream(client, config, channel)
        async for _, line in stream_entries(client, key, start):
            yield (line or b"").decode("utf-8", errors="replace")
