"""Secrets handed to people (session cookies, invitation codes, bot keys) and how the stores keep them: hashed.

A secret is 256 random bits, written URL-safe.  Only its SHA-256 digest is
stored, so a copy of the data dir (or of the store) gives no one a session or an
invitation.  (Passwords are another matter: they are chosen by people and
hashed with Argon2id, slowly, by the hub; see :mod:`wsserver.hub.accounts`.)
"""

from __future__ import annotations

import hashlib
import secrets

SECRET_BYTES = 32


def new_secret(prefix: str = "") -> str:
    """Return a new random secret (256 bits, base64url), with ``prefix`` (``wsb_`` for a bot key)."""
    return prefix + secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    """Return what a store keeps of ``secret``: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def invite_record(now: float, uses: int, days: float, op: bool = False, handle: str | None = None) -> dict[str, object]:
    """Return what a store keeps of an invitation: uses left, its end, whether it makes an operator, for whom."""
    return {"uses": uses, "expires": now + days * 86400, "op": op, "handle": handle or "", "created": now}
