"""Cursors that outlive a copy of the data dir: the identities of log files before a backup, by file name.

A cursor names a log file by its identity (device and inode), which a copy
changes.  ``wsserver backup`` writes ``moved.json`` beside the copied logs:
each copied file's old identity (``"<dev>-<ino>"``, as cursors write it)
and its name.  A server or an operator command on that data dir loads it
(:func:`load`), and a cursor of the old file is read as the same offset in
the file of that name now (:func:`current`), so clients resuming with
``since=``, read positions and the cursors of search results survive a
restore.  A name that no longer exists (the log was rotated since) leaves
the cursor as stale as any cursor of a rotated log.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MOVED_FILE = "moved.json"

_names: dict[tuple[int, int], Path] = {}  # old identity -> the log file now at that name (this process's data dir)


def load(data_dir: Path) -> None:
    """Read ``moved.json`` of ``data_dir``, if there is one (a data dir restored from a backup)."""
    _names.clear()
    _names.update({identity: data_dir / name for identity, name in read(data_dir).items()})


def read(data_dir: Path) -> dict[tuple[int, int], str]:
    """Return the old identities in ``data_dir/moved.json`` and the names of their files (empty if none)."""
    try:
        table = json.loads((data_dir / MOVED_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    found = {}
    for key, name in table.items() if isinstance(table, dict) else ():
        dev, _, ino = str(key).partition("-")
        try:
            found[(int(dev, 16), int(ino, 16))] = str(name)
        except ValueError:
            continue
    return found


def write(data_dir: Path, moved: dict[tuple[int, int], str]) -> None:
    """Write ``moved.json`` (and flush it to disk)."""
    path = data_dir / MOVED_FILE
    with path.open("w", encoding="utf-8") as out:
        json.dump({f"{dev:x}-{ino:x}": name for (dev, ino), name in sorted(moved.items())}, out, indent=1)
        out.flush()
        os.fsync(out.fileno())


def current(identity: tuple[int, int]) -> tuple[int, int]:
    """Return the identity a cursor of ``identity`` names now: the file of its name, if it was moved."""
    if not _names:
        return identity  # the common case: no restore, one dict test
    path = _names.get(identity)
    if path is None:
        return identity
    try:
        stat = os.stat(path)
    except OSError:
        return identity
    return (stat.st_dev, stat.st_ino)
