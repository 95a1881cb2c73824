"""The names of the store's keys in each layout, and which shard a channel lives on.

One Redis (``redis://``, ``redis+sentinel://``) and shards
(``redis+shards://``) use the names of the first Redis store, so an existing
deployment keeps its streams.  A Redis Cluster (``redis+cluster://``) puts the
channel in a hash tag (``wsserver:channel:{general}``): every key of one
channel (its streams, their epochs and doorbell flags, its users hash) is in
one slot, which the Lua scripts need, and different channels spread over the
masters.  The keys every node shares (node liveness, ``users-version``, the
channel sets) are the *home* keys: on shard 0, or in the cluster's ``{home}``
slot.

A channel's shard is the jump consistent hash (Lamping and Veach, 2014) of
the SHA-1 of its name over the number of shards: stable across processes and
restarts, and adding a shard moves only 1/N of the channels (to the new one).
"""

from __future__ import annotations

import hashlib

from redis.exceptions import RedisClusterException, RedisError

PREFIX = "wsserver:"
# What a Redis call raises when Redis does not do it: redis-py's errors, and its cluster client's
# (a slot with no master during a failover is a RedisClusterException, not a RedisError).
RedisFault = (RedisError, RedisClusterException)
_JUMP_MULTIPLIER = 2862933555777941757
_MASK = (1 << 64) - 1


def jump_hash(key: int, buckets: int) -> int:
    """Return the bucket (0 .. buckets-1) of a 64-bit ``key``: few keys move when ``buckets`` grows."""
    bucket, next_bucket = -1, 0
    while next_bucket < buckets:
        bucket = next_bucket
        key = (key * _JUMP_MULTIPLIER + 1) & _MASK
        next_bucket = int((bucket + 1) * (1 << 31) / ((key >> 33) + 1))
    return bucket


def shard_of(channel: str, shards: int) -> int:
    """Return the shard (0 .. shards-1) that holds ``channel``."""
    if shards <= 1:
        return 0
    return jump_hash(int.from_bytes(hashlib.sha1(channel.encode()).digest()[:8], "big"), shards)


class Keys:
    """Key names: plain (one Redis, shards) or hash-tagged per channel (a Redis Cluster)."""

    def __init__(self, tagged: bool = False) -> None:
        self.tagged = tagged
        home = PREFIX + ("{home}:" if tagged else "")
        self.version = home + "users-version"  # incremented on every change of a users hash
        self.version_channels = home + "users-version:channels"  # the channel of each version (a sorted set)
        self.channels = home + "channels"  # channels with a stream
        self.user_channels = home + "user-channels"  # channels with a users hash
        self.away_channels = home + "away-channels"  # channels that may hold away handles (a stopped node's)
        self.nodes = home + "nodes"  # the nodes that hold (or held) handles
        self._node_channels = home + "node-channels:"
        self.idle = PREFIX + "doorbells"  # PUB/SUB channel every reader subscribes to, published by nobody

    def node_channels(self, node: str) -> str:
        """Return the set of the channels where ``node`` claimed or changed handles (a superset of where it holds)."""
        return self._node_channels + node

    def _name(self, channel: str) -> str:
        return "{" + channel + "}" if self.tagged else channel

    def stream(self, channel: str, private: bool = False) -> str:
        """Return the stream of ``channel``'s public or private lines."""
        return f"{PREFIX}{'private' if private else 'channel'}:{self._name(channel)}"

    def epoch(self, stream: str) -> str:
        """Return the key of a stream's epoch (the identity part of its cursors)."""
        return PREFIX + "epoch:" + stream

    def rung(self, stream: str) -> str:
        """Return the flag that is set while a stream's doorbell rang and no node has read it since.

        An append publishes the doorbell only when it sets the flag; a reader
        deletes it just before it reads.  So a busy stream rings about once per
        read, not once per line, and no entry goes unread: an entry appended
        while the flag is set is read by the reads that the ring which set it
        causes.
        """
        return PREFIX + "rung:" + stream

    def users(self, channel: str) -> str:
        """Return the hash of ``channel``'s handles (lower-cased handle to ``<node>|<Handle>``)."""
        return PREFIX + "users:" + self._name(channel)

    def reads(self, channel: str) -> str:
        """Return the hash of ``channel``'s read positions (lower-cased handle to ``<log> <ordinal> <cursor>``)."""
        return PREFIX + "reads:" + self._name(channel)

    def pubkeys(self, channel: str) -> str:
        """Return the hash of ``channel``'s public keys (lower-cased handle to its devices' keys, as JSON)."""
        return PREFIX + "pubkeys:" + self._name(channel)

    def index(self, channel: str) -> str:
        """Return the string holding the snapshot of ``channel``'s annotation index (derived from its stream)."""
        return PREFIX + "index:" + self._name(channel)

    @staticmethod
    def node(node: str) -> str:
        """Return a node's liveness key."""
        return PREFIX + "node:" + node

    def parse(self, key: str) -> tuple[str, str] | None:
        """Return (kind, channel) of a stream or users key (kind ``channel``, ``private`` or ``users``), or None."""
        kind, colon, name = key.removeprefix(PREFIX).partition(":")
        if not colon or kind not in ("channel", "private", "users") or not key.startswith(PREFIX):
            return None
        if self.tagged:
            if not (name.startswith("{") and name.endswith("}")):
                return None
            name = name[1:-1]
        return kind, name
