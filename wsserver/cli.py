"""The ``wsserver`` command: check the settings, start the server, stop it cleanly on a signal."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence

from . import __version__, ops, workers
from .config import Config, add_arguments, load
from .errors import CannotListen, ConfigError
from .store.base import StoreUnavailable

log = logging.getLogger("wsserver")

M_ARENA_MAX = -8  # mallopt's parameter, from <malloc.h>
GC_THRESHOLD = 50_000  # allocations between two young-generation passes of the cyclic collector (700 by default)



def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``wsserver [serve] [options]``."""
    parser = argparse.ArgumentParser(
        prog="wsserver",
        usage="wsserver [serve] [options]",
        description="A WebSocket chat server whose channels are append-only log files. "
        "`wsserver serve [options]` (as the systemd unit runs it) is the same as `wsserver [options]`. "
        "Every option can also be set with the environment variable named in its help; the flag wins. "
        "Operator commands (each with --help): " + ", ".join(ops.COMMANDS) + "; `wsserver help` lists them.",
    )
    parser.add_argument("--version", action="version", version=f"wsserver {__version__}")
    add_arguments(parser)
    return parser


def configure_logging(level: str, worker: str | None = None) -> None:
    """Send one line per event to stderr with level and logger name (and worker), as journald expects."""
    logging.basicConfig(level=getattr(logging, level), format=workers.log_format(worker), stream=sys.stderr)
    # Both report every request or batch of file events at INFO: noise in a journal.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _config_after_command(list(sys.argv[1:] if argv is None else argv))
    if args[:1] and args[0] in ops.COMMANDS:
        return ops.run(args)
    if args[:1] == ["help"]:
        return ops.run(["--help"] if len(args) == 1 else [args[1], "--help"])
    if args[:1] == ["serve"]:
        args = args[1:]
    parser = build_parser()
    try:
        config = load(parser.parse_args(args), os.environ)
        config.data_dir.mkdir(parents=True, exist_ok=True)
    except ConfigError as exc:
        print(f"wsserver: {exc}", file=sys.stderr)
        return 2
    except FileExistsError:
        print(f"wsserver: invalid --data-dir value {str(config.data_dir)!r}: it is a file, not a directory",
              file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"wsserver: cannot create --data-dir {str(config.data_dir)!r}: {exc.strerror}", file=sys.stderr)
        return 2
    if config.workers > 1:
        workers.become_supervisor(args, config.workers, config.log_level)
    configure_logging(config.log_level, os.environ.get("WSSERVER_WORKER"))
    few_malloc_arenas()
    try:
        return asyncio.run(serve(config))
    except (StoreUnavailable, CannotListen) as exc:
        print(f"wsserver: {exc}", file=sys.stderr)
        return 1


def _config_after_command(args: list[str]) -> list[str]:
    """Move a ``--config FILE`` given before the command (``wsserver --config F users``) after it."""
    if args[:1] == ["--config"] and len(args) >= 3:
        return [*args[2:], *args[:2]]
    if args[:1] and args[0].startswith("--config=") and len(args) >= 2:
        return [*args[1:], args[0]]
    return args


def few_malloc_arenas() -> None:
    """Let glibc's malloc keep two arenas, not eight a core, unless the operator set ``MALLOC_ARENA_MAX``.

    The threads that read files (``asyncio.to_thread``) each got an arena of their own, and memory
    they allocated and the event loop freed stayed in it: 14 MB less at W5 with two (bench runs
    side by side, docs/performance.md). Threads here do little but wait on the disk, so they contend
    for an arena rarely. Not glibc (musl): nothing to do.
    """
    if "MALLOC_ARENA_MAX" in os.environ or sys.platform != "linux":
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_ARENA_MAX, 2)


async def serve(config: Config) -> int:
    """Serve until SIGTERM or SIGINT, then close every socket with 1001 and return 0."""
    # Here, not at the top: an operator command (wsserver users ...) never loads the server.
    from .app.application import make_app
    from .app.state import STATE

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    app = make_app(config)
    # Thousands of sockets are tens of thousands of long-lived objects, and the cyclic collector's
    # full passes over them stalled join and restart storms (py-spy: a tenth of the samples landed in
    # whatever allocated when a pass began). Objects of start-up are frozen out of its passes, and
    # passes start after more allocations; reference counting still frees nearly everything at once.
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 100)
    loop.add_signal_handler(signal.SIGHUP, app[STATE].hub.reopen)
    door = None
    if config.irc_port is not None:
        from .irc.door import Door  # the IRC door, only with --irc-port

        door = Door(app[STATE])

        async def close_irc(_: object) -> None:
            await door.stop()

        app.on_shutdown.append(close_irc)  # after the sockets' close: seats given back are left away
    from aiohttp import web

    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=10)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, reuse_port=config.reuse_port or None,
                           backlog=config.backlog)
        try:
            await site.start()
        except socket.gaierror as exc:
            raise CannotListen(f"cannot listen on {config.host}:{config.port}: no such host or address "
                               f"({exc.strerror})") from exc
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise CannotListen(f"cannot listen on {config.host}:{config.port}: {reason}") from exc
        for host, port in (address[:2] for address in runner.addresses):
            log.info("listening on http://%s:%s/ (data in %s)", host, port, config.data_dir.resolve())
        if door is not None and config.irc_port is not None:
            try:
                await door.start(config.host, config.irc_port, config.reuse_port)
            except OSError as exc:
                reason = os.strerror(exc.errno) if exc.errno else str(exc)
                raise CannotListen(f"cannot listen for IRC on {config.host}:{config.irc_port}: {reason}") from exc
        await stop.wait()
        log.info("shutting down")
    finally:
        await runner.cleanup()
    log.info("stopped")
    return 0
