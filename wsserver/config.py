"""Read the server's settings once: command line first, then ``WSSERVER_*`` variables, then the config file,
then defaults.

Every option is declared once in ``OPTIONS``; the command line, the environment
lookup, the config file's keys (the long options' names: ``data-dir = "/var/lib/wsserver"``),
the validation and ``--help`` are all derived from that table, so a
setting cannot exist in one place and be missing in another.  The result is a
frozen :class:`Config` handed down to the rest of the package; no other module
reads ``os.environ``.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import casts
from .casts import CHANNEL_HINT as CHANNEL_HINT
from .casts import CHANNEL_RE as CHANNEL_RE  # re-exported: the channel rule, with the handle rule
from .casts import MANY_URL_RE as MANY_URL_RE  # re-exported: the store URLs are read where settings are
from .casts import SENTINEL_URL_RE as SENTINEL_URL_RE
from .casts import redacted as redacted
from .errors import ConfigError

HANDLE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{2,15}$")
HANDLE_HINT = "3 to 16 letters, digits, underscores or dashes, not starting with a dash"  # the rule as people read it
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def valid_handle(handle: str | None) -> bool:
    """Return whether ``handle`` may join: the handle rule, and never ``System`` in any case."""
    return handle is not None and bool(HANDLE_RE.match(handle)) and handle.lower() != "system"


def valid_channel(name: str) -> bool:
    """Return whether ``name`` is a channel name."""
    return bool(CHANNEL_RE.match(name))


def parse_networks(raw: str) -> tuple[Network, ...]:
    """Read a comma list of addresses or networks. Raises ValueError naming a bad one."""
    networks = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or network") from None
    return tuple(networks)


ENV_PREFIX = "WSSERVER_"
CONFIG_DEFAULT = Path("/etc/wsserver/wsserver.toml")  # read when it exists and no --config names another


@dataclass(frozen=True)
class Config:
    """Checked settings of one server process."""

    # Network
    host: str = "127.0.0.1"
    port: int = 1337
    workers: int = 1
    reuse_port: bool = False
    irc_port: int | None = None  # the IRC door's port (None: no IRC listener)
    irc_name: str = "wsserver"  # the server name IRC clients are told
    irc_password: str | None = field(default=None, repr=False)  # PASS every IRC client must send (None: none)
    irc_operators: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # OPER's names and passwords
    backlog: int = 4096  # listen queue: a reconnect storm must not overflow it (the kernel caps it at somaxconn)
    # Storage
    data_dir: Path = Path("data")
    channels: tuple[str, ...] = ("general", "tech")
    encrypted_channels: tuple[str, ...] = ()  # channels that take only end-to-end encrypted messages
    allow_new_channels: bool = False
    timezone: str = "UTC"
    store: str = "file"  # or a redis:// URL: channel logs in Redis Streams, for nodes on several machines
    fsync: str = "batch"  # when a file store's append is on the disk: always, batch (group commit), off
    stream_maxlen: int = 1_000_000
    mirror_dir: Path | None = None
    files_dir: Path | None = None  # shared files; None: DATA_DIR/files (see uploads_dir)
    # Limits
    history: int = 100
    announce_limit: int = 100  # users above which join and leave lines are not sent live (0: always sent)
    rate_limit: float = 5.0
    rate_burst: int = 10
    max_message_chars: int = 2000
    max_frame_bytes: int = 64 * 1024
    send_queue: int = 256
    max_channels: int = 1000
    search_seconds: float = 2.0  # a search scanning longer answers with what it found, "partial", and a next cursor
    max_upload_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    files_quota: int = 0  # total bytes of the files dir (0: no quota but the disk)
    # Timeouts
    heartbeat: float = 25.0
    rejoin_grace: float = 30.0  # seconds a user of a stopped server is away, not gone (0: off)
    # Who gets in
    allowed_origins: tuple[str, ...] | None = None  # None: same-origin only
    trusted_proxy: tuple[Network, ...] = ()
    max_connections_per_ip: int = 0
    jwt_secret: str | None = field(default=None, repr=False)
    jwt_secret_file: Path | None = None
    resume_ttl: int = 3600  # seconds a resume token (sent to a client joined with a token) is valid
    accounts: bool = False  # sign-in with accounts (a session cookie) for sockets, search and uploads
    sign_up: str = "invite"  # who may create an account: invite, open, closed
    public_url: str | None = None  # https://chat.example.org: links printed, the cookie's Secure
    session_days: int = 30  # a session cookie lives this long, renewed as it is used
    password_min_chars: int = 10  # the shortest password an account may have
    irc_guests: bool = False  # with accounts: IRC clients may also connect without signing in, as guests
    # Diagnostics
    log_level: str = "INFO"
    config: Path | None = None  # the config file the settings were read from (None: none)

    @property
    def uploads_dir(self) -> Path:
        """Return the directory of shared files: ``--files-dir``, or ``files`` in the data dir."""
        return self.files_dir if self.files_dir is not None else self.data_dir / "files"


@dataclass(frozen=True)
class Option:
    """One setting: its flag, its cast, and the sentence ``--help`` shows."""

    field: str
    cast: Callable[[str], Any]
    help: str
    metavar: str = "VALUE"
    switch: bool = False  # a flag without a value; its variable takes true or false
    secret: bool = False  # never echo the value in an error
    redact: bool = False  # echo the value without its password (a URL)

    @property
    def flag(self) -> str:
        return "--" + self.field.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.field.upper()


OPTIONS: tuple[Option, ...] = (
    Option("host", casts.host, "address to listen on", "ADDR"),
    Option("port", casts.integer(0, 65535), "TCP port to listen on (0 picks a free one)", "PORT"),
    Option("workers", casts.integer(1, 64),
           "server processes sharing the port and the data dir; the parent restarts any that dies", "N"),
    Option("reuse_port", casts.boolean, "listen with SO_REUSEPORT, so several servers can share the port", switch=True),
    Option("irc_port", casts.integer(0, 65535),
           "also listen for IRC clients on this TCP port, on --host (off by default)", "PORT"),
    Option("irc_name", casts.irc_name, "the server name IRC clients are told (default wsserver)", "NAME"),
    Option("irc_password", str, "a password every IRC client must send with PASS (a private door)", "SECRET",
           secret=True),
    Option("irc_operators", casts.irc_operators,
           "IRC operators, NAME:PASSWORD[,...]: OPER NAME PASSWORD makes an IRC connection operator of every "
           "channel for its session", "LIST", secret=True),
    Option("backlog", casts.integer(1, 65535),
           "connections the kernel queues before the server accepts them (capped by net.core.somaxconn)", "N"),
    Option("data_dir", casts.path, "directory of the channel logs and the users file; created if missing", "DIR"),
    Option("store", casts.store,
           "file (channel logs in --data-dir), or a Redis URL (redis://, rediss://, "
           "redis+sentinel://HOST:26379[,HOST...]/SERVICE[/DB], redis+cluster://HOST:PORT[,HOST:PORT...], "
           "redis+shards://HOST:PORT[,HOST:PORT...][/DB]): nodes on several machines share the channels", "URL",
           redact=True),
    Option("fsync", casts.choice("always", "batch", "off"),
           "file store: when an append is on the disk before its ok: always (each line), batch (one flush "
           "for the appends of 50 ms, the default) or off (the kernel's page cache)", "MODE"),
    Option("stream_maxlen", casts.integer(1000, 10**10),
           "with a Redis store, the lines each channel stream keeps (approximately); older ones are trimmed", "N"),
    Option("mirror_dir", casts.path,
           "with a Redis store, also append every line read to channel_<name>.log files in this directory", "DIR"),
    Option("files_dir", casts.path,
           "directory of shared files (default DATA_DIR/files); on a Redis store one mount every node shares", "DIR"),
    Option("max_upload_bytes", casts.integer(1, 10**12), "largest file a client may share, in bytes", "BYTES"),
    Option("max_image_pixels", casts.integer(1, 10**10),
           "largest image (width x height) decoded; larger ones are refused before decoding", "N"),
    Option("files_quota", casts.integer(0, 10**15),
           "total bytes the files dir may hold; past it uploads are refused (0: only the disk's room)", "BYTES"),
    Option("channels", casts.channels, "comma-separated channel names, each matching " + CHANNEL_RE.pattern, "LIST"),
    Option("encrypted_channels", casts.channels,
           "comma-separated channels that accept only end-to-end encrypted chat and private messages", "LIST"),
    Option("allow_new_channels", casts.boolean,
           "let clients create a channel by joining a new name that matches the channel rule", switch=True),
    Option("max_channels", casts.integer(1, 100_000), "most channels a process serves, configured and created", "N"),
    Option("history", casts.integer(0, 100_000), "log lines sent to a client when it joins", "N"),
    Option("announce_limit", casts.integer(0, 10_000_000),
           "users in a channel above which join and leave lines are not sent live to the others (they are still "
           "written to the log and in history; the joiner gets its own); 0 always sends them", "N"),
    Option("timezone", casts.timezone, "IANA time zone of the log timestamps", "ZONE"),
    Option("rate_limit", casts.number(0.0), "messages per second per connection (0 turns the limit off)", "PER_S"),
    Option("rate_burst", casts.integer(1, 100_000),
           "messages a connection may send at once before the rate applies", "N"),
    Option("max_message_chars", casts.integer(1, 100_000), "longest chat message, in characters", "N"),
    Option("max_frame_bytes", casts.integer(1024, 16 * 1024 * 1024),
           "largest websocket frame accepted; a larger one closes the socket with 1009", "BYTES"),
    Option("send_queue", casts.integer(1, 1_000_000),
           "frames queued for one client before it is closed as too slow", "N"),
    Option("search_seconds", casts.number(0.0),
           "seconds one search scans before it answers with what it found, partial, and a cursor to go on from "
           "(0: one block of 1 MiB a request)", "SECONDS"),
    Option("heartbeat", casts.number(0.0, strictly_above=True),
           "seconds between pings; a peer that does not answer is closed", "SECONDS"),
    Option("rejoin_grace", casts.number(0.0),
           "seconds users of a stopped server are away, not gone: back with since= in time, no leave or join "
           "line (0: off)", "SECONDS"),
    Option("allowed_origins", casts.origins,
           "comma list of browser origins allowed to open the chat socket, or *; unset: same origin only", "LIST"),
    Option("trusted_proxy", parse_networks,
           "comma list of proxy addresses/networks whose X-Forwarded-For / X-Real-IP are believed", "LIST"),
    Option("max_connections_per_ip", casts.integer(0, 1_000_000),
           "open sockets allowed per client address, past which HTTP 429 (0: no limit)", "N"),
    Option("jwt_secret", casts.secret,
           "HS256 secret: every socket must carry token=<JWT> whose sub is the handle", "SECRET", secret=True),
    Option("jwt_secret_file", casts.path, "file holding the JWT secret (keeps it out of the process list)", "FILE"),
    Option("resume_ttl", casts.integer(2, 7 * 24 * 3600),
           "with tokens, seconds the resume token a client gets for its reconnects stays valid (renewed at half "
           "of it while the socket is open)", "SECONDS"),
    Option("accounts", casts.boolean,
           "sign-in with accounts: sockets, search and uploads need a session (docs/security.md)", switch=True),
    Option("sign_up", casts.choice("invite", "open", "closed"),
           "with --accounts, who may create an account: invite (a link from `wsserver invite`), open, closed",
           "MODE"),
    Option("public_url", casts.public_url,
           "the address people use (https://chat.example.org): printed links, and the cookie's Secure", "URL"),
    Option("session_days", casts.integer(1, 3650), "days a sign-in lasts, renewed as it is used", "DAYS"),
    Option("password_min_chars", casts.integer(1, 1024),
           "the shortest password an account may have (default 10; lower only to bring accounts in)", "N"),
    Option("irc_guests", casts.boolean,
           "with --accounts: IRC clients may also connect without signing in, as guests (not with account handles)",
           switch=True),
    Option("log_level", casts.log_level, "DEBUG, INFO, WARNING, ERROR or CRITICAL", "LEVEL"),
    Option("config", casts.path,
           f"TOML file of settings, its keys the long options' names (data-dir = \"/var/lib/wsserver\"); flags "
           f"and variables win over it; default {CONFIG_DEFAULT} when it exists (an empty variable: none)", "FILE"),
)


def shown_default(value: Any) -> str | None:
    """Return a default as a person would write it on the command line (None: there is none to show)."""
    if value is None or value == ():
        return None
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def add_arguments(
    parser: argparse.ArgumentParser, only: tuple[str, ...] | None = None, helps: Mapping[str, str] | None = None,
) -> None:
    """Declare every option (or those named in ``only``) on ``parser``; defaults are resolved by :func:`load`.

    ``helps`` replaces the help sentence of some options (an operator command
    says what the option means to it).
    """
    defaults = Config()
    for option in OPTIONS:
        if only is not None and option.field not in only:
            continue
        sentence = (helps or {}).get(option.field, option.help)
        if option.switch:
            parser.add_argument(
                option.flag, dest=option.field, default=None, action="store_const", const="true",
                help=f"{sentence} (env {option.env}=true; default off)",
            )
            continue
        default = shown_default(getattr(defaults, option.field))
        parser.add_argument(
            option.flag,
            dest=option.field,
            default=None,
            metavar=option.metavar,
            help=f"{sentence} (env {option.env}" + (f"; default {default})" if default is not None else ")"),
        )


def load(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    """Build the :class:`Config` from parsed flags and an environment.

    Raises :class:`ConfigError` naming the flag and the value that is wrong.
    """
    values: dict[str, Any] = {}
    path = config_path(args, environ)
    in_file = read_config_file(path) if path is not None else {}
    if path is not None:
        values["config"] = path
    for option in OPTIONS:
        if option.field == "config":
            continue
        raw = getattr(args, option.field, None)
        source, where = option.flag, ""
        if raw is None and option.env in environ:
            raw, source = environ[option.env], option.env
        if raw is None and option.field in in_file:
            raw, source, where = in_file[option.field], option.flag[2:], f" in {path}"
        if raw is None:
            continue
        try:
            values[option.field] = option.cast(raw)
        except ValueError as exc:
            shown = "(hidden)" if option.secret else repr(redacted(raw) if option.redact else raw)
            raise ConfigError(f"invalid {source} value {shown}{where}: {exc}") from None
    if "jwt_secret_file" in values:
        path = values["jwt_secret_file"]
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"invalid --jwt-secret-file value '{path}': {exc.strerror}") from None
        try:
            values["jwt_secret"] = casts.secret(secret)
        except ValueError as exc:
            raise ConfigError(f"invalid --jwt-secret-file value '{path}': the secret {exc}") from None
    config = Config(**values)
    if config.workers > 1 and config.port == 0:
        raise ConfigError(f"invalid --workers value '{config.workers}': several workers need a fixed --port, not 0")
    return config


def config_path(args: argparse.Namespace, environ: Mapping[str, str]) -> Path | None:
    """Return the config file to read: ``--config``, else ``WSSERVER_CONFIG`` (empty: none), else the default.

    The default (:data:`CONFIG_DEFAULT`) is read only when it exists.
    """
    given = getattr(args, "config", None)
    if given is None:
        given = environ.get(ENV_PREFIX + "CONFIG")
    if given is None:
        return CONFIG_DEFAULT if CONFIG_DEFAULT.is_file() else None
    return Path(given) if given else None


def read_config_file(path: Path) -> dict[str, str]:
    """Return the settings of a TOML config file as the command line would give them, by option field.

    Raises :class:`ConfigError` naming the file and the key for a file that cannot be read, is not TOML,
    or has a key that names no option or a value of the wrong kind.
    """
    try:
        with path.open("rb") as file:
            table = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {str(path)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the config file {str(path)!r} is not TOML: {exc}") from None
    fields = {option.flag[2:]: option for option in OPTIONS if option.field != "config"}
    found: dict[str, str] = {}
    for key, value in table.items():
        option = fields.get(key)
        if option is None:
            raise ConfigError(f"unknown setting {key!r} in {path} (the keys are the long options' names without "
                              f"the dashes, such as data-dir; see wsserver --help)")
        found[option.field] = _as_flag(value, key, path, option)
    return found


def _as_flag(value: object, key: str, path: Path, option: Option) -> str:
    """Write a TOML value as its flag's text: true/false, a number, a string, a list as a comma list."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str | int | float) and not isinstance(item, bool)
                                       for item in value):
        return ",".join(str(item) for item in value)
    shown = "(hidden)" if option.secret else repr(value)
    raise ConfigError(f"invalid {key} value {shown} in {path}: give a string, a number, true or false, or a list")

