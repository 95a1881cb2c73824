"""One token identity on several devices: one seat, one join and one leave line, every socket served."""

from __future__ import annotations

import signal
from typing import Any

from wsserver import protocol

from .support import SECRET, Client, free_port, joined, token


async def _connected(connect: Any, server: Any, sub: str) -> Client:
    client = await connect(server, None, token=token(sub))
    await client.event("presence")
    return client


async def test_two_devices_share_one_seat(start_server: Any, connect: Any) -> None:
    """Same sub twice: one join line, listed once, private lines to both, typing once, one leave line at the end."""
    server = await start_server("--jwt-secret", SECRET, "--rate-limit", "0")
    bob = await joined(await connect(server, None, token=token("Bob")), "Bob")
    laptop = await joined(await connect(server, None, token=token("Alice")), "Alice")
    phone = await _connected(connect, server, "Alice")
    await bob.users_become(["Alice", "Bob"])
    await phone.users_become(["Alice", "Bob"])
    assert sum("Alice has joined" in line for line in server.file_lines("general")) == 1

    await bob.send({"type": "private", "to": "alice", "message": "psst"})
    for device in (laptop, phone, bob):
        assert (await device.event("private"))["data"]["message"].endswith("Bob -> Alice: psst")
    await phone.chat("from the phone")
    for device in (laptop, phone, bob):
        await device.until_line(lambda line: line.endswith("Alice: from the phone"))

    # Typing is the identity's: the laptop starting while the phone types changes nothing for Bob.
    await phone.send({"type": "typing", "typing": True})
    assert (await bob.event("typing"))["data"] == {"channel": "general", "handle": "Alice", "typing": True}
    await laptop.send({"type": "typing", "typing": True})
    await phone.send({"type": "typing", "typing": False})
    await laptop.send({"type": "typing", "typing": False})
    assert (await bob.event("typing"))["data"]["typing"] is False
    assert not any(e.get("event") == "typing" for e in bob.events), "one start and one stop, not two of each"
    assert not any(e.get("event") == "typing" for e in laptop.events + phone.events), "not told of oneself"

    await phone.ws.close()
    await server.wait_for_log("Alice@general left")
    await laptop.chat("still here")
    await bob.until_line(lambda line: line.endswith("Alice: still here"))
    assert not any("Alice has left" in line for line in server.file_lines("general"))
    await laptop.ws.close()
    await bob.until_line(lambda line: line.endswith("System: Alice has left the chat"))
    await bob.users_become(["Bob"])
    assert sum("Alice has joined" in line for line in server.file_lines("general")) == 1
    assert sum("Alice has left" in line for line in server.file_lines("general")) == 1


async def test_reading_on_one_device_is_told_to_the_other(start_server: Any, connect: Any) -> None:
    """A read on the phone: the laptop gets the same read event at once."""
    server = await start_server("--jwt-secret", SECRET, "--rate-limit", "0")
    laptop = await joined(await connect(server, None, token=token("Alice")), "Alice")
    phone = await _connected(connect, server, "Alice")
    await laptop.chat("mark me")
    line = await phone.until_line(lambda text: text.endswith("Alice: mark me"))
    cursor = next(frame["data"]["cursors"][frame["data"]["message"].split("\n").index(line)]
                  for frame in phone.frames if line in frame.get("data", {}).get("message", "").split("\n"))
    await phone.send({"type": "read", "cursor": cursor})
    for device in (phone, laptop):
        assert (await device.event("read"))["data"] == {"channel": "general", "cursor": cursor}


async def test_a_kick_closes_every_device(start_server: Any, connect: Any) -> None:
    """An operator's kick reaches both sockets of the identity; one leave line."""
    server = await start_server("--jwt-secret", SECRET, "--rate-limit", "0")
    op = await joined(await connect(server, None, token=token("Mod", op=True)), "Mod")
    laptop = await joined(await connect(server, None, token=token("Alice")), "Alice")
    phone = await _connected(connect, server, "Alice")
    await op.send({"type": "moderate", "action": "kick", "handle": "Alice"})
    for device in (laptop, phone):
        assert await device.closed() == (protocol.CLOSE_POLICY, protocol.Code.KICKED.sentence)
    await op.until_line(lambda line: line.endswith("System: Alice has left the chat"))
    assert sum("Alice has left" in line for line in server.file_lines("general")) == 1


async def test_without_tokens_a_handle_is_still_one_socket(server: Any, connect: Any) -> None:
    """No tokens: the second socket with the handle is refused as before."""
    await joined(await connect(server, "Alice"), "Alice")
    second = await connect(server, "Alice")
    assert await second.frame() == {"success": False, "message": protocol.Code.HANDLE_TAKEN.sentence}
    assert await second.closed() == (protocol.CLOSE_POLICY, protocol.Code.HANDLE_TAKEN.sentence)


