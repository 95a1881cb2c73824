"""The stores' face of accounts: accounts, sessions, invitations and failed sign-ins (used with ``--accounts``).

Both stores implement it (``files/accounts.py``, ``redis/accounts.py``); the hub's
:mod:`wsserver.hub.accounts` and the operator's ``accounts`` commands use it.
"""

from __future__ import annotations

from typing import Any, Protocol


class Accounts(Protocol):
    """Accounts, sessions, invitations and failed sign-ins, shared by every process and node.

    Records are JSON objects; secrets are never stored, only their SHA-256 digests (the keys of
    sessions and invitations).  Every method raises StoreError when the store fails.
    """

    async def get(self, handle: str) -> dict[str, Any] | None:
        """Return the account of ``handle`` (any case), or None."""

    async def all(self) -> list[dict[str, Any]]:
        """Return every account, removed ones included."""

    async def create(self, record: dict[str, Any]) -> bool:
        """Add the account; False (nothing written) if its handle is taken in any case."""

    async def change(self, handle: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Set ``fields`` of the account; return it as it is now, or None if there is none."""

    async def change_set(self, handle: str, field: str, item: str, present: bool) -> dict[str, Any] | None:
        """Add (``present``) or take ``item`` out of the account's list ``field`` (kept sorted, no repeats).

        One step of the store, as :meth:`change`: changes of several processes at once are all kept.
        Returns the account as it is now, or None if there is none.
        """

    async def add_session(self, key: str, record: dict[str, Any]) -> None:
        """Keep a session under its secret's digest (with its ``handle`` and ``expires``)."""

    async def session(self, key: str) -> dict[str, Any] | None:
        """Return the session of that digest, or None."""

    async def renew_session(self, key: str, expires: float) -> None:
        """Move the end of a session that is still there."""

    async def drop_sessions(self, handle: str, only: str | None = None, keep: str | None = None) -> list[str]:
        """End the sessions of ``handle`` (``only`` that one; all but ``keep``); return the digests ended."""

    async def sessions_of(self, handle: str) -> int:
        """Return how many sessions ``handle`` has."""

    async def add_invite(self, key: str, record: dict[str, Any]) -> None:
        """Keep an invitation under its code's digest (``uses``, ``expires``, ``op``, ``handle``)."""

    async def take_invite(self, key: str, now: float, handle: str, bound: bool = False) -> dict[str, Any] | None:
        """Use the invitation once for ``handle``: its record, or None (unknown, used up, expired, another's).

        With ``bound``, only an invitation made for ``handle`` is used (an operator's link to set a password).
        """

    async def add_challenge(self, key: str, record: dict[str, Any]) -> None:
        """Keep a passkey challenge (``key``: the challenge as base64url) until its ``expires``."""

    async def take_challenge(self, key: str, now: float) -> dict[str, Any] | None:
        """Use a challenge once: its record, or None (unknown, used, expired)."""

    async def failures(self, keys: list[str], since: float) -> dict[str, list[float]]:
        """Return the times of failed sign-ins since ``since``, by key."""

    async def failed(self, keys: list[str], at: float, since: float) -> None:
        """Count a failed sign-in at ``at`` against each key; those before ``since`` may be forgotten."""
