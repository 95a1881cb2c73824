"""``wsserver backup DIR`` on the files store: a consistent copy of a data dir, taken while servers run.

The copy is itself a data dir (``wsserver --data-dir DIR`` serves it):

* the channel logs (current ones up to their last whole line, rotated ones whole) and the
  moderation log, the same way;
* the users file (seats, and the away seats of a restart), read under the lock its writers take;
* read positions and public keys, each file under its own lock;
* the accounts (accounts, sessions, invitations, failed sign-ins) under the accounts' lock: a
  restored server signs in the same people with the same cookies;
* the shared files (the files dir, from wherever ``--files-dir`` puts it, into ``DIR/files``);
* ``moved.json``: the copied logs' old identities, so that cursors of the backed-up server
  (clients resuming, read positions) name the same lines in the restored one (moved.py).

Left out, because a server makes them again: the annotation index snapshots (rebuilt from the
logs at the first start), upload tickets (one-time URLs of five minutes), the events folder
(typing and other ephemeral signals) and the lock files.  Nothing of the source is changed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..copying import copy_file, copy_files_dir, copy_lines, copy_locked, new_target, sync_dirs
from . import moved
from .accounts import ACCOUNTS_DIR, FILES
from .actions import ACTIONS_FILE
from .channellog import identity
from .handles import LOCK_FILE, USERS_FILE
from .pubkeys import KEY_DIR
from .reads import READ_DIR

_LOG_RE = re.compile(r"^(channel|private)_[a-z0-9][a-z0-9_-]{0,31}\.log$")  # a log being appended to
_ROTATED_RE = re.compile(r"^(channel|private)_[a-z0-9][a-z0-9_-]{0,31}\.log.+$")  # logrotate's, whole


def backup(data_dir: Path, files_dir: Path, target: Path) -> list[str]:
    """Copy ``data_dir`` (and ``files_dir``) into ``target``, a new or empty directory; return what was copied.

    Raises :class:`~wsserver.errors.CommandError` if ``target`` holds anything; OSError if the disk refuses.
    """
    new_target(target, data_dir)
    report = []
    old = moved.read(data_dir)  # a restored data dir backed up again keeps its older cursors too
    now: dict[tuple[int, int], str] = {}
    logs = size = 0
    for path in sorted(data_dir.iterdir()):
        if _LOG_RE.match(path.name) or path.name == ACTIONS_FILE:
            before = identity(os.stat(path))
            size += copy_lines(path, target / path.name)
        elif _ROTATED_RE.match(path.name):
            before = identity(os.stat(path))
            size += copy_file(path, target / path.name)
        else:
            continue
        logs += path.name != ACTIONS_FILE
        now[before] = path.name
    for older, name in old.items():
        if name in now.values():
            now.setdefault(older, name)
    moved.write(target, now)
    report.append(f"copied {logs} log files and the moderation log: {size} bytes of whole lines")
    if (data_dir / USERS_FILE).exists():
        copy_locked(data_dir / USERS_FILE, target / USERS_FILE, data_dir / LOCK_FILE)
        report.append("copied the users file (seats, and away seats of a restart)")
    for folder, what in ((READ_DIR, "read positions"), (KEY_DIR, "public keys")):
        copied = 0
        for path in sorted((data_dir / folder).glob("*/*")) if (data_dir / folder).is_dir() else ():
            (target / path.parent.relative_to(data_dir)).mkdir(parents=True, exist_ok=True)
            copy_locked(path, target / path.relative_to(data_dir))
            copied += 1
        report.append(f"copied {copied} {what}")
    accounts = data_dir / ACCOUNTS_DIR
    if accounts.is_dir():
        (target / ACCOUNTS_DIR).mkdir(mode=0o700)
        kept = [name for name in FILES if (accounts / name).exists()]
        for name in kept:
            copy_locked(accounts / name, target / ACCOUNTS_DIR / name, accounts / ".lock")
        report.append(f"copied the accounts ({', '.join(kept) or 'none yet'})")
    report.append(copy_files_dir(files_dir, target))
    sync_dirs(target)
    return report
