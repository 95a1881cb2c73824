"""The config file: TOML keys named as the long options, read by the server and by every operator command."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from wsserver import config as settings

from .support import REPO, run_cli

SYSTEMD = REPO / "systemd"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


async def test_the_server_reads_the_file_and_flags_and_variables_win(start_server: Any, tmp_path: Path,
                                                                   session: aiohttp.ClientSession) -> None:
    """Keys set what no flag or variable sets; a variable wins over the file, a flag over both."""
    conf = write(tmp_path / "wsserver.toml", 'channels = ["books", "films"]\nmax-message-chars = 50\n'
                                               'rate-burst = 4\nallow-new-channels = false\n')
    server = await start_server("--config", str(conf), "--rate-burst", "7", env={"WSSERVER_MAX_MESSAGE_CHARS": "60"})
    async with session.get(server.url + "/api/channels") as response:
        assert [channel["name"] for channel in await response.json()] == ["books", "films"]
    async with session.get(server.url + "/api/settings") as response:
        body = await response.json()
    assert (body["max_message_chars"], body["rate_burst"], body["allow_new_channels"]) == (60, 7, False)


async def test_operator_commands_read_it_before_or_after_their_name(start_server: Any, tmp_path: Path) -> None:
    """`wsserver --config F say ...` and `wsserver say ... --config F` find the data dir the file names."""
    server = await start_server("--channels", "books")
    conf = write(tmp_path / "ops.toml", f'data-dir = "{server.data_dir}"\nchannels = "books"\n')
    assert (await run_cli("--config", str(conf), "say", "books", "first")).returncode == 0
    assert (await run_cli("say", "books", "second", f"--config={conf}")).returncode == 0
    assert (await run_cli("say", "books", "third", env={"WSSERVER_CONFIG": str(conf)})).returncode == 0
    await server.wait_for_log("listening")
    lines = (server.data_dir / "channel_books.log").read_text().splitlines()
    assert [line.split("] ", 1)[1] for line in lines[-3:]] == ["System: first", "System: second", "System: third"]


@pytest.mark.parametrize(("text", "message"), [
    ('dta-dir = "/tmp/x"\n', "wsserver: unknown setting 'dta-dir' in {f} (the keys are the long options' names "
                             "without the dashes, such as data-dir; see wsserver --help)\n"),
    ('history = "high"\n', "wsserver: invalid history value 'high' in {f}: must be a whole number\n"),
    ("history = { a = 1 }\n", "wsserver: invalid history value {{'a': 1}} in {f}: give a string, a number, true or "
                              "false, or a list\n"),
    ('jwt-secret = "short"\n', "wsserver: invalid jwt-secret value (hidden) in {f}: must be at least 32 bytes "
                              "(HS256 wants a 256-bit key)\n"),
    ("port = \n", "wsserver: the config file '{f}' is not TOML: Invalid value (at line 1, column 8)\n"),
])
async def test_a_bad_file_stops_with_a_message_naming_it(tmp_path: Path, text: str, message: str) -> None:
    """Unknown keys, wrong values (secrets hidden), and a file that is not TOML: exit 2, the file and key named."""
    conf = write(tmp_path / "bad.toml", text)
    for args in (("--config", str(conf), "--port", "0"), ("--config", str(conf), "users")):
        result = await run_cli(*args)
        assert (result.returncode, result.stderr) == (2, message.format(f=conf)), args


async def test_a_missing_file_named_by_config_is_an_error(tmp_path: Path) -> None:
    """--config names a file that must exist (the default path is read only when it does)."""
    result = await run_cli("--config", str(tmp_path / "none.toml"), "--port", "0")
    assert (result.returncode, result.stderr) == (
        2, f"wsserver: cannot read the config file '{tmp_path / 'none.toml'}': No such file or directory\n")


def test_the_default_path_is_read_when_it_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No --config and no variable: the default file if it exists; WSSERVER_CONFIG= (empty) reads none."""
    monkeypatch.setattr(settings, "CONFIG_DEFAULT", write(tmp_path / "default.toml", "history = 7\n"))
    none = argparse.Namespace()
    assert settings.load(none, {}).history == 7
    assert settings.load(none, {"WSSERVER_CONFIG": ""}).history == 100
    monkeypatch.setattr(settings, "CONFIG_DEFAULT", tmp_path / "absent.toml")
    assert settings.load(none, {}).config is None


def test_the_shipped_file_configures_the_service() -> None:
    """systemd/wsserver.toml loads, behind NGINX, and the unit starts the server with it."""
    loaded = settings.load(argparse.Namespace(config=str(SYSTEMD / "wsserver.toml")), {})
    assert loaded.data_dir == Path("/var/lib/wsserver") and loaded.host == "127.0.0.1" and loaded.port == 1337
    assert loaded.max_connections_per_ip > 0 and [str(net) for net in loaded.trusted_proxy] == ["127.0.0.1/32"]
    unit = (SYSTEMD / "wsserver.service").read_text()
    assert "ExecStart=/opt/wsserver/bin/wsserver serve --config /etc/wsserver/wsserver.toml\n" in unit
    assert "Environment=WSSERVER_" not in unit, "a variable in the unit would win over the file"
