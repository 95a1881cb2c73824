"""The frames of end-to-end encryption a client sends, and their sentences: ``key``, and the envelope form.

An envelope is ``e2e1.`` and base64url (docs/protocol.md "End-to-end
encryption"); :mod:`wsserver.protocol` checks that an ``encrypted`` message
is one and that a plain message is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import BadFrame

ENVELOPE_RE = re.compile(r"^e2e1\.[A-Za-z0-9_-]{16,}$")
DEVICE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_COORDINATE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # 32 bytes, base64url without padding

# Sentences
BAD_KEY = "Invalid key: public must be a P-256 public key (a JWK with kty EC, crv P-256, x and y)"
BAD_DEVICE = "Invalid key: device must be 1 to 64 letters, digits, - or _"
BAD_ENVELOPE = "Invalid encrypted message: message must be an envelope (e2e1. and base64url)"
PLAIN_ONLY = "This channel accepts only encrypted messages"


@dataclass(frozen=True)
class Key:
    """A page's public key, and its device (empty without one)."""

    public: dict[str, str]
    device: str = ""


def parse_key(payload: dict[str, Any]) -> Key:
    """Return the request of a ``key`` frame; raises :class:`BadFrame` with the sentence."""
    public, device = payload.get("public"), payload.get("device", "")
    if not isinstance(public, dict) or public.get("kty") != "EC" or public.get("crv") != "P-256" \
            or not all(isinstance(public.get(c), str) and _COORDINATE_RE.match(public[c]) for c in ("x", "y")) \
            or "d" in public:
        raise BadFrame(BAD_KEY)
    if device != "" and (not isinstance(device, str) or not DEVICE_RE.match(device)):
        raise BadFrame(BAD_DEVICE)
    return Key({"kty": "EC", "crv": "P-256", "x": public["x"], "y": public["y"]}, device)
