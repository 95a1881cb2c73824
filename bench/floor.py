"""The aiohttp floor: the least an aiohttp chat server does, for the benchmark to measure wsserver against.

In-memory fan-out, nothing else: ``ws.prepare``, a set of sockets per channel,
``async for`` over each socket's frames, and every chat message sent to
everyone in the channel as ``{"success": true, "data": {"channel", "message"}}``.
No files, no handles, no history. Run: ``python bench/floor.py PORT`` (``PORT reuse``: with
``SO_REUSEPORT``, so that two of them share the port, as two workers do: each fans out to its own
sockets only).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

from aiohttp import WSMsgType, web

rooms: defaultdict[str, set[web.WebSocketResponse]] = defaultdict(set)


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
            for peer in list(room):
                if not peer.closed:
                    await peer.send_str(frame)
    finally:
        room.discard(ws)
    return ws


def main() -> None:
    app = web.Application()
    app.router.add_get("/", socket)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), backlog=4096, print=None, access_log=None,
                reuse_port=sys.argv[2:3] == ["reuse"])


if __name__ == "__main__":
    main()
