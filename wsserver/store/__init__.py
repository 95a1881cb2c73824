"""Where channel logs and handles live, behind one seam (:mod:`wsserver.store.base`).

* :mod:`wsserver.store.files`: the default store, log files in the data dir;
* :mod:`wsserver.store.redis`: Redis Streams and a Redis registry of handles,
  for nodes on several machines.

The two packages use one vocabulary: the same role has the same module name
on both sides (``store``, ``feed``, ``handles``, ``actions``, ``events``,
``finder``, ``admin``).

Only this module knows both; each implementation imports the base, never the
other way round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Admin, Store

if TYPE_CHECKING:  # not at run time: the operator commands import this module without the server's metrics
    from ..config import Config
    from ..metrics import Metrics


def open_store(config: Config, metrics: Metrics) -> Store:
    """Return the store ``config.store`` names (not yet started)."""
    if config.store == "file":
        from .files.store import FileStore

        return FileStore(config.data_dir, metrics, config.fsync)
    from .redis.store import RedisStore

    return RedisStore(config, metrics)


def open_admin(config: Config) -> Admin:
    """Return the operator commands' face of the store ``config.store`` names.

    Raises :class:`~wsserver.errors.CommandError` for a data dir that does not exist.
    """
    if config.store == "file":
        from .files.admin import FileAdmin

        return FileAdmin(config.data_dir)
    from .redis.admin import RedisAdmin

    return RedisAdmin(config.store, config.timezone)
