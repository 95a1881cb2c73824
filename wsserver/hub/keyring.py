"""Public keys for end-to-end encryption, and the server's part in it: keep, tell, and check the shapes.

Pages encrypt and decrypt (WebCrypto, in ``web/e2e.js``); the server never
sees a private key, a passphrase or a plain text of an encrypted message.
What it does: keep each identity's current public key per device
(:class:`~wsserver.store.base.Keys`, durable for every process and node; the
last published wins), tell everyone in the channel when one is published
(here at once, elsewhere through the store's events), give a joiner the keys
of the users present after the users list, and check that what claims to be
encrypted is an envelope and that ``--encrypted-channels`` get nothing else.

An envelope is ``e2e1.`` and base64url (docs/protocol.md "End-to-end
encryption"): a plain message may not take that form, so a line that has it
was sent as encrypted.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from .. import protocol
from ..channels.channel import Channel
from ..store.base import Events, Keys, StoreError

log = logging.getLogger("wsserver.keyring")  # the name operators know from the log (docs/operations.md)


@dataclass(frozen=True)
class Key:
    """A page's public key (a P-256 JWK: kty, crv, x, y), and its device (empty without one)."""

    public: dict[str, str]
    device: str = ""


def key_frame(channel: str, handle: str, key: Key) -> str:
    """Return the ``key`` event that tells a channel ``handle``'s key (and device)."""
    data: dict[str, Any] = {"channel": channel, "handle": handle, "public": key.public}
    if key.device:
        data["device"] = key.device
    return protocol.event_frame("key", data)


class Keyring:
    """Publish public keys and tell them: to the channel here, to the other processes, to joiners."""

    def __init__(self, keys: Keys, events: Events) -> None:
        self._keys = keys
        self._events = events

    async def publish(self, channel: Channel, handle: str, key: Key, devices: bool) -> None:
        """Keep ``key`` (``devices``: one of the identity's devices; else its one key) and tell everyone.

        Raises StoreError if the store failed.
        """
        await self._keys.publish(channel.name, handle, key.device if devices else "", key.public, only=not devices)
        told = key if devices else Key(key.public)
        channel.send_frame(key_frame(channel.name, handle, told))
        self._events.publish({"type": "key", "channel": channel.name, "handle": handle, "device": told.device,
                              "public": told.public})

    async def joined_frames(self, channel: str, handles: Collection[str]) -> list[str]:
        """Return the ``key`` events of the users present (those with keys), for a joiner."""
        try:
            found = await self._keys.get(channel, handles)
        except StoreError:
            log.warning("could not read the public keys of %s", channel, exc_info=True)
            return []
        return [key_frame(channel, handle, Key(public, device))
                for handle in sorted(found, key=str.lower) for device, public in sorted(found[handle].items())]

    @staticmethod
    def remote(channel: Channel, event: dict[str, Any]) -> None:
        """A key published on another process or node: tell everyone here."""
        public, device, handle = event.get("public"), event.get("device", ""), event.get("handle")
        if isinstance(public, dict) and isinstance(device, str) and isinstance(handle, str):
            channel.send_frame(key_frame(channel.name, handle, Key(public, device)))