async def _one_seat_on_two_servers(first: Any, second: Any, connect: Any, lines: Any) -> None:
    """Alice on both servers: one join line, listed once, reads told across, one leave line after both."""
    bob = await joined(await connect(second, None, token=token("Bob")), "Bob")
    laptop = await joined(await connect(first, None, token=token("Alice")), "Alice")
    phone = await _connected(connect, second, "Alice")
    await bob.users_become(["Alice", "Bob"])
    await laptop.users_become(["Alice", "Bob"])
    await bob.chat("to read")
    line = await phone.until_line(lambda text: text.endswith("Bob: to read"))
    cursor = next(frame["data"]["cursors"][frame["data"]["message"].split("\n").index(line)]
                  for frame in phone.frames if line in frame.get("data", {}).get("message", "").split("\n"))
    await phone.send({"type": "read", "cursor": cursor})
    for device in (phone, laptop):  # the laptop's server hears of it from the phone's
        assert (await device.event("read"))["data"] == {"channel": "general", "cursor": cursor}
    await bob.send({"type": "private", "to": "Alice", "message": "both of you"})
    for device in (laptop, phone):
        assert (await device.event("private"))["data"]["message"].endswith("Bob -> Alice: both of you")

    await laptop.ws.close()  # the first holder goes: the phone's server keeps the seat
    await first.wait_for_log("Alice@general left")
    await phone.chat("still here")
    await bob.until_line(lambda text: text.endswith("Alice: still here"))
    assert not any("Alice has left" in text for text in lines())
    await bob.users_become(["Alice", "Bob"])
    await phone.ws.close()
    await bob.until_line(lambda text: text.endswith("System: Alice has left the chat"))
    await bob.users_become(["Bob"])
    assert sum("Alice has joined" in text for text in lines()) == 1
    assert sum("Alice has left" in text for text in lines()) == 1


async def test_devices_on_two_processes_share_the_seat(start_server: Any, connect: Any, tmp_path: Any) -> None:
    """Two processes on one data dir: the seat is held by both, and left once."""
    first = await start_server("--jwt-secret", SECRET, "--rate-limit", "0", data_dir=tmp_path / "data")
    second = await start_server("--jwt-secret", SECRET, "--rate-limit", "0", data_dir=tmp_path / "data")
    await _one_seat_on_two_servers(first, second, connect, lambda: first.file_lines("general"))
    users = (tmp_path / "data" / "registered_users.log").read_text().splitlines()
    assert [line.split("|")[0] for line in users] == ["Bob"], "both of Alice's lines released"
    assert users[0].endswith("||0|1"), "a shared claim's line"


async def test_devices_on_two_redis_nodes_share_the_seat(nodes: Any, connect: Any, redis_server: Any) -> None:
    """Two nodes on one Redis: the same, through the users hash."""
    first, second = await nodes("a", "--jwt-secret", SECRET), await nodes("b", "--jwt-secret", SECRET)
    client = redis_server.client()

    def lines() -> list[str]:
        return [fields[b"line"].decode() for _, fields in client.xrange("wsserver:channel:general")]

    await _one_seat_on_two_servers(first, second, connect, lines)
    assert client.hgetall("wsserver:users:general") == {b"bob": client.hget("wsserver:users:general", "bob")}


async def test_both_devices_back_after_a_restart_are_silent(start_server: Any, connect: Any) -> None:
    """The restart grace applies to the seat: two devices back with since= write no leave or join line."""
    port = str(free_port())
    first = await start_server("--jwt-secret", SECRET, "--port", port)
    laptop = await joined(await connect(first, None, token=token("Alice")), "Alice")
    phone = await _connected(connect, first, "Alice")
    await laptop.chat("before")
    await phone.until_line(lambda line: line.endswith("Alice: before"))
    cursor = phone.frames[-1]["data"]["cursor"]
    await first.stop(signal.SIGTERM)
    second = await start_server("--jwt-secret", SECRET, "--port", port, data_dir=first.data_dir)
    for _ in range(2):
        back = await connect(second, None, token=token("Alice"), since=cursor)
        assert (await back.any_frame())["data"] == {"channel": "general", "recovered": True}
    await back.chat("after")
    await back.until_line(lambda line: line.endswith("Alice: after"))
    lines = second.file_lines("general")
    assert sum("Alice has joined" in line for line in lines) == 1 and not any("Alice has left" in line for line in lines)
    await second.wait_for_log("Alice@general came back")
    await second.wait_for_log("Alice@general joined from another device")
