"""End-to-end encryption, the server's part: public keys kept and told, envelopes, --encrypted-channels."""

from __future__ import annotations

import base64
import os
from typing import Any

import aiohttp

from wsserver import protocol

from .support import SECRET, Client, joined, token, two_processes


def jwk() -> dict[str, str]:
    """A P-256 public key in JWK form (random coordinates: the server checks the shape, pages use the key)."""
    def coordinate() -> str:
        return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    return {"kty": "EC", "crv": "P-256", "x": coordinate(), "y": coordinate()}


ENVELOPE = "e2e1." + base64.urlsafe_b64encode(b'{"v":1,"iv":"...","ct":"..."}').rstrip(b"=").decode()


async def keys_after_presence(client: Client) -> list[dict[str, Any]]:
    """Read a joiner's frames up to its presence list, then the key events that follow (until another frame)."""
    while "users" not in (await client.event("presence"))["data"]:
        pass
    found = []
    while True:
        frame = await client.any_frame()
        if frame.get("event") in ("token", "read"):  # these come first, after the users list
            continue
        if frame.get("event") != "key":
            return found
        found.append(frame["data"])


async def test_a_published_key_is_told_and_given_to_joiners(chat_store: Any, connect: Any) -> None:
    """key: everyone in the channel is told; a joiner gets the present users' keys after the users list."""
    server = await chat_store.start("--rate-limit", "0")
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    key = jwk()
    await alice.send({"type": "key", "public": key, "device": "ignored-without-tokens"})
    expected = {"channel": "general", "handle": "Alice", "public": key}
    assert (await bob.event("key"))["data"] == expected
    assert (await alice.event("key"))["data"] == expected
    newer = jwk()
    await alice.send({"type": "key", "public": newer})  # the last one published wins
    await bob.event("key", public=newer)
    carol = await connect(server, "Carol")
    await carol.send({"type": "system", "message": "keepalive"})
    assert await keys_after_presence(carol) == [{"channel": "general", "handle": "Alice", "public": newer}]
    for request, sentence in [
        ({"public": {"kty": "RSA"}}, protocol.Code.BAD_KEY.sentence),
        ({"public": {**key, "d": key["x"]}}, protocol.Code.BAD_KEY.sentence),
        ({"public": {**key, "x": "short"}}, protocol.Code.BAD_KEY.sentence),
        ({}, protocol.Code.BAD_KEY.sentence),
        ({"public": key, "device": "a b"}, protocol.Code.BAD_DEVICE.sentence),
    ]:
        await bob.send({"type": "key", **request})
        assert await bob.refusal() == {"success": False, "message": sentence}, request


async def _across(first: Any, second: Any, connect: Any) -> None:
    alice = await joined(await connect(first, "Alice"), "Alice")
    bob = await joined(await connect(second, "Bob"), "Bob")
    key = jwk()
    await alice.send({"type": "key", "public": key})
    assert (await bob.event("key"))["data"] == {"channel": "general", "handle": "Alice", "public": key}
    carol = await connect(second, "Carol")
    assert await keys_after_presence(carol) == [{"channel": "general", "handle": "Alice", "public": key}]


async def test_keys_across_two_processes(start_server: Any, connect: Any, tmp_path: Any) -> None:
    """Two processes on one data dir."""
    await _across(*await two_processes(start_server, tmp_path / "data"), connect)


async def test_keys_across_two_redis_nodes(nodes: Any, connect: Any) -> None:
    """Two nodes on one Redis."""
    await _across(await nodes("a"), await nodes("b"), connect)


async def test_with_tokens_each_device_has_its_key(start_server: Any, connect: Any) -> None:
    """Two devices of one identity: two keys, each told with its device; a joiner gets both."""
    server = await start_server("--jwt-secret", SECRET, "--rate-limit", "0")
    bob = await joined(await connect(server, None, token=token("Bob")), "Bob")
    laptop = await joined(await connect(server, None, token=token("Alice")), "Alice")
    phone = await connect(server, None, token=token("Alice"))
    await phone.event("presence")
    one, two = jwk(), jwk()
    await laptop.send({"type": "key", "public": one, "device": "laptop"})
    await bob.event("key", device="laptop")
    await phone.send({"type": "key", "public": two, "device": "phone"})
    assert (await bob.event("key", device="phone"))["data"] == {"channel": "general", "handle": "Alice",
                                                                 "device": "phone", "public": two}
    carol = await connect(server, None, token=token("Carol"))
    keys = await keys_after_presence(carol)
    assert sorted((k["device"], k["public"]["x"]) for k in keys) == sorted([("laptop", one["x"]), ("phone", two["x"])])


async def test_encrypted_messages_are_envelopes_in_the_log(server: Any, connect: Any) -> None:
    """encrypted: the log holds the envelope, the private event says encrypted; forms are checked both ways."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await alice.send({"type": "private", "to": "Bob", "message": ENVELOPE, "encrypted": True})
    event = (await bob.event("private"))["data"]
    assert event["encrypted"] is True and event["message"].endswith(f"Alice -> Bob: {ENVELOPE}")
    await alice.send({"type": "chat", "message": ENVELOPE, "encrypted": True})
    await bob.until_line(f"Alice: {ENVELOPE}")
    for request, sentence in [
        ({"type": "chat", "message": "plain words", "encrypted": True}, protocol.Code.BAD_ENVELOPE.sentence),
        ({"type": "chat", "message": ENVELOPE}, protocol.Code.INVALID_FORMAT.sentence),
        ({"type": "chat", "message": ENVELOPE, "encrypted": "yes"}, protocol.Code.INVALID_FORMAT.sentence),
    ]:
        await alice.send(request)
        assert await alice.refusal() == {"success": False, "message": sentence}, request


async def test_encrypted_channels_refuse_plain_text(start_server: Any, connect: Any) -> None:
    """--encrypted-channels: plain chat, private lines, edits and uploads refused with the sentence; the rest works."""
    server = await start_server("--encrypted-channels", "general", "--rate-limit", "0")
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    for request in [{"type": "chat", "message": "hello"}, {"type": "private", "to": "Bob", "message": "psst"},
                    {"type": "upload", "name": "a.txt", "size": 1}]:
        await alice.send(request)
        assert await alice.refusal() == {"success": False, "message": "This channel accepts only encrypted messages"}
    await alice.send({"type": "chat", "message": ENVELOPE, "encrypted": True})
    frame = await bob.until_line_frame(f"Alice: {ENVELOPE}")
    await bob.send({"type": "react", "cursor": frame["cursors"][-1], "emoji": "👍"})
    await alice.event("reactions")
    async with aiohttp.ClientSession() as session, \
            session.get(server.url + "/api/channels/general/search", params={"q": "hello"}) as response:
        body = await response.json()
    assert body["encrypted"] is True and "cannot be searched" in body["note"]
    tech = await joined(await connect(server, "Carol", "tech"), "Carol")
    await tech.chat("plain is fine here")
    await tech.until_line("Carol: plain is fine here")
    assert protocol.Code.PLAIN_ONLY.sentence == "This channel accepts only encrypted messages"
