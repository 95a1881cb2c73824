"""The aiohttp application: the chat socket, health, the channel list and the browser page."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import protocol
from ..background import cancel_and_wait
from ..channels.fanout import close_with_cutoff
from ..channels.presence import sort_handles
from ..config import CHANNEL_HINT, CHANNEL_RE, HANDLE_HINT, HANDLE_RE, Config
from ..hub.accounts import Accounts
from ..hub.hub import Hub
from ..hub.member import Limits
from ..hub.rules import EDIT_SECONDS
from ..lines.logline import SYSTEM
from ..lines.moderation_log import OWN_LINE_SECONDS
from ..metrics import Metrics
from ..protocol import REACTIONS_MOST, Code, Refused
from ..store import open_store
from ..uploads.storage import FilesDir
from .accounts import add_routes as add_account_routes
from .accounts import sweep_sessions
from .chat import chat_socket, renew_resume_tokens
from .heartbeat import Heartbeat
from .page import page_files, static_file
from .search import search, search_all
from .security import AddressQuota
from .state import STATE, State
from .uploads import get_file, put_upload

log = logging.getLogger("wsserver.app")  # the name operators know from the log (docs/operations.md)

def make_app(config: Config) -> web.Application:
    """Build the application for ``config``; files are opened when it starts."""
    app = web.Application()
    metrics = Metrics()
    store = open_store(config, metrics)
    files = FilesDir(config.uploads_dir, config.files_quota)
    hub = Hub(store, config.channels, config.timezone, config.allow_new_channels, config.max_channels, metrics,
              config.rejoin_grace, config.announce_limit, files)
    accounts = Accounts(store.accounts, config.sign_up, config.session_days,
                        password_least=config.password_min_chars) if config.accounts else None
    app[STATE] = State(config, hub, AddressQuota(config.max_connections_per_ip), Heartbeat(config.heartbeat), files,
                       Limits.of(config), accounts)
    if accounts is not None:
        from .passkeys import add_routes as add_passkey_routes  # WebAuthn's libraries, with accounts only

        add_account_routes(app)
        add_passkey_routes(app)
    app.router.add_get("/ws", chat_socket)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", prometheus)
    app.router.add_get("/api/channels", list_channels)
    app.router.add_get("/api/channels/{name}/users", channel_users)
    app.router.add_get("/api/channels/{name}/search", search)
    app.router.add_get("/api/search", search_all)
    app.router.add_get("/api/settings", client_settings)
    app.router.add_put("/api/uploads/{id}", put_upload)
    app.router.add_get("/files/{id}/{name}", get_file)
    app.router.add_get("/{path:.*}", static_file)
    app.on_startup.append(_start)
    app.on_shutdown.append(_close_sockets)
    app.on_cleanup.append(_stop)
    return app


async def _start(app: web.Application) -> None:
    state = app[STATE]
    await state.hub.start()
    state.tasks.append(asyncio.get_running_loop().create_task(state.heartbeat.run(), name="heartbeat"))
    if state.config.jwt_secret:
        state.tasks.append(asyncio.get_running_loop().create_task(renew_resume_tokens(state), name="resume tokens"))
    if state.accounts is not None:
        state.tasks.append(asyncio.get_running_loop().create_task(sweep_sessions(state), name="sessions"))


async def _close_sockets(app: web.Application) -> None:
    # All at once, and with a cut-off: closing a client that stopped reading
    # waits for a drain that never comes, and must not hold up shutdown.
    app[STATE].membership.stopping = True  # with a grace, a seat given back from now on is left away
    sockets = dict(app[STATE].sockets)
    await asyncio.gather(
        *(close_with_cutoff(ws, transport, protocol.CLOSE_GOING_AWAY, protocol.Code.SHUTTING_DOWN.sentence)
          for ws, transport in sockets.items()),
        return_exceptions=True,
    )


async def _stop(app: web.Application) -> None:
    state = app[STATE]
    await cancel_and_wait(state.tasks)
    if state.membership.leaves_away:
        await state.membership.leave_away()
    await state.hub.stop()
    if state.accounts is not None:
        state.accounts.close()
    left = await state.store.registry.release_all()
    if left:
        log.warning("released %d handles whose connections did not end cleanly", left)


async def healthz(request: web.Request) -> web.Response:
    """Report whether the server can take messages: 200, or 503 when the store cannot take lines."""
    state = request.app[STATE]
    problem = state.store.problem()
    body = {
        "status": "ok" if problem is None else "unavailable",
        "uptime": round(time.monotonic() - state.started, 3),
        "connections": len(state.sockets) + state.irc_connections(),
    }
    if problem is not None:
        body["problem"] = problem
    return web.json_response(body, status=200 if problem is None else 503)


async def prometheus(request: web.Request) -> web.Response:
    """Report the counters in the Prometheus text format."""
    await request.app[STATE].store.measure()
    body = generate_latest(request.app[STATE].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def list_channels(request: web.Request) -> web.Response:
    """List the channels with how many users each has, on every process of this data dir."""
    state = request.app[STATE]
    entries = await state.store.registry.users()
    counts = {name: 0 for name in state.hub.channels.names()}
    for entry in entries:
        if entry.channel in counts:
            counts[entry.channel] += 1
    return web.json_response([{"name": name, "users": users} for name, users in counts.items()])


async def channel_users(request: web.Request) -> web.Response:
    """List the handles in one channel, on every process of this data dir; 404 for an unknown channel."""
    state = request.app[STATE]
    name = request.match_info["name"]
    if name not in state.hub.channels.names():
        return web.json_response({"error": Refused.of(Code.UNKNOWN_CHANNEL, name=name[:40]).sentence}, status=404)
    entries = await state.store.registry.users(name)
    return web.json_response({"channel": name, "users": sort_handles([entry.handle for entry in entries])})


async def client_settings(request: web.Request) -> web.Response:
    """Tell clients the limits they should respect before the server refuses them."""
    config = request.app[STATE].config
    return web.json_response({
        "max_message_chars": config.max_message_chars,
        "rate_limit": config.rate_limit,
        "rate_burst": config.rate_burst,
        "history": config.history,
        "allow_new_channels": config.allow_new_channels,
        **({"accounts": True, "sign_up": config.sign_up} if config.accounts else {}),
        # The rules the page checks before asking: the same patterns and window the server applies.
        "handle_pattern": HANDLE_RE.pattern,
        "handle_hint": HANDLE_HINT,
        "reserved_handles": [SYSTEM],
        "channel_pattern": CHANNEL_RE.pattern,
        "channel_hint": CHANNEL_HINT,
        "own_line_seconds": OWN_LINE_SECONDS,
        "edit_line_seconds": EDIT_SECONDS,
        "reactions_most": REACTIONS_MOST,
        "max_upload_bytes": config.max_upload_bytes,
        "timezone": config.timezone,  # the zone of the log's stamps: the page shows them in the reader's own
        # The page's own files and their version: what its service worker keeps (web/sw.js).
        **page_files(),
    })
