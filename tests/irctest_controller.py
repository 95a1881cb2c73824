"""irctest's controller for wsserver's IRC door: how the IRC conformance suite starts the server under test.

irctest (https://github.com/progval/irctest) imports this module in its own
environment, by name (``--controller irctest_controller`` with this directory
on ``PYTHONPATH``), and calls ``get_irctest_controller_class()``.  It imports
nothing of the project: it starts the ``wsserver`` command found on ``PATH``
for each test, in a directory of its own, on the ports irctest gives it.
``make irctest IRCTEST=path/to/irctest`` runs the suite (docs/protocol.md "IRC").
Not a test module of the project's own suite (pytest does not collect it).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from typing import Any, ClassVar

from irctest.basecontrollers import BaseServerController, DirectoryBasedController, NotImplementedByController
from irctest.cases import BaseServerTestCase
from irctest.specifications import Capabilities, OptionalBehaviors


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WsserverController(BaseServerController, DirectoryBasedController):
    """Starts ``wsserver --irc-port PORT`` with the open mode, or accounts when the test runs services."""

    software_name = "wsserver"
    _port_wait_interval = 0.05
    supported_sasl_mechanisms: ClassVar[set[str]] = {"PLAIN"}
    supports_sts = False
    capabilities = frozenset((
        Capabilities.ACCOUNT_TAG, Capabilities.AWAY_NOTIFY, Capabilities.BATCH, Capabilities.ECHO_MESSAGE,
        Capabilities.EXTENDED_JOIN, Capabilities.LABELED_RESPONSE, Capabilities.MESSAGE_TAGS,
        Capabilities.MULTI_PREFIX, Capabilities.READ_MARKER, Capabilities.SERVER_TIME, Capabilities.EXTENDED_MONITOR,
        Capabilities.SETNAME,
    ))
    optional_behaviors = frozenset((OptionalBehaviors.SASL_AFTER_REGISTRATION,))
    isupport: ClassVar[dict[str, Any]] = {"CASEMAPPING": "ascii", "CHANTYPES": "#", "PREFIX": "(o)@", "UTF8ONLY": None}

    def run(self, hostname: str, port: int, *, password: str | None, ssl: bool, run_services: bool,
            faketime: str | None, websocket_hostname: str | None = None, websocket_port: int | None = None,
            config: Any = None) -> None:
        if ssl:
            raise NotImplementedByController("TLS (NGINX terminates it in front of the door)")
        command = shutil.which("wsserver")
        if command is None:
            raise NotImplementedByController("the wsserver command on PATH")
        environment = None
        if faketime:  # a wall clock that runs ahead (libfaketime, preloaded: no wrapper process); timers keep theirs
            found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
            if not found:
                raise NotImplementedByController("faketime (libfaketime: Debian's package faketime)")
            environment = {**os.environ, "LD_PRELOAD": found[0], "FAKETIME": faketime,
                           "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
            self.faketime_enabled = True
        self.create_config()
        assert self.directory is not None
        self.hostname, self.port = hostname, port
        self.run_services = run_services
        self.web_port = _free_port()
        args = [command, "--data-dir", str(self.directory / "data"), "--host", hostname,
                "--port", str(self.web_port), "--irc-port", str(port), "--irc-name", "My.Little.Server",
                "--allow-new-channels", "--max-channels", "10000", "--rate-limit", "0",
                "--rejoin-grace", "0", "--log-level", "WARNING",
                "--irc-operators", "operuser:operpassword"]  # the IRC operator irctest's tests OPER as
        if password is not None:
            args += ["--irc-password", password]
        if run_services:  # irctest's accounts have passwords such as "sesame", and its clients connect without SASL
            args += ["--accounts", "--sign-up", "open", "--password-min-chars", "1", "--irc-guests"]
        self.proc = self.execute(args, env=environment) if environment else self.execute(args)

    def wait_for_services(self) -> None:
        """Accounts are the server's own: nothing more to wait for."""

    def registerUser(self, case: BaseServerTestCase, username: str, password: str | None = None) -> None:
        """Create an account as the page does: ``POST /api/accounts`` on the web port (sign-up open).

        (Not ``REGISTER`` over IRC: a password of 592 characters does not fit in an IRC line.)
        """
        if not getattr(self, "run_services", False):
            raise ValueError("Attempted to register a nick, but `run_services` is not True.")
        body = json.dumps({"handle": username, "password": password or "a password long enough"}).encode()
        request = urllib.request.Request(f"http://{self.hostname}:{self.web_port}/api/accounts", data=body,
                                         headers={"Content-Type": "application/json"}, method="POST")
        for _ in range(200):  # the web port may open a moment after the IRC port irctest waited for
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    assert answer.status == 201, answer.status
                    return
            except urllib.error.URLError as error:
                if not isinstance(error.reason, ConnectionRefusedError):
                    raise
                time.sleep(0.05)
        raise AssertionError("the web port did not open")


def get_irctest_controller_class() -> type[WsserverController]:
    return WsserverController
