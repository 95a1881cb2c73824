"""Public keys in Redis: a hash per channel, ``wsserver:pubkeys:<channel>``, on the channel's shard.

A field per identity (the handle lower-cased), its value ``{"handle", "devices": {device: key}}`` as
JSON; a publish changes it in one script, so devices publishing at once each keep their key.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from ..base import StoreError
from .keys import RedisFault
from .scripts import run_script
from .shards import Shards

# KEYS: the hash. ARGV: the field (lower-cased handle), the handle, the device, the key as JSON, "1" for
# the identity's one key (its other devices' are dropped).
PUBLISH_KEY = """
local stored = redis.call('HGET', KEYS[1], ARGV[1])
local devices = {}
if stored and ARGV[5] ~= '1' then
  local ok, decoded = pcall(cjson.decode, stored)
  if ok and type(decoded) == 'table' and type(decoded.devices) == 'table' then devices = decoded.devices end
end
devices[ARGV[3]] = cjson.decode(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({handle = ARGV[2], devices = devices}))
return 1
"""


class RedisKeys:
    """Public keys in one hash per channel."""

    def __init__(self, shards: Shards) -> None:
        self._shards = shards

    async def publish(self, channel: str, handle: str, device: str, key: dict[str, Any], only: bool) -> None:
        """Change the identity's field (one script)."""
        link = self._shards.link(channel)
        try:
            await run_script(link.client, PUBLISH_KEY, [link.keys.pubkeys(channel)],
                             [handle.lower(), handle, device, json.dumps(key), "1" if only else "0"])
        except RedisFault as exc:
            raise StoreError(f"Redis did not store a public key: {exc}") from exc

    async def get(self, channel: str, present: Collection[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """HGETALL the channel's keys; keep those of ``present``."""
        link = self._shards.link(channel)
        try:
            stored = await link.client.hgetall(link.keys.pubkeys(channel))
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer a read of public keys: {exc}") from exc
        found: dict[str, dict[str, dict[str, Any]]] = {}
        for value in stored.values():
            try:
                kept = json.loads(value)
                handle, devices = kept["handle"], kept["devices"]
            except (ValueError, KeyError, TypeError):
                continue
            if handle in present and isinstance(devices, dict) and devices:
                found[handle] = devices
        return found
