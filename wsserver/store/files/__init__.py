"""The default store: log files in the data dir, tailed, and the locked users file.

Modules, named like their Redis counterparts where they play the same role:
:mod:`.store` (the :class:`~.store.FileStore`), :mod:`.feed` (one log file as
a feed), :mod:`.handles` (the users file), :mod:`.actions` (the moderation
log), :mod:`.events` (typing between processes), :mod:`.finder` (search and
jumps), :mod:`.admin` (what the operator commands read and write).  Only the
files have :mod:`.channellog` (append, read back, cursors), :mod:`.tailer`
(follow a file by byte offsets, and the directory watcher) and :mod:`.scan`
(search a file backwards block by block).
"""
