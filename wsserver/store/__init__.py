"""Where channel logs and handles live, behind one seam (:mod:`wsserver.store.base`).

* :mod:`~wsserver.store.files`: the default store, log files in the data dir
  (:mod:`~wsserver.store.channellog` appends, :mod:`~wsserver.store.tailer`
  reads back, :mod:`~wsserver.store.users` holds the handles);
* :mod:`~wsserver.store.redis`: Redis Streams and a Redis registry of handles,
  for nodes on several machines.

Only this module knows both; each implementation imports the base, never the
other way round.
"""

from __future__ import annotations

from ..config import Config
from ..metrics import Metrics
from .base import Store


def open_store(config: Config, metrics: Metrics) -> Store:
    """Return the store ``config.store`` names (not yet started)."""
    if config.store == "file":
        from .files import FileStore

        return FileStore(config.data_dir, metrics)
    from .redis import RedisStore

    return RedisStore(config, metrics)
