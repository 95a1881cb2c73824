"""Operator commands, safe while servers run: ``wsserver tail|users|say|check|export|search``, and moderation.

The commands (:mod:`~wsserver.ops.channel_commands`,
:mod:`~wsserver.ops.moderation_commands`) exist once; they run over the
store's own operator face (:class:`wsserver.store.base.Admin`): the data dir
or a Redis store, chosen by ``--store`` as for the server.  Nothing here
loads the server (aiohttp, the hub, the channels).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import sys
from pathlib import Path

from ..config import Config, add_arguments, load
from ..errors import CommandError, ConfigError
from ..lines.moderation_log import MODERATE
from ..store import open_admin
from ..store.base import Admin, StoreError
from . import accounts_commands as accounts
from . import channel_commands as commands
from . import moderation_commands as moderation

COMMANDS = ("tail", "users", "say", "check", "export", "search", "kick", "ban", "unban", "mute", "unmute", "delete",
            "bans", "backup", "invite", "accounts")


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
    export.add_argument("--json", action="store_true",
                        help="one JSON object a line, reactions, edits and replies folded in (see docs/operations.md)")
    search = subcommands.add_parser("search", help="print a channel's lines holding TEXT (case-insensitive), "
                                    "newest first, as the log holds them (file or Redis); without CHANNEL, "
                                    "every channel's, each after its channel's name")
    search.add_argument("channel", nargs="?")
    search.add_argument("text")
    search.add_argument("--from", dest="handle", metavar="HANDLE", help="only lines of this handle")
    search.add_argument("--limit", type=int, default=50, metavar="N", help="lines printed at most (default 50; 0: all)")
    helps = {"kick": "close HANDLE's socket in CHANNEL on every server (they may join again)",
             "ban": "kick HANDLE and refuse its joins in CHANNEL (any case) until unbanned or --for ends",
             "unban": "lift a ban", "mute": "HANDLE stays and reads; its chat and private messages are refused",
             "unmute": "lift a mute"}
    for kind, text in helps.items():
        sub = subcommands.add_parser(kind, help=text)
        sub.add_argument("channel")
        sub.add_argument("handle")
        if kind in ("ban", "mute"):
            sub.add_argument("--for", dest="duration", metavar="DURATION", help="e.g. 30m, 2h, 7d, 1h30m (default: "
                             "until lifted)")
        sub.add_argument("--reason", metavar="TEXT", help="why, in the audit line and the user's message")
    delete = subcommands.add_parser("delete", help="hide the line just before CURSOR from every client and history")
    delete.add_argument("channel")
    delete.add_argument("cursor", help="the line's cursor, as frames and search results carry it")
    delete.add_argument("--erase", action="store_true", help="also overwrite its text in the log (same size)")
    delete.add_argument("--private", action="store_true", help="CURSOR is a private line's (of the private log): "
                        "its two ends are told, the channel is not")
    listing = subcommands.add_parser("bans", help="list the bans and mutes in force, with when they end")
    listing.add_argument("channel", nargs="?")
    backup = subcommands.add_parser("backup", help="copy what the deployment needs to come back into DIR (new or "
                                    "empty) while servers run; on the files store DIR is a data dir to serve")
    backup.add_argument("dir", type=Path, metavar="DIR")
    helps = {"data_dir": "directory of the channel logs and the users file (must exist)"}
    for sub in subcommands.choices.values():
        add_arguments(sub, only=("data_dir", "timezone", "store", "config", "files_dir"), helps=helps)
    accounts.add_parsers(subcommands, lambda sub: add_arguments(sub, only=accounts.OPTIONS, helps=helps))
    return parser


def run(argv: list[str]) -> int:
    """Run one operator command; return the exit status (141 when the reader of its output went away)."""
    # Text no encoding can write (a lone surrogate an older server let into a log) is printed escaped.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        status = _command(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # `wsserver export general | head -3`: the reader has all it wanted. End quietly as Unix tools do
        # (128 + SIGPIPE), with stdout on /dev/null so that the interpreter's last flush says nothing either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    return status


def _command(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load(args, os.environ)
        source = open_admin(config)
    except (ConfigError, CommandError) as exc:
        print(f"wsserver: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args, config, source))
    except CommandError as exc:
        print(f"wsserver: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"wsserver: {exc}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, config: Config, source: Admin) -> int:
    try:
        if args.command == "say":
            await commands.say(source, args.channel, args.text, config.timezone)
        elif args.command == "users":
            await commands.users(source, args.channel, sys.stdout)
        elif args.command == "tail":
            await commands.tail(source, args.channel, args.lines, sys.stdout, not args.no_follow)
        elif args.command in MODERATE:
            print(await moderation.moderate(source, args.command, args.channel, args.handle,
                                            getattr(args, "duration", None), args.reason, config.timezone))
        elif args.command == "delete":
            print(await moderation.delete(source, args.channel, args.cursor, args.erase, config.timezone,
                                          config.uploads_dir, args.private))
        elif args.command in ("invite", "accounts"):
            await accounts.run(args, source, config.public_url, sys.stdout)
        elif args.command == "backup":
            for said in await source.backup(args.dir, config.uploads_dir):
                print(said)
            print(f"backup done: {args.dir}")
        elif args.command == "bans":
            await moderation.bans(source, args.channel, config.timezone, sys.stdout)
        elif args.command == "search":
            await commands.search(source, args.channel, args.text, args.handle, args.limit, sys.stdout)
        elif args.command == "export":
            await commands.export(source, args.channel, args.since, config.timezone, sys.stdout, args.json)
        elif await commands.check(source, sys.stdout, config.uploads_dir):
            return 1
        return 0
    finally:
        await source.close()
