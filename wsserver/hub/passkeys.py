"""Passkeys (WebAuthn) for accounts: registration and sign-in, checked by py_webauthn, never by hand.

A passkey is a discoverable credential (``residentKey: required``; user verification
preferred) bound to the relying party ID, the host name people use (``--public-url``'s, else the
request's): an IP address has none, so passkeys need a host name.  Each ceremony starts with a
one-time challenge of 256 random bits, kept in the store for five minutes (any process may
finish it) and taken once, so a replayed answer finds it gone.  The account keeps each passkey's
credential id, public key (COSE), sign counter, name, and when it was made and last used; a
counter that does not move forward (a cloned authenticator) is refused, and nothing changes.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..credentials import new_secret
from ..protocol import Code, Refused
from .accounts import Account, Accounts, SignedIn, describe

log = logging.getLogger("wsserver.accounts")

CHALLENGE_SECONDS = 5 * 60
NAME_CHARS = 64
RP_NAME = "wsserver"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _refused() -> Refused:
    return Refused.of(Code.PASSKEY_REFUSED)


def _challenge_of(credential: Any) -> str | None:
    """Return the challenge a credential's clientDataJSON answers (base64url), or None if it is not readable."""
    try:
        client_data = json.loads(unb64url(str(credential["response"]["clientDataJSON"])))
        challenge = client_data["challenge"]
    except (KeyError, TypeError, ValueError):
        return None
    return challenge if isinstance(challenge, str) and 0 < len(challenge) <= 200 else None


class Passkeys:
    """Register passkeys on accounts and sign in with them."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.store = accounts.store

    async def _challenge(self, purpose: str, handle: str = "") -> bytes:
        challenge = new_secret().encode()  # 256 random bits, as base64url text: the bytes signed over
        now = time.time()
        await self.store.add_challenge(b64url(challenge), {"purpose": purpose, "handle": handle, "created": now,
                                                           "expires": now + CHALLENGE_SECONDS})
        return challenge

    async def _taken(self, credential: Any, purpose: str) -> tuple[bytes, dict[str, Any]] | None:
        key = _challenge_of(credential)
        record = await self.store.take_challenge(key, time.time()) if key is not None else None
        if record is None or record.get("purpose") != purpose:
            return None
        return unb64url(key or ""), record

    async def registration_options(self, account: Account, rp_id: str) -> dict[str, Any]:
        """Return the options for ``navigator.credentials.create()`` for the signed-in ``account``."""
        record = await self.store.get(account.handle) or {}
        options = generate_registration_options(
            rp_id=rp_id, rp_name=RP_NAME, user_name=account.handle, user_display_name=account.handle,
            user_id=account.handle.lower().encode(), challenge=await self._challenge("register", account.handle),
            timeout=CHALLENGE_SECONDS * 1000,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.PREFERRED),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=unb64url(key["id"]))
                                 for key in record.get("passkeys") or []],
        )
        answer: dict[str, Any] = json.loads(options_to_json(options))
        return answer

    async def register(self, account: Account, credential: Any, name: str, rp_id: str,
                       origin: str) -> dict[str, Any] | Refused:
        """Check a new passkey of ``account`` and keep it; its description, or the refusal.

        Raises StoreError.
        """
        taken = await self._taken(credential, "register")
        if taken is None or taken[1].get("handle", "").lower() != account.handle.lower():
            return _refused()
        try:
            verified = verify_registration_response(credential=credential, expected_challenge=taken[0],
                                                    expected_rp_id=rp_id, expected_origin=origin)
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            log.warning("a passkey of %s was not accepted: %s", account.handle, exc)
            return _refused()
        record = await self.store.get(account.handle)
        if record is None:
            return _refused()
        now = time.time()
        key = {"id": b64url(verified.credential_id), "public_key": b64url(verified.credential_public_key),
               "sign_count": verified.sign_count, "name": name.strip()[:NAME_CHARS] or "Passkey", "created": now,
               "last_used": None}
        kept = [k for k in record.get("passkeys") or [] if k.get("id") != key["id"]] + [key]
        await self.store.change(account.handle, {"passkeys": kept})
        log.info("account %s added a passkey", account.handle)
        return describe(key)

    async def sign_in_options(self, rp_id: str) -> dict[str, Any]:
        """Return the options for ``navigator.credentials.get()`` (a discoverable credential: no handle typed)."""
        options = generate_authentication_options(rp_id=rp_id, challenge=await self._challenge("sign-in"),
                                                  timeout=CHALLENGE_SECONDS * 1000,
                                                  user_verification=UserVerificationRequirement.PREFERRED)
        answer: dict[str, Any] = json.loads(options_to_json(options))
        return answer

    async def sign_in(self, credential: Any, rp_id: str, origin: str, address: str) -> SignedIn | Refused:
        """Check an assertion; a new session, or the refusal (nothing changes then). Raises StoreError."""
        taken = await self._taken(credential, "sign-in")
        try:
            handle = unb64url(str(credential["response"]["userHandle"])).decode()
            credential_id = str(credential["id"])
        except (KeyError, TypeError, ValueError):
            return _refused()
        record = await self.store.get(handle) if taken is not None else None
        keys = (record or {}).get("passkeys") or []
        key = next((k for k in keys if k.get("id") == credential_id), None)
        if taken is None or record is None or key is None or record.get("removed"):
            log.warning("a passkey sign-in from %s was not accepted", address)
            return _refused()
        try:
            verified = verify_authentication_response(
                credential=credential, expected_challenge=taken[0], expected_rp_id=rp_id, expected_origin=origin,
                credential_public_key=unb64url(key["public_key"]), credential_current_sign_count=key["sign_count"])
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            log.warning("a passkey sign-in as %s from %s was not accepted: %s", record["handle"], address, exc)
            return _refused()
        if record.get("disabled"):
            return Refused.of(Code.ACCOUNT_DISABLED)
        now = time.time()
        used = {**key, "sign_count": verified.new_sign_count, "last_used": now}
        kept = [used if k.get("id") == credential_id else k for k in keys]
        await self.store.change(record["handle"], {"passkeys": kept, "seen": now})
        log.info("account %s signed in with a passkey from %s", record["handle"], address)
        return await self.accounts.session_for(record, address)

    async def remove(self, account: Account, key_id: str) -> bool:
        """Remove a passkey of ``account``; False if it has none of that id. Raises StoreError."""
        record = await self.store.get(account.handle) or {}
        keys = record.get("passkeys") or []
        kept = [k for k in keys if k.get("id") != key_id]
        if len(kept) == len(keys):
            return False
        await self.store.change(account.handle, {"passkeys": kept})
        log.info("account %s removed a passkey", account.handle)
        return True


