"""Accounts in Redis, on the home, every key in one hash slot (``{accounts}``) so that a Cluster takes them.

* ``wsserver:{accounts}:accounts``: a hash, handle (lower case) -> the account as JSON;
* ``wsserver:{accounts}:session:<digest>``: a session as JSON, expiring at its end, and
  ``wsserver:{accounts}:sessions:<handle>``: the set of a handle's session digests;
* ``wsserver:{accounts}:invite:<digest>``: an invitation as JSON, expiring at its end;
* ``wsserver:{accounts}:attempts:<key>``: a sorted set of failed sign-in times.

A change of an account or the use of an invitation is one Lua script (read, change, write),
so two nodes never lose each other's change.
"""

from __future__ import annotations

import json
from typing import Any

from ..base import StoreError
from .keys import PREFIX, RedisFault
from .scripts import run_script
from .shards import Shards

SLOT = PREFIX + "{accounts}:"
ACCOUNTS = SLOT + "accounts"

CHANGE = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local record = cjson.decode(raw)
for key, value in pairs(cjson.decode(ARGV[2])) do record[key] = value end
local out = cjson.encode(record)
redis.call('HSET', KEYS[1], ARGV[1], out)
return out
"""

CHANGE_SET = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local record = cjson.decode(raw)
local present = {}
if type(record[ARGV[2]]) == 'table' then
  for _, value in ipairs(record[ARGV[2]]) do present[tostring(value)] = true end
end
if ARGV[4] == '1' then present[ARGV[3]] = true else present[ARGV[3]] = nil end
local items = {}
for value in pairs(present) do table.insert(items, value) end
table.sort(items)
record[ARGV[2]] = items
local out = cjson.encode(record)
redis.call('HSET', KEYS[1], ARGV[1], out)
return out
"""

TAKE_INVITE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local invite = cjson.decode(raw)
if tonumber(invite.expires) < tonumber(ARGV[1]) or tonumber(invite.uses) < 1 then
  redis.call('DEL', KEYS[1])
  return false
end
if type(invite.handle) == 'string' and invite.handle ~= '' and string.lower(invite.handle) ~= ARGV[2] then
  return false
