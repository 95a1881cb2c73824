"""JSON Web Tokens as a site that signs in its users would issue them."""

from __future__ import annotations

import time
from typing import Any

import jwt

SECRET = "a-test-secret-of-at-least-32-bytes!!"


def token(sub: Any = "Alice", expires_in: float = 60, secret: str = SECRET, **claims: Any) -> str:
    """Return an HS256 token for ``sub`` (None: no subject) with ``claims``, valid ``expires_in`` seconds."""
    payload = {"sub": sub, "exp": int(time.time() + expires_in), **claims}
    if sub is None:
        del payload["sub"]
    return jwt.encode(payload, secret, algorithm="HS256")
