"""The operator's accounts commands: invitations, the first operator, op and deop, disable, reset, remove.

They change the store's accounts directly; running servers notice within seconds (a sweep closes
the sockets of a disabled or signed-out account with 1008 and its reason).  A link is printed
with ``--public-url`` in front (or a path alone, to put the address in front of).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, TextIO

from ..config import CHANNEL_RE, HANDLE_HINT, HANDLE_RE
from ..credentials import digest, invite_record, new_secret
from ..errors import CommandError
from ..store.base import Admin

LINK_DAYS = 1  # a set-password link of `accounts add` and `reset` lasts this long
BOT_KEY_PREFIX = "wsb_"
BOT_KEY_YEARS = 100  # a bot's key lasts until it is rotated or the bot removed


def _link(public_url: str | None, code: str) -> str:
    return f"{public_url or ''}/?invite={code}"


async def invite(source: Admin, uses: int, days: float, op: bool, public_url: str | None) -> str:
    """Make an invitation for ``uses`` sign-ups within ``days``; return its link (the code is not kept)."""
    if uses < 1 or days <= 0:
        raise CommandError("--uses must be 1 or more and --days more than 0")
    code = new_secret()
    await source.accounts.add_invite(digest(code), invite_record(time.time(), uses, days, op))
    return _link(public_url, code)


async def _account(source: Admin, handle: str) -> dict[str, Any]:
    record = await source.accounts.get(handle)
    if record is None or record.get("removed"):
        raise CommandError(f"no account {handle!r} {source.where}")
    return record


async def add(source: Admin, handle: str, op: bool, public_url: str | None) -> str:
    """Create the account ``handle`` without a password; return the one-time link at which its owner sets one."""
    if not HANDLE_RE.match(handle) or handle.lower() == "system":
        raise CommandError(f"invalid handle {handle[:40]!r}: a handle is {HANDLE_HINT}")
    now = time.time()
    made = await source.accounts.create({"handle": handle, "hash": "", "created": now, "seen": None, "op": op,
                                         "ops": [], "disabled": False, "removed": False})
    if not made:
        raise CommandError(f"the handle {handle!r} is taken {source.where}")
    return await _password_link(source, handle, public_url)


async def _password_link(source: Admin, handle: str, public_url: str | None) -> str:
    code = new_secret()
    await source.accounts.add_invite(digest(code), invite_record(time.time(), 1, LINK_DAYS, handle=handle))
    return _link(public_url, code)


async def reset(source: Admin, handle: str, public_url: str | None) -> str:
    """End the account's sessions, clear its password, and return a new set-password link."""
    record = await _account(source, handle)
    await source.accounts.change(handle, {"hash": ""})
    await source.accounts.drop_sessions(record["handle"])
    return await _password_link(source, record["handle"], public_url)


async def change(source: Admin, action: str, handle: str, channel: str | None) -> str:
    """``op``, ``deop``, ``disable``, ``enable`` or ``remove`` the account; return what was done."""
    record = await _account(source, handle)
    name = record["handle"]
    if channel is not None and not CHANNEL_RE.match(channel):
        raise CommandError(f"invalid channel name {channel!r}: must match {CHANNEL_RE.pattern}")
    ops = [str(c) for c in record.get("ops") or []]
    if action in ("op", "deop") and channel is not None:
        ops = sorted({*ops, channel}) if action == "op" else [c for c in ops if c != channel]
        await source.accounts.change(name, {"ops": ops})
        return f"{name} is {'now' if action == 'op' else 'no longer'} an operator of {channel}"
    if action in ("op", "deop"):
        await source.accounts.change(name, {"op": action == "op", **({} if action == "op" else {"ops": []})})
        return f"{name} is {'now' if action == 'op' else 'no longer'} an operator of every channel"
    if action == "enable":
        await source.accounts.change(name, {"disabled": False})
        return f"{name} may sign in again"
    fields = {"disabled": True} if action == "disable" else {"removed": True, "hash": "", "op": False, "ops": []}
    await source.accounts.change(name, fields)
    ended = await source.accounts.drop_sessions(name)
    done = "disabled" if action == "disable" else "removed (its handle stays taken; its lines stay in the logs)"
    return f"{name} {done}; {len(ended)} sessions ended, its sockets close within seconds"


async def add_bot(source: Admin, name: str, channels: str | None) -> str:
    """Create the bot account ``name`` (in ``channels``, a comma list, or every channel); return its API key."""
    if not HANDLE_RE.match(name) or name.lower() == "system":
        raise CommandError(f"invalid bot name {name[:40]!r}: a name is {HANDLE_HINT}")
    allowed = [c.strip() for c in channels.split(",") if c.strip()] if channels else None
    for channel in allowed or ():
        if not CHANNEL_RE.match(channel):
            raise CommandError(f"invalid channel name {channel!r}: must match {CHANNEL_RE.pattern}")
    now = time.time()
    made = await source.accounts.create({"handle": name, "hash": "", "created": now, "seen": None, "op": False,
                                         "ops": [], "disabled": False, "removed": False, "bot": True,
                                         "channels": allowed})
    if not made:
        raise CommandError(f"the handle {name!r} is taken {source.where}")
    return await _new_key(source, name)


