"""The Lua scripts of the Redis store, and how they are run.

Every script touches the keys of one channel only (its stream, or its users
hash), so it runs in one slot of a Redis Cluster and on one shard.  What is
shared by every node is changed after it, on the home keys: :data:`BUMP`
records that a channel's users changed; a claim of a handle held by another
node asks that node's liveness key, then takes the handle over with
:data:`TAKE_OVER` only if the same holder still has it.

Away values are ``away:<until>:<announced 0|1>|<Handle>``: the users of a
stopped node, not held by anyone, until their grace ends.

A seat that several nodes hold for one token identity (its devices) has the
first node in the handle's field and each other node in a field
``<handle>#<node>``; whenever such fields exist the handle's own field does
too (a release, an expiry or a sweep of the first promotes another), so a
claim looks at one field and only the last release empties the seat.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from redis.exceptions import NoScriptError

CHANGES_KEPT = 100_000  # users-version:channels keeps the channel of this many last changes

# KEYS: stream, epoch, doorbell flag. ARGV: lines (one, or several joined by newlines: one entry
# each, all or none, as a file's single write), maxlen (0: untrimmed), a new epoch.
APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[2], ARGV[3]) end
local id
for line in string.gmatch(ARGV[1], '[^\\n]+') do
  if ARGV[2] == '0' then id = redis.call('XADD', KEYS[1], '*', 'line', line)
  else id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'line', line) end
end
if redis.call('SET', KEYS[3], '1', 'NX') then redis.call('PUBLISH', KEYS[1], id) end
return id
"""
# KEYS: users-version, users-version:channels, user-channels, nodes, node-channels of the node (home).
# ARGV: the node, then the channels that changed.
BUMP = f"""
local v = redis.call('INCR', KEYS[1])
redis.call('SADD', KEYS[4], ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[2], v, ARGV[i])
  redis.call('SADD', KEYS[3], ARGV[i])
  redis.call('SADD', KEYS[5], ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', v - {CHANGES_KEPT})
return v
"""
# KEYS: reads. ARGV: field, log, ordinal, cursor. Stores "log ordinal cursor" unless the stored
# position is of the same log and not before it (Place.after); answers 1 if it moved.
ADVANCE_READ = """
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored then
  local log, ordinal = string.match(stored, '^(%S+) (%d+) ')
  if log == ARGV[2] and ordinal >= ARGV[3] then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])
return 1
"""
# KEYS: users. ARGV: field, value. Answers {status, holder}: status 'mine' (no change), 'taken',
# 'back' (it was away) or 'held' (holder: the value of the node that holds it, live or not).
CLAIM = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held == ARGV[2] then return {'mine', ''} end
if held and string.sub(held, 1, 5) == 'away:' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return {'back', ''}
end
if held then return {'held', held} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'taken', ''}
"""
# KEYS: users. ARGV: field, the value of the dead holder, the new value.
TAKE_OVER = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""
# KEYS: users. ARGV: node, until, now. Answers {first, changed}: first is 1 if no other node's
# users are away in the channel (the node announces a restart), changed if it marked any.
MARK_AWAY = """
local fields = redis.call('HGETALL', KEYS[1])
local restarting, mine = false, {}
for i = 1, #fields, 2 do
  local node, handle = string.match(fields[i + 1], '^([^|]*)|(.*)$')
  if node == ARGV[1] then
    table.insert(mine, {fields[i], handle})
  else
    local until_ = tonumber(string.match(fields[i + 1], '^away:([^:]*):'))
    if until_ and until_ > tonumber(ARGV[3]) then restarting = true end
  end
end
for _, held in ipairs(mine) do
  redis.call('HSET', KEYS[1], held[1], 'away:' .. ARGV[2] .. ':0|' .. held[2])
