"""Attacks: forged origins, tokens, floods, junk, oversized input, stalled readers, per-IP caps, path names."""

from __future__ import annotations

import asyncio
import random
import time
import warnings
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest

from .support import SECRET, Client, Server, joined, stalled_socket, token


async def handshake_status(session: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, str]:
    """Try to open a socket; return (101, "") or the refusal's status and body."""
    async with session.get(url.replace("ws", "http", 1), headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", **headers,
    }) as response:
        return response.status, "" if response.status == 101 else await response.text()


# ---------------------------------------------------------------- origins


async def test_default_is_same_origin(server: Server, session: aiohttp.ClientSession) -> None:
    """Unset --allowed-origins: a foreign Origin gets 403; the page's own origin and no Origin get in."""
    url = server.ws_url(channel="general", handle="Alice")
    host = server.url.split("//", 1)[1]
    assert await handshake_status(session, url, Origin="https://evil.example") == (403, "Origin not allowed\n")
    assert await handshake_status(session, url, Origin=f"http://{host}.evil.example") == (403, "Origin not allowed\n")
    assert await handshake_status(session, url, Origin="null") == (403, "Origin not allowed\n")
    assert (await handshake_status(session, url, Origin=f"http://{host}"))[0] == 101
    assert (await handshake_status(session, server.ws_url(channel="general", handle="Bobby")))[0] == 101


async def test_allowed_origins_list_and_star(start_server: Any, session: aiohttp.ClientSession) -> None:
    """--allowed-origins lets exactly the listed origins in; * lets every origin in."""
    server = await start_server("--allowed-origins", "https://chat.example.org, https://other.example.org:8443/")
    url = server.ws_url(channel="general", handle="Alice")
    assert (await handshake_status(session, url, Origin="https://chat.example.org"))[0] == 101
    url = server.ws_url(channel="general", handle="Bobby")
    assert (await handshake_status(session, url, Origin="https://other.example.org:8443"))[0] == 101
    assert (await handshake_status(session, url, Origin="http://chat.example.org"))[0] == 403
    assert (await handshake_status(session, url, Origin=server.url))[0] == 403
    anyone = await start_server("--allowed-origins", "*")
    assert (await handshake_status(session, anyone.ws_url(channel="general", handle="Carol"),
                                   Origin="https://anywhere.example"))[0] == 101


# ---------------------------------------------------------------- tokens




async def test_token_names_the_handle(start_server: Any, connect: Any) -> None:
    """With --jwt-secret the handle is the token's sub; the handle parameter is ignored."""
    server = await start_server("--jwt-secret", SECRET)
    client = await connect(server, "Mallory", token=token("Alice"))
    await joined(client, "Alice")
    assert not any("Mallory" in line for line in server.file_lines("general"))


