"""A small state file changed under an exclusive ``flock``: read it, decide, write it back whole.

Read positions and public keys are such files: several processes may change
one at once, and the lock makes each change see the one before it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

READ_LIMIT = 1 << 20  # more than any such file holds


def rewrite_locked(path: Path, change: Callable[[bytes], bytes | None], flush: bool = False) -> bool:
    """Give ``change`` the file's bytes (empty if new) under the lock; write what it returns (None: leave it).

    ``flush``: on the disk before returning (``fdatasync``).  Returns whether the file was written.
    Raises OSError.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = change(os.pread(fd, READ_LIMIT, 0))
        if data is None:
            return False
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
        if flush:
            os.fdatasync(fd)
        return True
    finally:
        os.close(fd)  # closing releases the lock