end
if ARGV[3] == '1' and (type(invite.handle) ~= 'string' or invite.handle == '') then return false end
invite.uses = tonumber(invite.uses) - 1
if invite.uses < 1 then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], cjson.encode(invite), 'KEEPTTL') end
return cjson.encode(invite)
"""


def _record(raw: Any) -> dict[str, Any] | None:
    if raw is None or raw is False:
        return None
    record = json.loads(raw)
    if not isinstance(record, dict):
        return None
    for field in ("ops", "irc_channels"):
        if record.get(field) == {}:  # cjson writes an empty list as an empty object
            record[field] = []
    return record


class RedisAccounts:
    """Accounts, sessions, invitations and failed sign-ins on the home Redis."""

    def __init__(self, shards: Shards) -> None:
        self._home = shards.home

    async def _do(self, what: str, command: Any) -> Any:
        try:
            return await command
        except RedisFault as exc:
            raise StoreError(f"Redis did not answer {what}: {exc}") from exc

    async def get(self, handle: str) -> dict[str, Any] | None:
        """HGET."""
        return _record(await self._do("for an account", self._home.client.hget(ACCOUNTS, handle.lower())))

    async def all(self) -> list[dict[str, Any]]:
        """HVALS."""
        values = await self._do("for the accounts", self._home.client.hvals(ACCOUNTS))
        return [record for raw in values if (record := _record(raw)) is not None]

    async def create(self, record: dict[str, Any]) -> bool:
        """HSETNX: False if the handle is taken."""
        made = await self._do("for a new account", self._home.client.hsetnx(
            ACCOUNTS, str(record["handle"]).lower(), json.dumps(record)))
        return bool(made)

    async def change(self, handle: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """One script: read, set the fields, write."""
        return _record(await self._do("for an account change", run_script(
            self._home.client, CHANGE, [ACCOUNTS], [handle.lower(), json.dumps(fields)])))

    async def change_set(self, handle: str, field: str, item: str, present: bool) -> dict[str, Any] | None:
        """One script: read, add or take out the item, write."""
        return _record(await self._do("for an account change", run_script(
            self._home.client, CHANGE_SET, [ACCOUNTS], [handle.lower(), field, item, "1" if present else "0"])))

    async def add_session(self, key: str, record: dict[str, Any]) -> None:
        """SET with its end, and add it to the handle's set."""
        client, handle = self._home.client, str(record["handle"]).lower()
        pipe = client.pipeline(transaction=False)
        pipe.set(SLOT + "session:" + key, json.dumps(record), exat=int(record["expires"]) + 1)
        pipe.sadd(SLOT + "sessions:" + handle, key)
        await self._do("for a new session", pipe.execute())

    async def session(self, key: str) -> dict[str, Any] | None:
        """GET."""
        return _record(await self._do("for a session", self._home.client.get(SLOT + "session:" + key)))

    async def renew_session(self, key: str, expires: float) -> None:
        """Read, move the end, write with the new expiry (if it is still there)."""
        record = await self.session(key)
        if record is not None:
            record["expires"] = expires
            await self._do("for a session", self._home.client.set(
                SLOT + "session:" + key, json.dumps(record), exat=int(expires) + 1, xx=True))

    async def drop_sessions(self, handle: str, only: str | None = None, keep: str | None = None) -> list[str]:
        """Delete the sessions named in the handle's set (one, or all but one)."""
        client, index = self._home.client, SLOT + "sessions:" + handle.lower()
        members = [m.decode() for m in await self._do("for sessions", client.smembers(index))]
        ended = [key for key in members if (only is None or key == only) and key != keep]
        if ended:
            pipe = client.pipeline(transaction=False)
            pipe.delete(*(SLOT + "session:" + key for key in ended))
            pipe.srem(index, *ended)
            await self._do("for ending sessions", pipe.execute())
        return ended

    async def sessions_of(self, handle: str) -> int:
        """Count the handle's sessions that are still there."""
        client, index = self._home.client, SLOT + "sessions:" + handle.lower()
        members = [m.decode() for m in await self._do("for sessions", client.smembers(index))]
        if not members:
            return 0
        alive = await self._do("for sessions", client.exists(*(SLOT + "session:" + key for key in members)))
        return int(alive)

    async def add_invite(self, key: str, record: dict[str, Any]) -> None:
        """SET, expiring at its end."""
        await self._do("for an invitation", self._home.client.set(
            SLOT + "invite:" + key, json.dumps(record), exat=int(record["expires"]) + 1))

    async def take_invite(self, key: str, now: float, handle: str, bound: bool = False) -> dict[str, Any] | None:
        """One script: check, count one use, delete when used up."""
        return _record(await self._do("for an invitation", run_script(
            self._home.client, TAKE_INVITE, [SLOT + "invite:" + key],
            [repr(now), handle.lower(), "1" if bound else "0"])))

    async def add_challenge(self, key: str, record: dict[str, Any]) -> None:
        """SET, expiring at its end."""
        await self._do("for a passkey challenge", self._home.client.set(
            SLOT + "challenge:" + key, json.dumps(record), exat=int(record["expires"]) + 1))

    async def take_challenge(self, key: str, now: float) -> dict[str, Any] | None:
        """GETDEL: one use, on any node."""
        record = _record(await self._do("for a passkey challenge", self._home.client.getdel(SLOT + "challenge:" + key)))
        return record if record is not None and float(record.get("expires", 0)) >= now else None

    async def failures(self, keys: list[str], since: float) -> dict[str, list[float]]:
        """ZRANGEBYSCORE since +inf, per key."""
        pipe = self._home.client.pipeline(transaction=False)
        for key in keys:
            pipe.zrangebyscore(SLOT + "attempts:" + key, since, "+inf", withscores=True)
        answers = await self._do("for sign-in attempts", pipe.execute())
        return {key: [score for _, score in found] for key, found in zip(keys, answers, strict=True)}

    async def failed(self, keys: list[str], at: float, since: float) -> None:
        """ZADD the time, trim what is older than ``since``, expire the set after the window."""
        pipe = self._home.client.pipeline(transaction=False)
        for key in keys:
            name = SLOT + "attempts:" + key
            pipe.zadd(name, {f"{at!r}": at})
            pipe.zremrangebyscore(name, "-inf", f"({since!r}")
            pipe.expire(name, max(1, int(at - since) + 1))
        await self._do("for a failed sign-in", pipe.execute())