def other_algorithm() -> str:
    """A token signed with the right secret but HS512 (the key is short for it, which is beside the point)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode({"sub": "Alice", "exp": int(time.time()) + 60}, SECRET, algorithm="HS512")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not-a-jwt",
        token(expires_in=-10),
        token(secret="another-secret-of-at-least-32-bytes!"),
        token(sub="System"),
        token(sub="x"),
        token(sub=12345),
        token(sub=None),
        jwt.encode({"sub": "Alice"}, SECRET, algorithm="HS256"),  # no exp
        other_algorithm(),
        jwt.encode({"sub": "Alice", "exp": int(time.time()) + 60}, None, algorithm="none"),  # type: ignore[arg-type]
    ],
    ids=["empty", "garbage", "expired", "forged", "reserved", "short", "number", "no-sub", "no-exp", "hs512", "none"],
)
async def test_bad_tokens_get_401(start_server: Any, session: aiohttp.ClientSession, bad: str) -> None:
    """Missing, expired, forged, alg none and otherwise wrong tokens get 401 before the upgrade."""
    server = await start_server("--jwt-secret", SECRET)
    url = server.ws_url(channel="general", handle="Alice", **({"token": bad} if bad else {}))
    assert await handshake_status(session, url) == (401, "Authentication failed\n")
    assert not server.log_path("general").read_text()


async def test_secret_from_a_file(start_server: Any, connect: Any, tmp_path: Path) -> None:
    """--jwt-secret-file reads the secret from a file."""
    (tmp_path / "secret").write_text(SECRET + "\n")
    server = await start_server("--jwt-secret-file", str(tmp_path / "secret"))
    await joined(await connect(server, None, token=token("Alice")), "Alice")


# ---------------------------------------------------------------- floods, junk, sizes


async def test_flooder_is_closed_after_three_warnings(start_server: Any, connect: Any) -> None:
    """A connection that keeps exceeding the rate limit after being told is closed with 1008."""
    server = await start_server("--rate-limit", "0.1", "--rate-burst", "2")
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    for i in range(10):
        await alice.chat(f"flood {i}")
    assert await alice.closed() == (1008, "Rate limit exceeded")
    assert sum(frame == {"success": False, "message": "Rate limit exceeded"} for frame in alice.frames) == 3
    await server.wait_for_log(r"Alice@general left \(close code 1008, sent by the server\)")
    await bob.until_line("Alice has left the chat")
    assert [line[22:] for line in server.file_lines("general") if "flood" in line] == ["Alice: flood 0",
                                                                                        "Alice: flood 1"]


async def test_junk_barrage_never_breaks_the_handler(server: Server, connect: Any) -> None:
    """Random bytes, odd JSON and prototype keys get error frames; only whole escaped lines are written."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    rng = random.Random(7)
    junk = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).decode("utf-8", "replace")
            for _ in range(150)]
    junk += ['{"type": "chat", "message": "x", "__proto__": {"handle": "Bob"}}',
             '{"__proto__": {"type": "chat"}, "message": "x"}', '{"constructor": {"prototype": 1}}',
             '{"type": "chat", "message": "\\ud800\\udfff\\u0000\\u001b[2J"}', '{"type": ["chat"]}',
             '{"type": "chat", "message": 1e999}', "\ufeff{}", "{" * 5000]
    for payload in junk:
        await alice.send(payload)
    await alice.chat("still alive")
    await alice.until_line("Alice: still alive")
    errors = [frame["message"] for frame in alice.frames if frame.get("success") is False]
    assert errors and all(message in ("Invalid message format", "Message is empty") or
                          message.startswith("Unknown message type: ") for message in errors)
    assert not any(" ERROR " in line or "Traceback" in line for line in server.lines)
    raw = server.log_path("general").read_bytes()
    for line in raw.decode("utf-8").splitlines():
        assert line.startswith("[") and "] " in line
        assert not any(ord(c) < 0x20 for c in line)
    assert b"] Alice: x\n" in raw and b"Bob: x" not in raw


async def test_long_query_string_is_refused(server: Server, session: aiohttp.ClientSession) -> None:
    """A join whose query string is over 2 KiB gets 414."""
    url = server.ws_url(channel="general", handle="Alice", pad="x" * 2100)
    assert await handshake_status(session, url) == (414, "Query string too long\n")


async def test_stalled_reader_does_not_grow_memory(start_server: Any, connect: Any) -> None:
    """A client that stops reading while others chat at full speed costs a bounded queue, then is dropped."""
    # The senders read everything too: each round waits until they have read it, so a busy machine
    # does not drop a sender as too slow, which is not what this tests.
    server = await start_server("--rate-limit", "0", "--send-queue", "64")
    assert server.process is not None

    def rss_kib() -> int:
        status = Path(f"/proc/{server.process.pid}/status").read_text()  # type: ignore[union-attr]
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))

    stalled = await stalled_socket(server, "Stalled")
    senders = [await joined(await connect(server, f"Sender{i}"), f"Sender{i}") for i in range(2)]
    before = rss_kib()
    peak = before
    text = "z" * 1500
    for round_ in range(20):
        await asyncio.gather(*(sender.chat(f"{round_}.{j} {text}") for sender in senders for j in range(200)))
        peak = max(peak, rss_kib())
        for sender in senders:
            await sender.until_line(lambda line, r=round_: f" {r}.199 " in line, timeout=30)
    await senders[0].until_line("System: Stalled has left the chat", timeout=30)
    for sender in senders:
        await sender.until_line(lambda line: line.startswith("[") and " 19.199 " in line, timeout=30)
    # 8000 lines of 1.5 KB (12 MB) went by; the stalled reader may hold at most --send-queue frames.
    assert peak - before < 40 * 1024, f"server RSS grew by {(peak - before) // 1024} MiB"
    stalled.close()


# ---------------------------------------------------------------- addresses


