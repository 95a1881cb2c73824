"""Run several server processes on one port and one data dir, and keep them running.

Each worker is an ordinary ``wsserver serve`` with ``--reuse-port``: the
kernel spreads connections over them, and the files are the bus between
them (every worker tails every log).  The parent only supervises: it
restarts a worker that dies (whose handles the new worker reclaims at
start-up, as any join blocked by them would), and passes SIGTERM, SIGINT and
SIGHUP on to the workers.

Once the command line is checked, ``wsserver --workers N`` replaces itself
(``exec``, same process id for systemd) with ``python -m wsserver.workers``:
this module alone, on the standard library, so the supervisor holds about
10 MB instead of the whole server's imports (aiohttp, the store, the
accounts) that it never uses.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

log = logging.getLogger("wsserver.workers")  # not __name__: "__main__" when run by -m

PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>

# Timeouts
RESTART_PAUSE = 1.0  # seconds before restarting a worker that died young, so a crash loop cannot spin
YOUNG = 5.0  # a worker that dies within this many seconds of starting died young


def log_format(worker: str | None = None) -> str:
    """Return the format of the log lines: level, logger name (and worker), as journald expects."""
    who = f" worker {worker}[%(process)d]" if worker is not None else ""
    return f"%(asctime)s %(levelname)s{who} %(name)s: %(message)s"


def become_supervisor(args: Sequence[str], count: int, level: str) -> None:
    """Replace this process with a lean supervisor of ``count`` workers with the server ``args``; never returns."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "wsserver.workers", str(count), level, "--", *args])


def main(argv: Sequence[str]) -> int:
    """``python -m wsserver.workers COUNT LEVEL -- ARGS...``: supervise (as :func:`become_supervisor` runs it)."""
    count, level, _, *args = argv
    logging.basicConfig(level=getattr(logging, level), format=log_format(), stream=sys.stderr)
    return supervise(args, int(count))


def supervise(args: Sequence[str], count: int) -> int:
    """Run ``count`` workers with the server ``args``; return 0 once they all stopped on a signal."""
    workers: dict[int, tuple[int, float]] = {}  # pid -> (worker number, start time)
    stopping = False

    def spawn(number: int) -> None:
        command = [sys.executable, "-m", "wsserver", "serve", *args, "--workers", "1", "--reuse-port"]
        env = dict(os.environ, WSSERVER_WORKER=str(number))
        process = subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)
        workers[process.pid] = (number, time.monotonic())
        log.info("started worker %d (pid %d)", number, process.pid)

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for pid in list(workers):
            try:
                os.kill(pid, signal.SIGTERM if signum == signal.SIGINT else signum)
            except ProcessLookupError:
                pass

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    for number in range(count):
        spawn(number)
    while workers:
        pid, status = os.wait()
        if pid not in workers:
            continue
        number, started = workers.pop(pid)
        if stopping:
            log.info("worker %d (pid %d) stopped", number, pid)
            continue
        log.warning("worker %d (pid %d) exited (%s); restarting it", number, pid, _describe(status))
        if time.monotonic() - started < YOUNG:
            time.sleep(RESTART_PAUSE)
        if not stopping:
            spawn(number)
    log.info("all workers stopped")
    return 0


def _die_with_parent() -> None:
    # If the parent is killed outright (SIGKILL, OOM), its workers must not
    # live on unsupervised, holding the port: ask the kernel for a SIGTERM.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
