"""Operator commands, safe while servers run: ``wsserver tail|users|say|check|export|search``.

The commands (:mod:`~wsserver.ops.commands`) exist once; they run over a
source, the data dir (:mod:`~wsserver.ops.files`) or a Redis store
(:mod:`~wsserver.ops.redis`), chosen by ``--store`` as for the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from ..config import Config, ConfigError, add_arguments, load
from ..store.base import StoreError
from . import commands
from .base import OpsError, Source

COMMANDS = ("tail", "users", "say", "check", "export", "search")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the operator commands."""
    parser = argparse.ArgumentParser(
        prog="wsserver",
        description="Operator commands on a data dir, or on a Redis store with --store; safe while servers run. "
        "Exit status: 2 for a wrong value on the command line, 1 when the store fails or check finds problems.",
    )
    subcommands = parser.add_subparsers(dest="command", required=True)
    tail = subcommands.add_parser("tail", help="follow a channel like tail -f, with the text unescaped")
    tail.add_argument("channel")
    tail.add_argument("-n", "--lines", type=int, default=10, help="lines shown before following (default 10)")
    tail.add_argument("--no-follow", action="store_true", help="print the last lines and stop")
    users = subcommands.add_parser("users", help="list who is connected where, on every process")
    users.add_argument("channel", nargs="?")
    say = subcommands.add_parser("say", help="append a System line that every connected client receives")
    say.add_argument("channel")
    say.add_argument("text")
    subcommands.add_parser("check", help="verify logs and users (files, or streams and hashes); exit 1 on problems")
    export = subcommands.add_parser("export", help="print a channel's lines as a log file holds them (file or Redis)")
    export.add_argument("channel")
    export.add_argument("--since", metavar="TIME", help="only lines stamped at or after TIME (in --timezone)")
    search = subcommands.add_parser("search", help="print a channel's lines holding TEXT (case-insensitive), "
                                    "newest first, as the log holds them (file or Redis)")
    search.add_argument("channel")
    search.add_argument("text")
    search.add_argument("--from", dest="handle", metavar="HANDLE", help="only lines of this handle")
    search.add_argument("--limit", type=int, default=50, metavar="N", help="lines printed at most (default 50; 0: all)")
    for sub in subcommands.choices.values():
        add_arguments(sub, only=("data_dir", "timezone", "store"),
                      helps={"data_dir": "directory of the channel logs and the users file (must exist)"})
    return parser


def open_source(config: Config) -> Source:
    """Return the source ``--store`` names; raises OpsError for a data dir that does not exist."""
    if config.store == "file":
        from .files import FileSource

        return FileSource(config.data_dir)
    from .redis import RedisSource

    return RedisSource(config.store, config.timezone)


def run(argv: list[str]) -> int:
    """Run one operator command; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        config = load(args, os.environ)
        source = open_source(config)
    except (ConfigError, OpsError) as exc:
        print(f"wsserver: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args, config, source))
    except OpsError as exc:
        print(f"wsserver: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"wsserver: {exc}", file=sys.stderr)
        return 1
    except source.faults as exc:
        print(f"wsserver: {source.fault(exc)}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, config: Config, source: Source) -> int:
    try:
        if args.command == "say":
            await commands.say(source, args.channel, args.text, config.timezone)
        elif args.command == "users":
            await commands.users(source, args.channel, sys.stdout)
        elif args.command == "tail":
            await commands.tail(source, args.channel, args.lines, sys.stdout, not args.no_follow)
        elif args.command == "search":
            await commands.search(source, args.channel, args.text, args.handle, args.limit, sys.stdout)
        elif args.command == "export":
            await commands.export(source, args.channel, args.since, config.timezone, sys.stdout)
        elif await commands.check(source, sys.stdout):
            return 1
        return 0
    finally:
        await source.close()
