"""Public keys in Redis: a hash per channel, ``wsserver:pubkeys:<channel>``, on the channel's shard.

Fields are ``<handle>|<device>`` (the handle lower-cased), values the public key as JSON. A publish
that replaces the identity's other devices is one script, so it never interleaves with another.
"""

from __future__ import annotations

import json
from typing import Any

from ..base import StoreError
from .keys import RedisFault
from .scripts import run_script
from .shards import Shards

# KEYS: the hash. ARGV: the field prefix "<handle>|", the field, the value, "1" to drop the prefix's other fields.
PUBLISH_KEY = """
if ARGV[4] == '1' then
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(field, 1, #ARGV[1]) == ARGV[1] then redis.call('HDEL', KEYS[1], field) end
  end
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1
"""


class RedisKeys:
    """Public keys in one hash per channel."""

    def __init__(self, shards: Shards) -> None:
        self._shards = shards

    async def publish(self, channel: str, handle: str, device: str, key: dict[str, Any], only: bool) -> None:
        """HSET the device's field (one script, dropping the other devices' with ``only``)."""
        link = self._shards.link(channel)
        prefix = handle.lower() + "|"
        try:
            value = json.dumps({"handle": handle, "key": key})
            await run_script(link.client, PUBLISH_KEY, [link.keys.pubkeys(channel)],
                             [prefix, prefix + device, value, "1" if only else "0"])
        except RedisFault as exc:
            raise StoreError(f"Redis did not store a public key: {exc}") from exc

    async def get(self, channel: str, handles: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """HGETALL the channel's hash, keeping the handles asked for."""
        link = self._shards.link(channel)
        try:
            stored = await link.client.hgetall(link.keys.pubkeys(channel))
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer a read of public keys: {exc}") from exc
        wanted = {handle.lower(): handle for handle in handles}
        found: dict[str, dict[str, dict[str, Any]]] = {}
        for field, value in stored.items():
            who, _, device = field.decode().partition("|")
            if who in wanted:
                try:
                    found.setdefault(wanted[who], {})[device] = json.loads(value)["key"]
                except (ValueError, KeyError, TypeError):
                    continue
        return found
