"""wsserver: a WebSocket chat server whose channels are append-only, greppable log files."""

__version__ = "0.1.0"
