"""What the tests share, by concern; ``conftest.py`` only registers the fixtures built on it.

* :mod:`.servers`: wsserver processes (:class:`Server`), data dirs, ports, a stalled socket;
* :mod:`.clients`: websocket clients that read like a browser (:class:`Client`, :func:`joined`);
* :mod:`.cli`: the command line and the operator commands (:func:`run_cli`, :func:`start_cli`);
* :mod:`.waiting`: polling state that has no event (:func:`eventually`);
* :mod:`.tokens`: JSON Web Tokens (:func:`token`);
* :mod:`.redis`, :mod:`.cluster`: a real redis-server and a real local Redis Cluster;
* :mod:`.browser`: Debian's Chromium under Playwright.
"""

from .cli import Ran, run_cli, start_cli
from .clients import Client, joined
from .redis import RedisServer
from .servers import REPO, TIMEOUT, Server, free_port, missing, seed_log, stalled_socket, two_processes
from .tokens import SECRET, token
from .waiting import becomes, eventually

__all__ = [
    "REPO", "SECRET", "TIMEOUT", "Client", "Ran", "RedisServer", "Server", "becomes", "eventually", "free_port", "joined",
    "missing", "run_cli", "seed_log", "stalled_socket", "start_cli", "token", "two_processes",
]
