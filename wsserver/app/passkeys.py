"""The HTTP door of passkeys (with ``--accounts``): options, registration, sign-in, removal.

* ``POST /api/passkeys/options`` ``{"purpose": "register"}`` (signed in) or ``{"purpose": "sign-in"}``:
  the options for ``navigator.credentials.create()`` / ``.get()``, as WebAuthn's JSON;
* ``POST /api/passkeys`` ``{"credential", "name"}`` (signed in): 201 ``{"id", "name", "created", "last_used"}``;
* ``POST /api/session/passkey`` ``{"credential"}``: 200 ``{"handle"}`` and the cookie;
* ``DELETE /api/passkeys/ID`` (signed in): 200 ``{"removed": ID}``.

``credential`` is the browser's ``PublicKeyCredential.toJSON()``.  The relying party ID is the host
of ``--public-url`` (else of the request) and the origin its scheme and host: an IP address has no
host name, and passkeys are refused there (400).  Every refusal of an answer is 401 ``Passkey not
accepted``, and nothing changes.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from aiohttp import web

from ..errors import Refusal
from ..hub.accounts import Account
from ..hub.passkeys import Passkeys
from ..protocol import Code, Refused
from . import accounts, answers, security
from .state import STATE


def add_routes(app: web.Application) -> None:
    """Serve the passkeys API."""
    app.router.add_post("/api/passkeys/options", options)
    app.router.add_post("/api/passkeys", register)
    app.router.add_post("/api/session/passkey", sign_in)
    app.router.add_delete("/api/passkeys/{id}", remove)


def _passkeys(request: web.Request) -> Passkeys:
    state = request.app[STATE]
    assert state.accounts is not None, "the passkeys routes are added with --accounts only"
    return Passkeys(state.accounts)


def relying_party(request: web.Request) -> tuple[str, str]:
    """Return the relying party ID and the origin; raises Refusal (400) when the host is an IP address."""
    state = request.app[STATE]
    public = state.config.public_url
    if public is not None:
        parts = urlsplit(public)
        host, origin = parts.hostname or "", f"{parts.scheme}://{parts.netloc}"
    else:
        scheme = "https" if accounts.secure(request, state) else "http"
        host, origin = urlsplit(f"//{request.host}").hostname or "", f"{scheme}://{request.host}"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host, origin
    raise Refusal(400, Code.PASSKEYS_NEED_A_NAME)


async def _signed_in(request: web.Request) -> Account:
    found = await accounts.signed_in(request)
    if found is None:
        raise Refusal(401, Code.AUTH_FAILED)
    return found[0]


async def options(request: web.Request) -> web.Response:
    """The options of a registration (signed in) or of a sign-in."""
    return await accounts.guarded(request, _options(request))


async def _options(request: web.Request) -> web.Response:
    body = await answers.json_object(request, ("purpose",))
    rp_id, _ = relying_party(request)
    if body["purpose"] == "register":
        return web.json_response(await _passkeys(request).registration_options(await _signed_in(request), rp_id))
    if body["purpose"] == "sign-in":
        return web.json_response(await _passkeys(request).sign_in_options(rp_id))
    raise Refusal(400, Refused.of(Code.BAD_ACCOUNT_REQUEST, problem="purpose must be register or sign-in"))


async def register(request: web.Request) -> web.Response:
    """Keep a new passkey of the signed-in account."""
    return await accounts.guarded(request, _register(request))


async def _register(request: web.Request) -> web.Response:
    account = await _signed_in(request)
    body = await answers.json_object(request, ("credential",))
    rp_id, origin = relying_party(request)
    name = body.get("name") if isinstance(body.get("name"), str) else ""
    kept = await _passkeys(request).register(account, body["credential"], name or "", rp_id, origin)
    if isinstance(kept, Refused):
        return answers.refused(kept)
    return web.json_response(kept, status=201)


async def sign_in(request: web.Request) -> web.Response:
    """Sign in with a passkey: no handle typed, the credential says whose it is."""
    return await accounts.guarded(request, _sign_in(request))


async def _sign_in(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await answers.json_object(request, ("credential",))
    rp_id, origin = relying_party(request)
    address = security.client_address(request, state.config.trusted_proxy)
    done = await _passkeys(request).sign_in(body["credential"], rp_id, origin, address)
    if isinstance(done, Refused):
        return answers.refused(done)
    response = web.json_response({"handle": done.account.handle})
    accounts.set_cookie(request, response, done)
    return response


async def remove(request: web.Request) -> web.Response:
    """Remove a passkey of the signed-in account."""
    return await accounts.guarded(request, _remove(request))


async def _remove(request: web.Request) -> web.Response:
    account = await _signed_in(request)
    key_id = request.match_info["id"]
    if not await _passkeys(request).remove(account, key_id):
        return answers.refused(Code.NO_SUCH_PASSKEY)
    return web.json_response({"removed": key_id})