async def _new_key(source: Admin, name: str) -> str:
    """Make the bot's key: kept as a session that does not end (only its digest), shown once."""
    key, now = new_secret(BOT_KEY_PREFIX), time.time()
    await source.accounts.add_session(digest(key), {"handle": name, "created": now, "bot": True,
                                                    "expires": now + BOT_KEY_YEARS * 365 * 86400})
    return key


async def _bot(source: Admin, name: str) -> dict[str, Any]:
    record = await _account(source, name)
    if not record.get("bot"):
        raise CommandError(f"{name!r} is a person's account, not a bot's")
    return record


async def rotate_key(source: Admin, name: str) -> str:
    """End the bot's key (its sockets close within seconds) and return a new one."""
    record = await _bot(source, name)
    await source.accounts.drop_sessions(record["handle"])
    return await _new_key(source, record["handle"])


async def remove_bot(source: Admin, name: str) -> str:
    """Remove the bot: its key is refused from now on; its name stays taken."""
    record = await _bot(source, name)
    await source.accounts.change(record["handle"], {"removed": True})
    await source.accounts.drop_sessions(record["handle"])
    return f"bot {record['handle']} removed; its key is refused from now on"


def _when(stamp: Any) -> str:
    if not isinstance(stamp, int | float):
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M")


async def listing(source: Admin, out: TextIO) -> None:
    """Print every account: handle, created, last seen, op, disabled, passkeys, sessions (tab-separated)."""
    out.write("handle\tcreated\tlast seen\top\tdisabled\tpasskeys\tsessions\n")
    for record in sorted(await source.accounts.all(), key=lambda r: str(r["handle"]).lower()):
        if record.get("removed"):
            continue
        op = "all" if record.get("op") else ",".join(record.get("ops") or []) or "-"
        if record.get("bot"):
            op = "bot in " + (",".join(record.get("channels") or []) or "every channel")
        sessions = await source.accounts.sessions_of(str(record["handle"]))
        out.write(f"{record['handle']}\t{_when(record.get('created'))}\t{_when(record.get('seen'))}\t{op}\t"
                  f"{'yes' if record.get('disabled') else 'no'}\t{len(record.get('passkeys') or [])}\t{sessions}\n")


ACTIONS = ("list", "add", "op", "deop", "disable", "enable", "reset", "remove", "add-bot", "rotate-key",
           "remove-bot")
OPTIONS = ("data_dir", "store", "config", "public_url")  # the settings these commands read


def add_parsers(subcommands: Any, add_options: Any) -> None:
    """Declare ``invite`` and ``accounts ACTION`` (each with the settings ``add_options`` adds)."""
    made = subcommands.add_parser("invite", help="print an invitation link to create an account (--accounts)")
    made.add_argument("--uses", type=int, default=1, metavar="N", help="accounts it may create (default 1)")
    made.add_argument("--days", type=float, default=7, metavar="D", help="days it is valid (default 7)")
    made.add_argument("--op", action="store_true", help="the accounts it creates operate every channel")
    add_options(made)
    accounts = subcommands.add_parser("accounts", help="list, add, op, deop, disable, enable, reset, remove accounts")
    actions = accounts.add_subparsers(dest="action", required=True)
    helps = {"list": "every account: handle, created, last seen, op, disabled, passkeys, sessions",
             "add": "create HANDLE and print the one-time link (24 h) at which its owner sets a password",
             "op": "make HANDLE an operator of every channel (or of --channel C)", "deop": "undo op",
             "disable": "end HANDLE's sessions and close its sockets everywhere; it cannot sign in",
             "enable": "let a disabled HANDLE sign in again",
             "reset": "end HANDLE's sessions, clear its password, print a new set-password link",
             "remove": "remove HANDLE (its handle stays taken, its lines stay in the logs)",
             "add-bot": "create the bot NAME and print its API key once (wsb_...): it posts over HTTP and sockets",
             "rotate-key": "end the bot NAME's key and print a new one", "remove-bot": "remove the bot NAME"}
    for action in ACTIONS:
        sub = actions.add_parser(action, help=helps[action])
        if action != "list":
            sub.add_argument("handle", metavar="NAME" if "bot" in action or action == "rotate-key" else "HANDLE")
        if action == "add-bot":
            sub.add_argument("--channels", metavar="LIST", help="only these channels (comma list; default every one)")
        if action == "add":
            sub.add_argument("--op", action="store_true", help="an operator of every channel")
        if action in ("op", "deop"):
            sub.add_argument("--channel", metavar="C", help="only this channel")
        add_options(sub)


async def run(args: Any, source: Admin, public_url: str | None, out: TextIO) -> None:
    """Run ``invite`` or ``accounts ACTION``."""
    if args.command == "invite":
        print(await invite(source, args.uses, args.days, args.op, public_url), file=out)
    elif args.action == "list":
        await listing(source, out)
    elif args.action == "add":
        print(await add(source, args.handle, args.op, public_url), file=out)
    elif args.action == "reset":
        print(await reset(source, args.handle, public_url), file=out)
    elif args.action == "add-bot":
        print(await add_bot(source, args.handle, args.channels), file=out)
    elif args.action == "rotate-key":
        print(await rotate_key(source, args.handle), file=out)
    elif args.action == "remove-bot":
        print(await remove_bot(source, args.handle), file=out)
    else:
        print(await change(source, args.action, args.handle, getattr(args, "channel", None)), file=out)
