"""Operator commands and the server's command line, run as a person runs them: ``python -m wsserver ARGS``."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import NamedTuple

from .servers import REPO


class Ran(NamedTuple):
    """How a command ended: unpack it (``code, out, err = await run_cli(...)``) or read its fields."""

    returncode: int
    stdout: str
    stderr: str


def _environment(env: dict[str, str] | None) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WSSERVER_")}
    clean["WSSERVER_CONFIG"] = ""  # no /etc/wsserver/wsserver.toml of the machine's: a test names its own
    clean.update(env or {})
    return clean


async def start_cli(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    """Start ``wsserver ARGS`` with its stdout and stderr piped, outside any WSSERVER_ variable but ``env``."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wsserver", *args, cwd=REPO, env=_environment(env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> Ran:
    """Run ``wsserver ARGS`` to its end; return its exit status, stdout and stderr."""
    process = await start_cli(*args, env=env)
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())
