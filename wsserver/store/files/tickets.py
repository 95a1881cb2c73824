"""One-time tickets in the data dir: ``uploads/<ticket>.json``, taken once by a rename.

Any process may take a ticket: the first ``rename(2)`` of the file wins and
the others find it gone, so a ticket is used once however many processes
race for it.  Expired ones are swept when new ones are issued.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from ..base import StoreError

TICKET_DIR = "uploads"


class FileTickets:
    """Tickets as small files under ``<data dir>/uploads/``."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / TICKET_DIR

    async def issue(self, ticket: str, data: dict[str, Any], seconds: float) -> None:
        """Write the ticket (and sweep expired ones)."""

        def write() -> None:
            self.folder.mkdir(exist_ok=True)
            now = time.time()
            for old in self.folder.glob("*.json"):
                try:
                    if old.stat().st_mtime < now - 2 * seconds:
                        old.unlink()
                except FileNotFoundError:
                    pass
            temporary = self.folder / f".{ticket}.tmp"
            temporary.write_text(json.dumps({**data, "expires": now + seconds}), encoding="utf-8")
            os.replace(temporary, self.folder / f"{ticket}.json")

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            raise StoreError(f"writing an upload ticket failed: {exc}") from exc

    async def take(self, ticket: str) -> dict[str, Any] | None:
        """Rename the ticket to this process's name (the first rename wins), read it, remove it."""

        def take() -> dict[str, Any] | None:
            taken = self.folder / f".{ticket}.taken.{os.getpid()}"
            try:
                os.rename(self.folder / f"{ticket}.json", taken)
            except FileNotFoundError:
                return None
            try:
                data: dict[str, Any] = json.loads(taken.read_text(encoding="utf-8"))
            except ValueError:
                return None
            finally:
                taken.unlink(missing_ok=True)
            return data if data.pop("expires", 0) >= time.time() else None

        try:
            return await asyncio.to_thread(take)
        except OSError as exc:
            raise StoreError(f"taking an upload ticket failed: {exc}") from exc

    async def drop(self, tickets: list[str]) -> None:
        """Remove the tickets' files."""

        def drop() -> None:
            for ticket in tickets:
                (self.folder / f"{ticket}.json").unlink(missing_ok=True)

        try:
            await asyncio.to_thread(drop)
        except OSError as exc:
            raise StoreError(f"removing upload tickets failed: {exc}") from exc
