"""The Redis store: channel logs as Redis Streams and handles in Redis, for nodes on several machines.

Modules, named like their file counterparts where they play the same role:
:mod:`.store` (the :class:`~.store.RedisStore`), :mod:`.feed` (one stream as
a feed), :mod:`.handles` (handles claimed across nodes), :mod:`.actions` (the
moderation stream), :mod:`.events` (typing over pub/sub), :mod:`.finder`
(search and jumps), :mod:`.admin` (what the operator commands read and
write).  Only Redis has :mod:`.shards` (which Redis holds a channel: one, a
cluster, or shards), :mod:`.link` (one Redis's pools and health),
:mod:`.reader` (one reader per shard for all its streams), :mod:`.appender`
(pipelined appends), :mod:`.keys` (key names per layout) and :mod:`.scripts`
(the Lua scripts).
"""
