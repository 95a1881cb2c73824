"""Casting and checking one setting's raw text (command line or environment) into its value.

Each function raises ValueError with the end of a sentence that names what
is wrong ("must be a whole number from 1 to 64"); :mod:`wsserver.config`
puts the option's flag and the value in front of it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path

import pendulum

CHANNEL_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
CHANNEL_HINT = "1 to 32 of a-z, 0-9, - and _, starting with a letter or digit"  # the rule as people read it

def integer(low: int, high: int | None = None) -> Callable[[str], int]:
    def cast(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ValueError(f"must be a whole number {bound}")
        return value

    return cast


def number(low: float, strictly_above: bool = False) -> Callable[[str], float]:
    def cast(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError("must be a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        if value < low or (strictly_above and value == low):
            raise ValueError(f"must be a number {'above' if strictly_above else 'of at least'} {low:g}")
        return value

    return cast


def channels(raw: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in raw.split(","))
    if not any(names):
        raise ValueError("must name at least one channel")
    if not all(names):
        raise ValueError("has an empty channel name (two commas in a row, or one at either end)")
    for name in names:
        if not CHANNEL_RE.match(name):
            raise ValueError(f"channel name {name!r} must match {CHANNEL_RE.pattern}")
    if len(set(names)) != len(names):
        raise ValueError("names a channel twice")
    return names


def boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false (1/0, yes/no, on/off)")


def origins(raw: str) -> tuple[str, ...]:
    origins = []
    for part in (p.strip().rstrip("/").lower() for p in raw.split(",")):
        if not part:
            continue
        if part != "*" and not re.match(r"^https?://[^/\s]+$", part):
            raise ValueError(f"{part!r} must be * or an origin such as https://chat.example.org")
        origins.append(part)
    if not origins:
        raise ValueError("must name at least one origin, or *")
    return tuple(origins)


def choice(*allowed: str) -> Callable[[str], str]:
    def cast(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError("must be one of " + ", ".join(allowed))
        return value

    return cast


def public_url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", value, re.I):
        raise ValueError("must be an http:// or https:// address such as https://chat.example.org")
    return value


def irc_name(raw: str) -> str:
    value = raw.strip()
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$", value):
        raise ValueError("must be a host-like name of letters, digits, dots and dashes, such as irc.example.org")
    return value


def irc_operators(raw: str) -> tuple[tuple[str, str], ...]:
    """``NAME:PASSWORD[,NAME:PASSWORD...]``: the IRC operators' names and passwords (for ``OPER``)."""
    found = []
    for entry in raw.split(","):
        name, _, password = entry.strip().partition(":")
        if not re.match(r"^[A-Za-z0-9_-]{1,32}$", name) or len(password) < 8:
            raise ValueError("must be NAME:PASSWORD pairs, separated by commas, each password of 8 characters "
                             "or more, such as alice:a-long-secret")
        found.append((name, password))
    return tuple(found)


def secret(raw: str) -> str:
    if len(raw.encode()) < 32:
        raise ValueError("must be at least 32 bytes (HS256 wants a 256-bit key)")
    return raw


def timezone(raw: str) -> str:
    name = raw.strip()
    try:
        pendulum.timezone(name)
    except Exception:
        raise ValueError("must be an IANA time zone name such as UTC or Europe/Paris") from None
    return name


def log_level(raw: str) -> str:
    name = raw.strip().upper()
    if name not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return name


def host(raw: str) -> str:
    host = raw.strip()
    if not host:
        raise ValueError("must not be empty")
    if re.match(r"^[0-9.]+$", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError("is not an IPv4 address (four numbers from 0 to 255)") from None
    elif ":" in host:
        try:
            ipaddress.IPv6Address(host.strip("[]"))
        except ValueError:
            raise ValueError("is not an IPv6 address") from None
    return host


SENTINEL_URL_RE = re.compile(
    r"^redis\+sentinel://(?:(?P<username>[^:@/]*)(?::(?P<password>[^@]*))?@)?"
    r"(?P<hosts>[^/@\s]+)/(?P<service>[^/\s]+)(?:/(?P<db>[0-9]+))?$"
)
"""``redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/SERVICE[/DB]``: the master Sentinel names."""


MANY_URL_RE = re.compile(
    r"^redis\+(?P<layout>cluster|shards)://(?:(?P<username>[^:@/]*)(?::(?P<password>[^@]*))?@)?"
    r"(?P<hosts>[^/@\s]+?)(?:/(?P<db>[0-9]+))?$"
)
"""``redis+cluster://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]`` (a Redis Cluster's seed nodes) and
``redis+shards://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...][/DB]`` (independent Redis servers, in order)."""


def store(raw: str) -> str:
    value = raw.strip()
    if value == "file" or re.match(r"^(redis|rediss|unix)://\S+$", value) or SENTINEL_URL_RE.match(value):
        return value
    many = MANY_URL_RE.match(value)
    if many is not None:
        if many["layout"] == "cluster" and many["db"] not in (None, "0"):
            raise ValueError("a Redis Cluster has only database 0")
        for host in many["hosts"].split(","):
            if not re.match(r"^(\[[0-9a-fA-F:]+\]|[\w.-]+):[0-9]{1,5}$", host):
                raise ValueError(f"{host!r} is not HOST:PORT in {redacted(value)}")
        return value
    raise ValueError("must be file, a Redis URL such as redis://127.0.0.1:6379/0, "
                     "redis+sentinel://HOST:26379[,HOST:26379...]/SERVICE[/DB], "
                     "redis+cluster://HOST:PORT[,HOST:PORT...] or redis+shards://HOST:PORT[,HOST:PORT...][/DB]")


def redacted(url: str) -> str:
    """Return ``url`` with any password replaced by ``***`` (for messages and logs)."""
    return re.sub(r"^([\w+]+://[^:/@]*:)[^@]*@", r"\1***@", url)


def path(raw: str) -> Path:
    if not raw.strip():
        raise ValueError("must not be empty")
    return Path(raw.strip())
