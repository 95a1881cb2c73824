"""Copies for a backup, taken while servers run: whole lines of growing logs, files under their lock, trees.

Every copy is written to a new file and flushed to disk (``fsync``) before
the backup says it is done.  Nothing here deletes or changes the source.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from ..errors import CommandError

CHUNK = 1 << 20
FILES_SKIPPED = ("tmp",)  # in the files dir, uploads being received: not kept yet


def new_target(target: Path, source: Path | None = None) -> None:
    """Make ``target``, which must be new or empty and outside ``source``; raises :class:`CommandError`."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise CommandError(f"{target} is not empty: a backup goes into a new or empty directory")
    if source is not None and target.resolve().is_relative_to(source.resolve()):
        raise CommandError(f"{target} is inside the data dir {source}: put the backup elsewhere")
    target.mkdir(parents=True, exist_ok=True)


def copy_files_dir(files_dir: Path, target: Path) -> str:
    """Copy the shared files into ``target/files`` (a restored data dir's default files dir); say what was copied."""
    files, size = copy_tree(files_dir, target / "files", skip=FILES_SKIPPED)
    return f"copied {files} shared files ({size} bytes) from {files_dir}"


def copy_lines(source: Path, target: Path) -> int:
    """Copy ``source`` up to its last whole line as it is now (a line being appended is left out); return bytes."""
    with source.open("rb") as reader, target.open("wb") as writer:
        size = os.fstat(reader.fileno()).st_size
        copied = 0
        last_newline = -1
        while copied < size:
            block = reader.read(min(CHUNK, size - copied))
            if not block:
                break
            at = block.rfind(b"\n")
            if at >= 0:
                last_newline = copied + at
            writer.write(block)
            copied += len(block)
        writer.truncate(last_newline + 1)  # a torn last line (an append under way) is the next backup's
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copystat(source, target)
    return last_newline + 1


def copy_locked(source: Path, target: Path, lock: Path | None = None) -> int:
    """Copy ``source`` whole while holding the ``flock`` its writers take (on ``lock``, else on itself)."""
    fd = os.open(lock or source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        return copy_file(source, target)
    finally:
        os.close(fd)  # closing releases the lock


def copy_file(source: Path, target: Path) -> int:
    """Copy a file that is replaced whole, never changed in place (a rename makes each version); return bytes."""
    shutil.copyfile(source, target)
    shutil.copystat(source, target)
    with target.open("rb") as written:
        os.fsync(written.fileno())
    return target.stat().st_size


def copy_tree(source: Path, target: Path, skip: tuple[str, ...] = ()) -> tuple[int, int]:
    """Copy the files under ``source`` (not the top-level folders named in ``skip``); return (files, bytes)."""
    files = size = 0
    if not source.is_dir():
        return 0, 0
    for folder, subfolders, names in os.walk(source):
        here = Path(folder)
        if here == source:
            subfolders[:] = [name for name in subfolders if name not in skip]
        into = target / here.relative_to(source)
        into.mkdir(parents=True, exist_ok=True)
        for name in names:
            try:
                size += copy_file(here / name, into / name)
                files += 1
            except FileNotFoundError:
                pass  # removed while we walked (a withdrawn file, a part finished): not part of this backup
    return files, size


def sync_dirs(root: Path) -> None:
    """Flush the directory entries under ``root`` (the new files' names) to disk."""
    for folder, _, _ in os.walk(root):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
