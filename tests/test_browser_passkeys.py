"""Passkeys in Chromium, through its virtual authenticator (Chrome DevTools Protocol): add, sign in, replay, tamper."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from .support import Server
from .support.browser import axe_violations
from .test_browser_accounts import PASSWORD, create_account

pytestmark = pytest.mark.browser


async def authenticator(page: Any) -> Any:
    """Give the page a platform authenticator that holds discoverable credentials and verifies its user."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable")
    await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    return cdp


def on_localhost(server: Server) -> str:
    """The server's address by host name: passkeys need one (an IP address has no relying party ID)."""
    return server.url.replace("127.0.0.1", "localhost")


async def test_add_a_passkey_then_sign_in_with_it(start_server: Any, new_page: Any) -> None:
    """Account > Add passkey; sign out; Sign in with a passkey (no handle typed); the list shows it used."""
    server: Server = await start_server("--accounts", "--sign-up", "open")
    page = await new_page(on_localhost(server) + "/?channel=general")
    await authenticator(page)
    await create_account(page, "Alice")
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to general as Alice")).wait_for()
    await page.get_by_role("button", name="Account", exact=True).click()
    dialog = page.get_by_role("dialog", name="Account")
    await dialog.get_by_label("Name of a new passkey").fill("Laptop")
    await dialog.get_by_role("button", name="Add passkey").click()
    await dialog.get_by_role("status").filter(has_text="Passkey Laptop added.").wait_for()
    await dialog.get_by_role("listitem").filter(has_text=re.compile("^Laptop: added .*, last used never")).wait_for()
    assert await axe_violations(page) == []
    await dialog.get_by_role("button", name="Sign out", exact=True).click()
    await page.get_by_role("heading", name="Sign in").wait_for()
    await page.get_by_role("button", name="Sign in with a passkey").click()
    await page.get_by_role("status").filter(has_text=re.compile("^Connected to general as Alice")).wait_for()
    await page.get_by_role("button", name="Account", exact=True).click()
    await dialog.get_by_role("listitem").filter(has_text=re.compile("^Laptop: added .*, last used (?!never)")).wait_for()
    await dialog.get_by_role("button", name="Remove passkey Laptop").click()
    await dialog.get_by_role("status").filter(has_text="Passkey Laptop removed.").wait_for()
    assert await dialog.get_by_role("listitem").count() == 0
    assert page.errors == []


async def test_a_replayed_or_tampered_assertion_is_refused(start_server: Any, new_page: Any) -> None:
    """The same assertion twice: the second is refused (its challenge is used); a changed signature too."""
    server: Server = await start_server("--accounts", "--sign-up", "open")
    page = await new_page(on_localhost(server) + "/")
    await authenticator(page)
    await create_account(page, "Alice")
    await page.get_by_role("button", name="Account", exact=True).wait_for()
    added = await page.evaluate("""async () => {
        const m = await import('/passkeys.js');
        return await m.addPasskey('Laptop');
    }""")
    assert added.get("key", {}).get("name") == "Laptop", added
    answers = await page.evaluate("""async () => {
        const post = (path, body) => fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                  body: JSON.stringify(body)})
            .then(async r => [r.status, await r.json()]);
        const assertion = async () => {
            const [, options] = await post('/api/passkeys/options', {purpose: 'sign-in'});
            const credential = await navigator.credentials.get(
                {publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options)});
            return credential.toJSON();
        };
        const once = await assertion();
        const first = await post('/api/session/passkey', {credential: once});
        const replayed = await post('/api/session/passkey', {credential: once});
        const tampered = await assertion();
        const signature = tampered.response.signature;
        tampered.response.signature = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
        const forged = await post('/api/session/passkey', {credential: tampered});
        return {first, replayed, forged};
    }""")
    assert answers["first"] == [200, {"handle": "Alice"}]
    assert answers["replayed"] == [401, {"error": "Passkey not accepted"}]
    assert answers["forged"] == [401, {"error": "Passkey not accepted"}]
    # A counter that goes back (a cloned authenticator): the stored one is ahead of what the key says.
    path = server.data_dir / "accounts" / "accounts.json"
    table = json.loads(path.read_text())
    table["alice"]["passkeys"][0]["sign_count"] = 10**6
    path.write_text(json.dumps(table))
    cloned = await page.evaluate("""async () => {
        const [, options] = await fetch('/api/passkeys/options', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify({purpose: 'sign-in'})})
            .then(async r => [r.status, await r.json()]);
        const credential = await navigator.credentials.get(
            {publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options)});
        const r = await fetch('/api/session/passkey', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                        body: JSON.stringify({credential: credential.toJSON()})});
        return [r.status, await r.json()];
    }""")
    assert cloned == [401, {"error": "Passkey not accepted"}]
    assert json.loads(path.read_text())["alice"]["passkeys"][0]["sign_count"] == 10**6, "nothing changed"
    await server.wait_for_log("a passkey sign-in as Alice from .* was not accepted")
    assert PASSWORD not in "\n".join(server.lines)


async def test_passkeys_are_not_offered_on_an_ip_address(start_server: Any, new_page: Any,
                                                        session: Any) -> None:
    """At 127.0.0.1 the page offers no passkey, and the server says why it cannot make options."""
    server: Server = await start_server("--accounts", "--sign-up", "open")
    page = await new_page(server.url + "/")
    await page.get_by_role("heading", name="Sign in").wait_for()
    assert await page.get_by_role("button", name="Sign in with a passkey").count() == 0
    async with session.post(server.url + "/api/passkeys/options", json={"purpose": "sign-in"}) as response:
        assert (response.status, await response.json()) == (
            400, {"error": "Passkeys need the server to be reached by a host name, not an IP address"})