end
local first = 0
if #mine > 0 and not restarting then first = 1 end
return {first, #mine}
"""
# KEYS: users. Answers 1 if it flagged away handles and none was flagged before.
ANNOUNCE_BACK = """
local fields = redis.call('HGETALL', KEYS[1])
local flagged, fresh = false, {}
for i = 1, #fields, 2 do
  local flag = string.match(fields[i + 1], '^away:[^:]*:(%d)|')
  if flag == '1' then flagged = true elseif flag == '0' then table.insert(fresh, i) end
end
for _, i in ipairs(fresh) do
  redis.call('HSET', KEYS[1], fields[i], (string.gsub(fields[i + 1], '^(away:[^:]*):0|', '%1:1|')))
end
if #fresh > 0 and not flagged then return 1 end
return 0
"""
# Lua: move a field <main>#<node> of `left` (field -> value) into <main>; true if there was one.
_PROMOTE = """
local function fields_of(key)
  local left, all = {}, redis.call('HGETALL', key)
  for i = 1, #all, 2 do left[all[i]] = all[i + 1] end
  return left
end
local function promote(key, main, left)
  for field, value in pairs(left) do
    if string.sub(field, 1, #main + 1) == main .. '#' then
      redis.call('HSET', key, main, value)
      redis.call('HDEL', key, field)
      left[field] = nil
      return value
    end
  end
  return nil
end
"""
# KEYS: users. ARGV: now. Answers {away handles left, the handles whose grace ended (removed)...}:
# a handle another node still holds (a device of the identity) is not in the answer (no leave line).
EXPIRE_AWAY = _PROMOTE + """
local fields = redis.call('HGETALL', KEYS[1])
local answer, expired, left, told = {0}, {}, {}, {}
for i = 1, #fields, 2 do
  local until_, handle = string.match(fields[i + 1], '^away:([^:]*):%d|(.*)$')
  if until_ and tonumber(until_) <= tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[1], fields[i])
    table.insert(expired, {string.match(fields[i], '^([^#]*)'), handle})
  else
    if until_ then answer[1] = answer[1] + 1 end
    left[fields[i]] = fields[i + 1]
  end
end
for _, gone in ipairs(expired) do
  local main = gone[1]
  if not left[main] then left[main] = promote(KEYS[1], main, left) end
  if not left[main] and not told[main] then
    told[main] = true
    table.insert(answer, gone[2])
  end
end
return answer
"""
# KEYS: users. ARGV: field, the field <field>#<node>, value. A shared claim beside a live holder:
# answers 'shared', or 'taken' if the seat was emptied meanwhile, or 'mine'.
SHARE = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if not held then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 'taken'
end
if held == ARGV[3] then return 'mine' end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 'shared'
"""
# KEYS: users. ARGV: field, the field <field>#<node>, value. Gives a shared claim back: answers
# 'kept' (another node still holds the seat; the first of them now in the handle's field), 'last'
# (the seat is empty now), or 'gone' (this node held neither field).
RELEASE_SHARED = _PROMOTE + """
if redis.call('HGET', KEYS[1], ARGV[2]) == ARGV[3] then
  redis.call('HDEL', KEYS[1], ARGV[2])
  return 'kept'
end
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[3] then return 'gone' end
redis.call('HDEL', KEYS[1], ARGV[1])
if promote(KEYS[1], ARGV[1], fields_of(KEYS[1])) then return 'kept' end
return 'last'
"""
# KEYS: users. ARGV: field. After a dead node's hold of the handle's field was dropped: promote
# another node's field of the same seat, if any; answers 1 if it did.
PROMOTE = _PROMOTE + """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if promote(KEYS[1], ARGV[1], fields_of(KEYS[1])) then return 1 end
return 0
"""
# KEYS: users. ARGV: field, value. Answers 1 if it was held with that value (now removed).
RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


@functools.cache
def sha1(source: str) -> str:
    """Return the SHA-1 that EVALSHA knows ``source`` by."""
    return hashlib.sha1(source.encode()).hexdigest()


async def run_script(client: Any, source: str, keys: list[str], args: list[str]) -> Any:
    """Run a Lua script by its SHA1 (EVALSHA), sending its text only when Redis does not have it yet."""
    try:
        return await client.evalsha(sha1(source), len(keys), *keys, *args)
    except NoScriptError:  # a new or restarted Redis (or cluster node): EVAL loads it
        return await client.eval(source, len(keys), *keys, *args)


async def run_script_each(client: Any, source: str, calls: list[tuple[list[str], list[str]]]) -> list[Any]:
    """Run a script once per (keys, args) in one pipeline; return each answer, or the error it raised.

    Sent as ``EVALSHA`` commands, not ``pipe.evalsha()``: redis-py's cluster
    pipeline refuses that method but routes the command by its keys like any
    other.  If Redis does not have the script yet, it is loaded and the
    pipeline sent once more.  Raises what the pipeline itself raised.
    """
    for attempt in range(2):
        pipe = client.pipeline(transaction=False)
        for keys, args in calls:
            pipe.execute_command("EVALSHA", sha1(source), len(keys), *keys, *args)
        results: list[Any] = await pipe.execute(raise_on_error=False)
        if attempt == 0 and any(isinstance(result, NoScriptError) for result in results):
            await client.script_load(source)  # a new or restarted Redis (every master of a cluster)
            continue
        return results
    return results

