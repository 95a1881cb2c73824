"""Sending: what is written, what is refused with which sentence, and what the others receive."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import pytest

from wsserver.lines.logline import parse_line

from .support import Server, joined, stalled_socket

STAMP = r"\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\]"


async def test_chat_reaches_everyone_in_the_channel_only(server: Server, connect: Any) -> None:
    """A chat line is written once and delivered to every client of its channel, sender included."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    carol = await joined(await connect(server, "Carol", "tech"), "Carol")
    await alice.chat("hello")
    for client in (alice, bob):
        assert re.fullmatch(STAMP + " Alice: hello", await client.until_line("Alice: hello"))
    await carol.chat("over here")
    await carol.until_line("Carol: over here")
    assert not any("Alice: hello" in line for line in carol.lines)
    assert [line[22:] for line in server.file_lines("general")][-1] == "Alice: hello"
    assert [line[22:] for line in server.file_lines("tech")][-1] == "Carol: over here"


async def test_frame_shape_and_cursor(server: Server, connect: Any) -> None:
    """Log-line frames carry success, channel, the line and a cursor that moves forward."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    await alice.chat("one")
    frame = await alice.frame()
    assert set(frame) == {"success", "data"}
    assert set(frame["data"]) == {"channel", "message", "start", "cursor", "cursors"}
    assert frame["success"] is True and frame["data"]["channel"] == "general"
    size = server.log_path("general").stat().st_size
    assert frame["data"]["cursor"].endswith(f"-{size}")
    start = size - len(frame["data"]["message"].encode()) - 1
    assert frame["data"]["start"] == frame["data"]["cursor"].rsplit("-", 1)[0] + f"-{start}"


async def test_spoofed_handle_is_ignored(server: Server, connect: Any) -> None:
    """A handle field in the payload does not change who the line is from."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    await alice.send({"type": "chat", "message": "I am Bob", "handle": "Bob"})
    assert (await alice.until_line("I am Bob")).endswith("] Alice: I am Bob")


@pytest.mark.parametrize(
    "text",
    [
        "two\nlines",
        "fake\n[2026-11-22 14:07:03] Bob: forged",
        "carriage\rreturn",
        "nul\x00byte",
        "escape\x1b[31mred",
        "tab\tand\\backslash\\n literal",
        "line\u2028separator\u2029paragraph",
        "del\x7f and c1\x85",
        "\\u0000 looks escaped",
    ],
)
async def test_injection_stays_on_one_line(server: Server, connect: Any, text: str) -> None:
    """Line breaks and control characters are escaped: one line, which unescapes to the exact text."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    await alice.chat(text)
    await alice.until_line(lambda line: line.startswith("[") and "Alice: " in line)
    raw = server.log_path("general").read_bytes()
    file_lines = raw.split(b"\n")[:-1]
    assert len(file_lines) == 2
    assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", raw)
    parsed = parse_line(file_lines[1].decode("utf-8"))
    assert parsed is not None and parsed.handle == "Alice" and parsed.text == text
    assert alice.lines[-1] == file_lines[1].decode("utf-8")


async def test_unicode_round_trip(server: Server, connect: Any) -> None:
    """Non-ASCII text is stored as UTF-8 as it is, and comes back the same."""
    text = "héllo 世界 🎉 مرحبا ñ"
    alice = await joined(await connect(server, "Alice"), "Alice")
    await alice.chat(text)
    line = await alice.until_line(text)
    assert line.endswith(f"] Alice: {text}")
    assert f"Alice: {text}\n".encode() in server.log_path("general").read_bytes()


async def test_lone_surrogate_is_refused(server: Server, connect: Any) -> None:
    """A lone surrogate (valid in JSON, not in UTF-8) is refused with its sentence; the whole pair is one character."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    await alice.send('{"type": "chat", "message": "half \\ud83d pair"}')
    assert await alice.refusal() == {"success": False, "message": "Text is not valid Unicode: it holds a lone surrogate"}
    await alice.send('{"type": "chat", "message": "whole \\ud83d\\ude00 pair"}')
    parsed = parse_line(await alice.until_line("whole"))
    assert parsed is not None and parsed.text == "whole \U0001f600 pair"
    assert "half" not in (server.data_dir / "channel_general.log").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("payload", "sentence"),
    [
        ("not json", "Invalid message format"),
        ("", "Invalid message format"),
        ("[1, 2]", "Invalid message format"),
        ('"chat"', "Invalid message format"),
        ("null", "Invalid message format"),
        ("{}", "Invalid message format"),
        ('{"type": 5, "message": "x"}', "Invalid message format"),
        ('{"type": "chat"}', "Invalid message format"),
        ('{"type": "chat", "message": 5}', "Invalid message format"),
        ('{"type": "chat", "message": ["x"]}', "Invalid message format"),
        ('{"type": "chat", "message": NaN}', "Invalid message format"),
        ('{"type": "chat", "message": "x", "n": ' + "9" * 5000 + "}", "Invalid message format"),
        ("[" * 30_000 + "]" * 30_000, "Invalid message format"),
        ('{"type": "chat", "message": ""}', "Message is empty"),
        ('{"type": "chat", "message": "  \\n\\t "}', "Message is empty"),
        ('{"type": "shout", "message": "x"}', "Unknown message type: shout"),
        ('{"type": "__proto__", "message": "x"}', "Unknown message type: __proto__"),
        ('{"type": "system", "message": "reboot"}', "Invalid message format"),
    ],
)
async def test_bad_frames_get_a_sentence_and_write_nothing(
    server: Server, connect: Any, payload: str, sentence: str
) -> None:
    """Each malformed frame gets its error sentence; nothing is written and the socket stays open."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await alice.until_line("Bob has joined")
    before = server.log_path("general").read_bytes()
    await alice.send(payload)
    assert await alice.frame() == {"success": False, "message": sentence}
    assert server.log_path("general").read_bytes() == before
    await alice.chat("still here")
    await bob.until_line("Alice: still here")


async def test_binary_frame_is_refused(server: Server, connect: Any) -> None:
    """A binary frame gets an error sentence and the socket stays open."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    await alice.ws.send_bytes(b'{"type": "chat", "message": "x"}')
    assert await alice.frame() == {"success": False, "message": "Binary frames are not accepted"}
    await alice.chat("after")
    await alice.until_line("Alice: after")


