"""A real local Redis Cluster for the tests: 3 masters and a replica each, started with redis-cli --cluster create."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from .redis import RedisServer
from .servers import free_port

REDIS_CLI = shutil.which("redis-cli")
NODE_TIMEOUT_MS = 1000  # how soon a replica takes over from a master that stopped answering


def cluster_port() -> int:
    """Return a free port whose cluster bus port (port + 10000) is free too."""
    import socket

    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class RedisCluster:
    """Six redis-servers in cluster mode (3 masters, 3 replicas) on free ports, in a temp dir."""

    def __init__(self, folder: Path, masters: int = 3) -> None:
        self.servers: list[RedisServer] = []
        folder.mkdir(exist_ok=True)
        for index in range(masters * 2):
            node_dir = folder / f"node{index}"
            node_dir.mkdir()
            server = RedisServer(node_dir, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                 "--cluster-node-timeout", str(NODE_TIMEOUT_MS))
            server.port = cluster_port()
            self.servers.append(server)
        self.masters = masters

    @property
    def url(self) -> str:
        """The store URL: two seed nodes (the others are discovered)."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{server.port}" for server in self.servers[:2])

    def start(self) -> None:
        assert REDIS_CLI is not None
        for server in self.servers:
            server.start()
        subprocess.run([REDIS_CLI, "--cluster", "create", *(f"127.0.0.1:{s.port}" for s in self.servers),
                        "--cluster-replicas", "1", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        self.wait_ok()

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Wait until every running node says the cluster is ok and knows every slot's master."""
        deadline = time.monotonic() + timeout
        while True:
            states = []
            for server in self.servers:
                if server.process is None:
                    continue
                try:
                    info = redis.Redis(port=server.port).cluster("info")
                except redis.RedisError:
                    states.append(False)
                    continue
                states.append(info.get("cluster_state") == "ok")
            if all(states):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Redis Cluster did not become ok: {states}")
            time.sleep(0.1)  # polling another process's state: there is no event to wait on

    def wait_replicated(self, timeout: float = 10.0) -> None:
        """Wait until every replica has all its master's writes (replication is asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            behind = []
            for server in self.servers:
                info = redis.Redis(port=server.port).info("replication")
                if info.get("role") == "master":
                    offsets = [value["offset"] for key, value in info.items() if key.startswith("slave")]
                    behind += [offset for offset in offsets if offset < info["master_repl_offset"]]
            if not behind:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the replicas did not catch up")
            time.sleep(0.05)  # another process's state: no event to wait on

    def master_of(self, key: str) -> RedisServer:
        """Return the server that is the master of ``key``'s slot now."""
        client = redis.Redis(port=next(s for s in self.servers if s.process is not None).port)
        slot = client.cluster("keyslot", key)
        for start, end, master, *_ in client.cluster("slots"):
            if start <= slot <= end:
                port = master[1]
                return next(s for s in self.servers if s.port == port)
        raise LookupError(key)

    def client(self) -> redis.RedisCluster:
        running = next(s for s in self.servers if s.process is not None)
        return redis.RedisCluster(host="127.0.0.1", port=running.port)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
