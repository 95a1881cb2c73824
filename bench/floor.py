"""The aiohttp floor: the least an aiohttp chat server does, for the benchmark to measure wsserver against.

In-memory fan-out, nothing else: ``ws.prepare``, a set of sockets per channel,
``async for`` over each socket's frames, and every chat message sent to
everyone in the channel as ``{"success": true, "data": {"channel", "message"}}``.
No files, no handles, no history. Run: ``python bench/floor.py PORT`` (``PORT reuse``: with
``SO_REUSEPORT``, so that two of them share the port, as two workers do: each fans out to its own
sockets only; ``PORT reuse share I``: the two, numbered 0 and 1, also pass each line to the other
in a datagram, and each sends the lines of both to its own sockets, as wsserver's workers do
through the log: the anchor that makes as many deliveries as wsserver --workers 2).
"""

from __future__ import annotations

import asyncio
import json
import socket as sockets
import sys
from collections import defaultdict

from aiohttp import WSMsgType, web

rooms: defaultdict[str, set[web.WebSocketResponse]] = defaultdict(set)
other: tuple[sockets.socket, str] | None = None  # with "share": the datagram socket, and the other process's name


async def fan_out(channel: str, frame: str) -> None:
    for peer in list(rooms[channel]):
        if not peer.closed:
            await peer.send_str(frame)


async def socket(request: web.Request) -> web.WebSocketResponse:
    channel, handle = request.query.get("channel", ""), request.query.get("handle", "")
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    room = rooms[channel]
    room.add(ws)
    try:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                break
            text = json.loads(message.data).get("message", "")
            frame = json.dumps({"success": True, "data": {"channel": channel,
                                                          "message": f"[2026-01-01 00:00:00] {handle}: {text}"}})
            if other is not None:
                other[0].sendto(f"{channel}\n{frame}".encode(), other[1])
            await fan_out(channel, frame)
    finally:
        room.discard(ws)
    return ws


class Relayed(asyncio.DatagramProtocol):
    """Lines the other process was sent: to this process's sockets."""

    def __init__(self) -> None:
        self.sending: set[asyncio.Task[None]] = set()

    def datagram_received(self, data: bytes, addr: object) -> None:
        channel, frame = data.decode().split("\n", 1)
        task = asyncio.get_running_loop().create_task(fan_out(channel, frame))
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)


async def share(app: web.Application) -> None:
    """Bind this process's datagram socket (abstract names: nothing on disk) and name the other's."""
    global other
    port, index = sys.argv[1], int(sys.argv[4])
    sock = sockets.socket(sockets.AF_UNIX, sockets.SOCK_DGRAM)
    sock.bind(f"\0wsserver-floor-{port}-{index}")
    sock.setsockopt(sockets.SOL_SOCKET, sockets.SO_SNDBUF, 1 << 20)
    await asyncio.get_running_loop().create_datagram_endpoint(Relayed, sock=sock)
    other = (sock, f"\0wsserver-floor-{port}-{1 - index}")


def main() -> None:
    app = web.Application()
    app.router.add_get("/", socket)
    if sys.argv[3:4] == ["share"]:
        app.on_startup.append(share)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), backlog=4096, print=None, access_log=None,
                reuse_port=sys.argv[2:3] == ["reuse"])


if __name__ == "__main__":
    main()
