"""Accounts: sign-up, sign-in with a password, sessions, and the rules that guard them.

Passwords are hashed with Argon2id (argon2-cffi's defaults: RFC 9106's second
recommended option, 64 MiB and 3 passes) in a pool of as many threads as the
machine has cores, never on the event loop: a crowd signing in at once waits
its turn there while the chat goes on.  An unknown handle is checked against
a dummy hash, so that it takes as long as a wrong password and gets the same
sentence.  Five failures for one handle, or twenty from one address, within
fifteen minutes lock further tries out until the window has passed (counted
in the store: every process and node sees them).

A session is a random secret (the cookie's value) of which the store keeps
only the digest; it lasts ``--session-days`` and is renewed as it is used.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import HANDLE_HINT, HANDLE_RE
from ..credentials import digest, new_secret
from ..protocol import Code, Refused
from ..store.base import Accounts as AccountStore

if TYPE_CHECKING:  # argon2 is loaded when accounts are on (a server without them does not carry it)
    from argon2 import PasswordHasher

log = logging.getLogger("wsserver.accounts")

PASSWORD_LEAST, PASSWORD_MOST = 10, 1024
HANDLE_FAILURES, ADDRESS_FAILURES = 5, 20  # failed sign-ins within FAILURE_WINDOW that lock further tries out
FAILURE_WINDOW = 15 * 60
RENEW_AFTER = 86400  # a session is renewed (its end moved) at most once a day
SIGN_UP_MODES = ("invite", "open", "closed")


@dataclass(frozen=True)
class Account:
    """Who a session or a password names: the handle, and which channels it operates."""

    handle: str
    op: bool = False  # operator of every channel
    ops: tuple[str, ...] = ()  # operator of these
    bot: bool = False  # a bot's account: signed in by its API key
    channels: tuple[str, ...] | None = None  # a bot's channels (None: every channel)
    created: float = 0.0  # when it was made (epoch seconds): its private history starts there

    def operates(self, channel: str) -> bool:
        """Return whether the account may moderate ``channel``."""
        return self.op or channel in self.ops

    def may_use(self, channel: str) -> bool:
        """Return whether the account may join, read and post in ``channel`` (a bot only in its channels)."""
        return self.channels is None or channel in self.channels

    @classmethod
    def of(cls, record: dict[str, Any]) -> Account:
        channels = record.get("channels")
        return cls(str(record["handle"]), bool(record.get("op")), tuple(str(c) for c in record.get("ops") or ()),
                   bool(record.get("bot")), tuple(str(c) for c in channels) if channels else None,
                   float(record.get("created") or 0.0))


@dataclass(frozen=True)
class SignedIn:
    """A new session: the account, the secret for the cookie (given once, never kept) and its end."""

    account: Account
    secret: str
    expires: float


class Accounts:
    """Sign people up and in, and tell who a session is."""

    def __init__(self, store: AccountStore, sign_up: str = "invite", session_days: int = 30,
                 hasher: PasswordHasher | None = None, password_least: int = PASSWORD_LEAST) -> None:
        self.store = store
        self.password_least = password_least  # --password-min-chars
        self.sign_up_mode = sign_up
        self.session_seconds = session_days * 86400
        from argon2 import PasswordHasher

        self.hasher = hasher or PasswordHasher()
        self.pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="argon2")
        # Checked against when the handle has no account: made now, so that even the first such
        # sign-in takes one hash's time, as a wrong password does.
        self._dummy = self.pool.submit(self.hasher.hash, new_secret())

    def close(self) -> None:
        """Let the hashing threads go."""
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def irc_channels(self, handle: str) -> list[str]:
        """Return the channels the account's IRC sessions sit in, to join again when one signs in."""
        record = await self.store.get(handle)
        return [str(name) for name in (record or {}).get("irc_channels") or ()]

    async def keep_irc_channel(self, handle: str, channel: str, kept: bool) -> None:
        """Add ``channel`` to the account's IRC channels (a JOIN), or drop it (a PART, a kick, a refusal).

        One step of the store: two sessions of the account changing channels at once both count.
        """
        await self.store.change_set(handle, "irc_channels", channel, kept)

    async def _hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.hasher.hash, password)

    async def _verify(self, hashed: str | None, password: str) -> bool:
        """Return whether ``password`` matches ``hashed`` (None, no account: the same work, and False)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        against = hashed if hashed is not None else await asyncio.wrap_future(self._dummy)

        def verify() -> bool:
            try:
                return bool(self.hasher.verify(against, password))
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.get_running_loop().run_in_executor(self.pool, verify) and hashed is not None

    # ------------------------------------------------------------ sign-up

    @staticmethod
    def handle_problem(handle: str) -> Refused | None:
        """Return why ``handle`` cannot be an account's, by the handle rule (the reserved one is taken)."""
        if handle.lower() == "system":
            return Refused.of(Code.HANDLE_IN_USE)
        if not HANDLE_RE.match(handle):
            return Refused.of(Code.BAD_HANDLE, hint=HANDLE_HINT)
        return None

    def password_problem(self, password: str) -> Refused | None:
        """Return why ``password`` cannot be used: its length."""
        if not self.password_least <= len(password) <= PASSWORD_MOST:
            return Refused.of(Code.BAD_PASSWORD, least=self.password_least, most=PASSWORD_MOST)
        return None

    async def sign_up(self, handle: str, password: str, invite: str | None, address: str) -> SignedIn | Refused:
        """Create the account ``handle`` (or set the password an operator's link is for) and sign it in.

        Raises StoreError.
        """
        refused = self.handle_problem(handle) or self.password_problem(password)
        if refused is not None:
            return refused
        if not invite and self.sign_up_mode != "open":
            return Refused.of(Code.SIGN_UP_CLOSED if self.sign_up_mode == "closed" else Code.BAD_INVITE)
        existing = await self.store.get(handle)
        if existing is not None and (not invite or existing.get("removed")):
            return Refused.of(Code.HANDLE_IN_USE)  # removed accounts keep their handle
        now = time.time()
        # An existing account takes only a link made for it (an operator's set-password link): other
        # invitations are not used up on a handle that is taken.
        invited = await self.store.take_invite(digest(invite), now, handle, bound=existing is not None) \
            if invite else None
        if existing is not None and invited is None:
            return Refused.of(Code.HANDLE_IN_USE)
        if invite and (invited is None or (self.sign_up_mode == "closed" and not invited.get("handle"))):
            return Refused.of(Code.BAD_INVITE)
        reset = existing is not None
        hashed = await self._hash(password)
        op = bool(invited and invited.get("op"))
        if reset:
            fields: dict[str, Any] = {"hash": hashed, "disabled": False, **({"op": True} if op else {})}
            record = await self.store.change(handle, fields)
            if record is None:
                return Refused.of(Code.HANDLE_IN_USE)
            log.info("account %s set its password from %s (an operator's link)", record["handle"], address)
        else:
            record = {"handle": handle, "hash": hashed, "created": now, "seen": now, "op": op, "ops": [],
                      "disabled": False, "removed": False}
            if not await self.store.create(record):
                return Refused.of(Code.HANDLE_IN_USE)
            log.info("account %s created from %s%s", handle, address, " (operator)" if op else "")
        return await self._session(record, address)

    async def session_for(self, record: dict[str, Any], address: str) -> SignedIn:
        """Start a session for the account ``record`` (signed in another way: a passkey). Raises StoreError."""
        return await self._session(record, address)

    async def _session(self, record: dict[str, Any], address: str) -> SignedIn:
        secret, now = new_secret(), time.time()
        expires = now + self.session_seconds
        await self.store.add_session(digest(secret), {"handle": record["handle"], "created": now, "expires": expires,
                                                      "address": address})
        return SignedIn(Account.of(record), secret, expires)

    # ------------------------------------------------------------ sign-in

    async def locked_out(self, handle: str, address: str) -> tuple[Refused, int] | None:
        """Return the refusal and the seconds to wait if too many sign-ins failed lately, else None."""
        now = time.time()
        keys = [f"handle:{handle.lower()}", f"address:{address}"]
        failures = await self.store.failures(keys, now - FAILURE_WINDOW)
        ends = []
        for key, most in zip(keys, (HANDLE_FAILURES, ADDRESS_FAILURES), strict=True):
            times = sorted(failures.get(key, []))
            if len(times) >= most:
                ends.append(times[-most] + FAILURE_WINDOW)  # when the window no longer holds `most` of them
        if not ends:
            return None
        wait = max(1, math.ceil(max(ends) - now))
        return Refused.of(Code.TOO_MANY_ATTEMPTS, minutes=math.ceil(wait / 60)), wait

    async def sign_in(self, handle: str, password: str, address: str) -> SignedIn | tuple[Refused, int] | Refused:
        """Check the password of ``handle``; a new session, or the refusal (with the seconds to wait when locked out).

        Raises StoreError.
        """
        checked = await self.check_password(handle, password, address)
        if not isinstance(checked, dict):
            return checked
        return await self._session(checked, address)

    async def check_password(self, handle: str, password: str,
                             address: str) -> dict[str, Any] | tuple[Refused, int] | Refused:
        """Check the password of ``handle`` (lockouts counted as for a sign-in); its record, or the refusal.

        For a door without sessions (IRC's SASL); raises StoreError.
        """
        locked = await self.locked_out(handle, address)
        if locked is not None:
            return locked
        record = await self.store.get(handle) if HANDLE_RE.match(handle) else None
        usable = record is not None and not record.get("removed") and record.get("hash")
        hashed = str(record["hash"]) if usable and record is not None else None
        if not await self._verify(hashed, password) or record is None:
            now = time.time()
            await self.store.failed([f"handle:{handle.lower()}", f"address:{address}"], now, now - FAILURE_WINDOW)
            log.warning("a sign-in as %r from %s failed", handle[:40], address)
            locked = await self.locked_out(handle, address)
            if locked is not None:
                log.warning("too many sign-in attempts as %r or from %s: locked out for %d s", handle[:40], address,
                            locked[1])
            return Refused.of(Code.WRONG_PASSWORD)
        if record.get("disabled"):
            return Refused.of(Code.ACCOUNT_DISABLED)
        fields: dict[str, Any] = {"seen": time.time()}
        if self.hasher.check_needs_rehash(str(record["hash"])):
            fields["hash"] = await self._hash(password)
        record = await self.store.change(handle, fields) or record  # one write per sign-in
        log.info("account %s signed in from %s", record["handle"], address)
        return record

    # ------------------------------------------------------------ sessions

    async def identify(self, secret: str | None) -> tuple[Account, str] | None:
        """Return the account a session secret names and the session's digest; None if none (or disabled).

        Raises StoreError.
        """
        if not secret or len(secret) > 200:
            return None
        key = digest(secret)
        session = await self.store.session(key)
        now = time.time()
        if session is None or float(session.get("expires", 0)) < now:
            return None
        record = await self.store.get(str(session["handle"]))
        if record is None or record.get("disabled") or record.get("removed"):
            return None
        expires = now + self.session_seconds
        if expires - float(session["expires"]) > RENEW_AFTER:
            await self.store.renew_session(key, expires)
        return Account.of(record), key

    async def change_password(self, account: Account, session: str, current: str, new: str) -> Refused | None:
        """Set a new password after checking the current one; the account's other sessions end.

        Raises StoreError.
        """
        refused = self.password_problem(new)
        if refused is not None:
            return refused
        record = await self.store.get(account.handle)
        if record is None or not await self._verify(str(record.get("hash") or "") or None, current):
            return Refused.of(Code.WRONG_CURRENT_PASSWORD)
        await self.store.change(account.handle, {"hash": await self._hash(new)})
        await self.store.drop_sessions(account.handle, keep=session)
        log.info("account %s changed its password; its other sessions ended", account.handle)
        return None


def describe(key: dict[str, Any]) -> dict[str, Any]:
    """Return what a client is told of a passkey: id, name, created, last used (never its key)."""
    return {"id": key["id"], "name": key.get("name", ""), "created": key.get("created"),
            "last_used": key.get("last_used")}