async def test_keepalive_is_silent(server: Server, connect: Any) -> None:
    """The tutorial client's keepalive writes nothing and gets no answer."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    await alice.send({"type": "system", "message": "keepalive"})
    await alice.chat("next")
    frame = await alice.frame()
    assert frame["data"]["message"].endswith("] Alice: next")
    assert not any("keepalive" in line for line in server.file_lines("general"))


async def test_message_length_limit(start_server: Any, connect: Any) -> None:
    """Text of exactly --max-message-chars is written; one character more is refused."""
    server = await start_server("--max-message-chars", "50")
    alice = await joined(await connect(server, "Alice"), "Alice")
    await alice.chat("é" * 51)
    assert await alice.frame() == {"success": False, "message": "Message is too long (limit 50 characters)"}
    await alice.chat("é" * 50)
    assert (await alice.frame())["data"]["message"].endswith("Alice: " + "é" * 50)


async def test_default_length_limit_is_2000(server: Server, connect: Any) -> None:
    """The default limit is 2000 characters."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    await alice.chat("x" * 2001)
    assert await alice.frame() == {"success": False, "message": "Message is too long (limit 2000 characters)"}


async def test_oversized_frame_closes_with_1009(server: Server, connect: Any) -> None:
    """A frame over 64 KiB closes that socket with 1009 and leaves the others alone."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    await alice.send(json.dumps({"type": "chat", "message": "x" * (64 * 1024)}))
    code, _ = await alice.closed()
    assert code == 1009
    await server.wait_for_log(r"Alice@general left \(close code 1009, sent by the server\)")
    await bob.until_line("Alice has left the chat")
    await bob.chat("fine")
    await bob.until_line("Bob: fine")


async def test_rate_limit(start_server: Any, connect: Any) -> None:
    """Past the burst, messages get 'Rate limit exceeded' and are not written."""
    server = await start_server("--rate-limit", "0.5", "--rate-burst", "3")
    alice = await joined(await connect(server, "Alice"), "Alice")
    for i in range(5):
        await alice.chat(f"m{i}")
    errors = 0
    while errors < 2:
        frame = await alice.frame()
        if not frame["success"]:
            assert frame == {"success": False, "message": "Rate limit exceeded"}
            errors += 1
    await alice.until_line("Alice: m2")
    written = [line[22:] for line in server.file_lines("general") if ": m" in line]
    assert written == ["Alice: m0", "Alice: m1", "Alice: m2"]


async def test_rate_limit_zero_turns_it_off(server: Server, connect: Any) -> None:
    """With --rate-limit 0 a burst of 100 messages is all written."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    for i in range(100):
        await alice.chat(f"m{i}")
    await alice.until_line("Alice: m99")
    assert sum(": m" in line for line in server.file_lines("general")) == 100
    assert all(frame["success"] for frame in alice.frames)


