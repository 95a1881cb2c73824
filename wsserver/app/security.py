"""Who may open a chat socket: checks made on the HTTP request, before the upgrade.

* the query string is bounded;
* a browser's ``Origin`` must be allowed (cross-site WebSocket hijacking);
* with a secret configured, a signed token names the handle (PyJWT, HS256):
  the site's, or a resume token this server gave the client for its reconnects;
* the client address (from trusted proxies' headers only) has a socket quota.

Each check answers with an HTTP status and a sentence, so a refused
browser never gets a socket at all.

PyJWT is imported where a token is first checked or made, not with this
module: it brings the ``cryptography`` package (about 9 MB a process) that a
server without ``--jwt-secret`` never uses.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from ..config import Network, valid_handle
from ..errors import Refusal
from ..protocol import Code

# Limits
MAX_QUERY_BYTES = 2048


_DEFAULT_PORTS = {"http": 80, "https": 443}


def refusal_response(refusal: Refusal) -> web.Response:
    """Return the HTTP answer to a refused request: its status, and its sentence as the body."""
    return web.Response(status=refusal.status, text=refusal.sentence + "\n")


def check_query(request: web.Request, most: int = MAX_QUERY_BYTES) -> None:
    """Refuse a query string over ``most`` bytes (414)."""
    if len(request.query_string.encode()) > most:
        raise Refusal(414, Code.QUERY_TOO_LONG)


def _authority(scheme: str, netloc: str) -> tuple[str, int] | None:
    """Return (host, port) of ``netloc``, with the scheme's default port filled in; None if malformed."""
    parts = urlsplit("//" + netloc)
    try:
        port = parts.port
    except ValueError:
        return None
    return (parts.hostname or "", port or _DEFAULT_PORTS[scheme])


def check_origin(request: web.Request, allowed: tuple[str, ...] | None) -> None:
    """Refuse (403) a browser whose ``Origin`` is not allowed.

    No ``Origin`` header (not a browser) is allowed. With ``allowed`` unset the
    origin must name the host the request was made to (same-origin); ``*``
    allows every origin.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return
    if allowed is not None:
        if "*" in allowed or origin.rstrip("/").lower() in allowed:
            return
        raise Refusal(403, Code.ORIGIN_REFUSED)
    # The Host header carries no scheme (TLS may end at a proxy): both sides
    # take the origin's default port.
    parts = urlsplit(origin)
    if parts.scheme in _DEFAULT_PORTS:
        mine = _authority(parts.scheme, parts.netloc)
        if mine is not None and mine == _authority(parts.scheme, request.host):
            return
    raise Refusal(403, Code.ORIGIN_REFUSED)


@dataclass(frozen=True)
class Identity:
    """Who a valid token says the client is, and whether it is an operator of the channel it joins."""

    handle: str
    operator: bool = False
    session: str | None = None  # with accounts: the digest of the session that signed it in (None: a token)


def token_identity(request: web.Request, secret: str, channel: str | None = None) -> Identity:
    """Return the handle a valid token names (its ``sub``) and whether it may moderate; refuse (401) anything else.

    A channel operator's token carries ``"op": true`` (every channel) or
    ``"ops": [CHANNEL, ...]``; a resume token carries ``op`` for its channel.

    The token is ``?token=`` or an ``Authorization: Bearer`` header.  Either
    the site's token: HS256-signed with ``secret``, with ``sub`` and ``exp``;
    or a resume token this server issued (:func:`resume_token`), which is
    valid for the channel it names only (``channel``, else ``?channel=``).
    ``alg: none`` and every other algorithm are refused.
    """
    token = request.query.get("token")
    if not token:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else ""
    if not token:
        raise Refusal(401, Code.AUTH_FAILED)
    import jwt  # late: see the module's docstring

    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        claims = _resume_claims(token, secret, channel if channel is not None else request.query.get("channel", ""))
    handle = claims.get("sub")
    if not isinstance(handle, str) or not valid_handle(handle):
        raise Refusal(401, Code.AUTH_FAILED)
    wanted = channel if channel is not None else request.query.get("channel", "")
    ops = claims.get("ops")
    operator = claims.get("op") is True or (isinstance(ops, list) and wanted in ops)
    return Identity(handle, operator)


@functools.cache  # one HMAC per secret, not one per issued or checked token
def _resume_key(secret: str) -> bytes:
    # A key of its own, derived from the secret: a resume token is no site
    # token, so it cannot be replayed at whatever else the site's secret signs.
    return hmac.new(secret.encode(), b"wsserver resume token", hashlib.sha256).digest()


def _resume_claims(token: str, secret: str, channel: str) -> dict[str, object]:
    import jwt  # late: see the module's docstring

    try:
        claims: dict[str, object] = jwt.decode(token, _resume_key(secret), algorithms=["HS256"],
                                               options={"require": ["exp", "sub", "ch", "typ"]})
    except jwt.PyJWTError:
        raise Refusal(401, Code.AUTH_FAILED) from None
    if claims.get("typ") != "resume" or claims.get("ch") != channel:
        raise Refusal(401, Code.AUTH_FAILED)
    return claims


def resume_token(secret: str, handle: str, channel: str, ttl: int, operator: bool = False) -> tuple[str, int]:
    """Return a token that lets ``handle`` back into ``channel`` for ``ttl`` seconds, and its expiry (Unix time).

    An operator of the channel stays one through its resume tokens (``"op": true``).
    """
    expires = int(time.time()) + ttl
    claims: dict[str, object] = {"sub": handle, "ch": channel, "typ": "resume", "exp": expires}
    if operator:
        claims["op"] = True
    import jwt  # late: see the module's docstring

    return jwt.encode(claims, _resume_key(secret), algorithm="HS256"), expires


def client_address(request: web.Request, trusted: tuple[Network, ...]) -> str:
    """Return the client's address: the peer, or what a trusted proxy says it forwarded for."""
    peer = request.remote or ""
    if not trusted or not within(peer, trusted):
        return peer
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded:
        # The proxies append; walk back past every trusted hop to the client.
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not within(hop, trusted):
                return hop
        return hops[0] if hops else peer
    return request.headers.get("X-Real-IP", "").strip() or peer


def via_trusted_proxy(request: web.Request, trusted: tuple[Network, ...]) -> bool:
    """Return whether the request's peer is a trusted proxy (whose forwarded headers are believed)."""
    return bool(trusted) and within(request.remote or "", trusted)


def within(address: str, networks: tuple[Network, ...]) -> bool:
    """Return whether ``address`` (an IP address as text) is in one of ``networks``."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


class AddressQuota:
    """Count open sockets per client address and refuse (429) past the limit; 0 means no limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    def take(self, address: str) -> None:
        """Count one more socket for ``address``, or raise :class:`Refusal`."""
        if self.limit and self._open[address] >= self.limit:
            raise Refusal(429, Code.TOO_MANY_CONNECTIONS)
        self._open[address] += 1

    def give_back(self, address: str) -> None:
        """Count one socket fewer for ``address``."""
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]