async def test_per_ip_cap_behind_a_trusted_proxy(start_server: Any, session: aiohttp.ClientSession) -> None:
    """Behind a trusted proxy the forwarded address is capped; an untrusted peer's header is ignored."""
    server = await start_server("--trusted-proxy", "127.0.0.1", "--max-connections-per-ip", "2")
    opened = []
    for i in range(2):
        ws = await session.ws_connect(server.ws_url(channel="general", handle=f"Alice{i}"),
                                      headers={"X-Forwarded-For": "198.51.100.7, 127.0.0.1"})
        opened.append(Client(ws))
    url = server.ws_url(channel="general", handle="Alice9")
    assert await handshake_status(session, url, **{"X-Forwarded-For": "198.51.100.7"}) == (
        429, "Too many connections from this address\n")
    assert (await handshake_status(session, url, **{"X-Real-IP": "198.51.100.8"}))[0] == 101
    await opened[0].ws.close()
    for _ in range(100):  # the server frees the slot once it has seen the close
        status, _ = await handshake_status(session, server.ws_url(channel="general", handle="Alice5"),
                                           **{"X-Forwarded-For": "198.51.100.7"})
        if status == 101:
            break
        await asyncio.sleep(0.02)
    assert status == 101


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(start_server: Any,
                                                                   session: aiohttp.ClientSession) -> None:
    """Without --trusted-proxy every socket counts against the peer's own address, whatever it claims."""
    server = await start_server("--max-connections-per-ip", "1")
    first = Client(await session.ws_connect(server.ws_url(channel="general", handle="Alice"),
                                            headers={"X-Forwarded-For": "203.0.113.1"}))
    await joined(first, "Alice")
    assert await handshake_status(session, server.ws_url(channel="general", handle="Bobby"),
                                  **{"X-Forwarded-For": "203.0.113.2"}) == (429, "Too many connections from this address\n")


# ---------------------------------------------------------------- names


@pytest.mark.parametrize("allow_new", [False, True])
async def test_names_never_reach_outside_the_data_dir(start_server: Any, connect: Any, tmp_path: Path,
                                                      allow_new: bool) -> None:
    """Path-like channel names and handles are refused, with and without rooms on demand."""
    server = await start_server(*(["--allow-new-channels"] if allow_new else []))
    before = sorted(p.name for p in tmp_path.rglob("*"))  # noqa: ASYNC240 (a small tmp dir)
    for channel in ("../x", "..", "/etc/passwd", "a/../../b", "..%2F..%2Fx", "general/../../x", "x\x00y", "~root"):
        client = await connect(server, "Alice", channel)
        assert await client.frame() == {"success": False, "message": "No valid channel provided"}
    for handle in ("../Alice", "a/b", "Alice\x00", ".."):
        client = await connect(server, handle)
        assert await client.frame() == {"success": False, "message": "No valid handle provided"}
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # noqa: ASYNC240


def test_short_jwt_secret_is_refused() -> None:
    """A secret under 32 bytes stops start-up with one line."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "wsserver", "--jwt-secret", "short"], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr == ("wsserver: invalid --jwt-secret value (hidden): must be at least 32 bytes "
                             "(HS256 wants a 256-bit key)\n")


@pytest.mark.parametrize("path", ["/index.html%00.js", "/web/%00", "/%00", "/app.js%00"])
async def test_a_nul_byte_in_a_page_path_is_a_404(server: Server, session: aiohttp.ClientSession, path: str) -> None:
    """A NUL byte in a page path names no file: 404, and no traceback in the log."""
    async with session.get(server.url + path) as response:
        assert response.status == 404
        assert await response.text() == "Not found: a path with a NUL byte\n"
    assert not [line for line in server.lines if "Traceback" in line or "ERROR" in line]


@pytest.mark.parametrize("path", ["/files/" + "a" * 5000, "/" + "a" * 300, "/files/" + "/".join(["a" * 250] * 30),
                                  "/files/" + "a" * 22 + "/" + "b" * 5000])
async def test_an_over_long_path_is_a_404(server: Server, session: aiohttp.ClientSession, path: str) -> None:
    """A path component longer than the file system allows (ENAMETOOLONG) is a 404, with no ERROR in the log."""
    async with session.get(server.url + path) as response:
        assert response.status == 404
    assert not [line for line in server.lines if "Traceback" in line or "ERROR" in line]