async def test_heartbeat_closes_a_peer_that_does_not_answer(start_server: Any, connect: Any) -> None:
    """A peer that does not answer pings is closed after the heartbeat."""
    server = await start_server("--heartbeat", "0.3")
    silent = await connect(server, "Silent", autoping=False)
    await silent.frame()
    code, _ = await silent.closed(timeout=5)
    assert code == 1006  # no close frame: the server drops a peer that stopped answering
    await server.wait_for_log(re.escape("Silent@general left (close code 1006, connection lost: No PONG received"))
    lively = await joined(await connect(server, "Lively"), "Lively")
    assert not lively.ws.closed


async def test_external_append_is_delivered(server: Server, connect: Any) -> None:
    """A line an operator appends with echo >> reaches the clients, through the watcher."""
    alice = await joined(await connect(server, "Alice"), "Alice")
    with server.log_path("general").open("a", encoding="utf-8") as log:
        log.write("[2026-11-22 14:07:03] System: maintenance at noon\n")
    assert await alice.until_line("maintenance") == "[2026-11-22 14:07:03] System: maintenance at noon"


async def test_stalled_reader_is_closed_and_others_unaffected(
    start_server: Any, connect: Any, session: aiohttp.ClientSession
) -> None:
    """A client that stops reading is dropped as too slow; the others get every line."""
    server = await start_server("--rate-limit", "0", "--send-queue", "16")
    stalled = await stalled_socket(server, "Stalled")
    alice = await joined(await connect(server, "Alice"), "Alice")
    bob = await joined(await connect(server, "Bob"), "Bob")
    text = "y" * 1900
    sent = 0
    while not any("closing Stalled@general: stalled reader" in line for line in server.lines):
        assert sent < 40_000, "the stalled reader was never dropped"
        for _ in range(500):
            await alice.chat(f"{sent} {text}")
            sent += 1
        await bob.until_line(f"Alice: {sent - 1} ", timeout=30)
    await alice.chat("end")
    await bob.until_line("Alice: end", timeout=30)
    numbers = [int(line.split("Alice: ")[1].split()[0]) for line in bob.lines if "Alice: " in line and "end" not in line]
    assert numbers == list(range(sent))
    await bob.until_line("System: Stalled has left the chat", timeout=30)
    async with session.get(server.url + "/metrics") as response:
        assert "\nwsserver_stalled_readers_dropped_total 1.0\n" in await response.text()
    stalled.close()


async def test_health_and_channels(server: Server, connect: Any, session: aiohttp.ClientSession) -> None:
    """/healthz reports status, uptime and connections; /api/channels counts users."""
    await joined(await connect(server, "Alice"), "Alice")
    async with session.get(server.url + "/healthz") as response:
        assert response.status == 200
        body = await response.json()
    assert body["status"] == "ok" and body["connections"] == 1 and body["uptime"] >= 0
    async with session.get(server.url + "/api/channels") as response:
        assert response.content_type == "application/json"
        assert await response.json() == [{"name": "general", "users": 1}, {"name": "tech", "users": 0}]


async def test_health_is_503_when_the_data_dir_is_gone(server: Server, session: aiohttp.ClientSession) -> None:
    """/healthz answers 503 when the data dir cannot be written."""
    import shutil

    shutil.rmtree(server.data_dir)
    async with session.get(server.url + "/healthz") as response:
        assert response.status == 503
        body = await response.json()
    assert body["status"] == "unavailable" and body["problem"] == "data dir is not writable"


async def test_failed_append_is_reported_and_nothing_torn(start_server: Any, connect: Any, session: aiohttp.ClientSession) -> None:
    """When the file cannot grow, the sender gets 'Message not saved', /healthz turns 503, no torn line is left."""
    server = await start_server("--rate-limit", "0", file_size_limit=600)
    alice = await joined(await connect(server, "Alice"), "Alice")
    for i in range(20):
        await alice.chat(f"message number {i} " + "z" * 20)
    # Every message is answered, by its line or by an error: read the file only once the
    # server is done with all twenty (reading it earlier raced with the appends still going).
    refusals, saved = [], 0
    while len(refusals) + saved < 20:
        frame = await alice.frame()
        if frame.get("success"):
            saved += sum("message number" in line for line in frame["data"]["message"].split("\n"))
        else:
            refusals.append(frame)
    assert refusals and all(frame == {"success": False, "message": "Message not saved"} for frame in refusals)
    raw = server.log_path("general").read_bytes()
    assert raw.endswith(b"\n") and len(raw) <= 600
    await server.wait_for_log("ERROR wsserver.channel: could not append to")  # Channel.write, the one way to append
    async with session.get(server.url + "/healthz") as response:
        assert response.status == 503
        assert (await response.json())["problem"] == "the last append to a channel log failed"
    numbers = [int(line.split()[-2]) for line in server.file_lines("general") if "message number" in line]
    assert numbers == list(range(len(numbers)))
    await alice.until_line(f"message number {numbers[-1]} ")
    assert [int(line.split()[-2]) for line in alice.lines if "message number" in line] == numbers
