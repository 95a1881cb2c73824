"""The servers a benchmark runs side by side (wsserver, the Node peer, the ceiling, the floor), and Redis for them."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from wsserver.lines.annotation import reaction_line

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS = REPO.parent / "shared" / "peers"
BUILD = HERE / ".build"
RESULTS = HERE / "results"


@dataclass(frozen=True)
class Workload:
    name: str
    channels: int
    per_channel: int
    senders: int  # per channel
    rate: float  # messages per second per sender; 0: as fast as possible
    count: int  # messages per sender
    processes: int = 2  # load generator processes


WORKLOADS = {
    "W1": Workload("W1 paced", 2, 250, 2, 50, 150),
    "W2": Workload("W2 heavy", 2, 250, 10, 100, 300),
    "B": Workload("B burst", 2, 250, 2, 0, 1000),
    "W3": Workload("W3 many", 2, 1000, 1, 10, 40),
    "W4": Workload("W4 ten thousand", 2, 5000, 1, 5, 30, processes=4),
    # 20,000 sockets in two channels, two load generators of 10,000: wsserver --workers 2 beside two floors
    "W5": Workload("W5 twenty thousand", 2, 10_000, 1, 5, 30, processes=2),
    "tiny": Workload("tiny", 2, 5, 1, 20, 10, processes=1),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _free(port: int) -> bool:
    """Return whether ``port`` can be bound on 127.0.0.1 right now."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 200_000)), hard))


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


# ---------------------------------------------------------------- building the Node side


def node_modules() -> Path:
    """Build the peer (and so the ws package) once, in bench/.build (shared/ is read-only).

    Without the peer's sources beside the checkout, install only the ws package: wsserver and the
    ceiling can still be measured.
    """
    target = BUILD / "seed000"
    if (target / "ws" / "dist" / "server.js").exists():
        return target / "node_modules"
    if not shutil.which("node") or not shutil.which("npm"):
        raise RuntimeError("the benchmark needs node and npm (apt-get install nodejs npm)")
    if not (PEERS / "seed000").is_dir():
        alone = BUILD / "ws-only"
        if not (alone / "node_modules" / "ws").is_dir():
            alone.mkdir(parents=True, exist_ok=True)
            subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(alone),
                            "ws@^8.18.0"], check=True)
        return alone / "node_modules"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(PEERS / "seed000", target, ignore=shutil.ignore_patterns("node_modules", "dist", "data"))
    subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund"], cwd=target, check=True)
    # The peer's README: tsc prints one type error and still emits ws/dist.
    subprocess.run(["npx", "tsc", "-p", "tsconfig.json"], cwd=target, capture_output=True)
    if not (target / "ws" / "dist" / "server.js").exists():
        raise RuntimeError("building the peer did not produce ws/dist/server.js")
    return target / "node_modules"


# ---------------------------------------------------------------- servers


class Redis:
    """A redis-server for cluster runs: a free port, no persistence, in a temp dir."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("cluster mode needs redis-server (apt-get install redis-server)")
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="bench-redis-"))
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL,
        )
        wait_port(self.port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        shutil.rmtree(self.folder, ignore_errors=True)


class RedisCluster:
    """A Redis Cluster of three masters (no replicas: the bench measures the path, not failover)."""

    def __init__(self, masters: int = 3) -> None:
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            raise RuntimeError("cluster mode needs redis-server and redis-cli (apt-get install redis-server)")
        self.folder = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
        self.ports = []
        while len(self.ports) < masters:
            port = free_port()
            # The cluster bus listens on port + 10000: that one must be free too, or the node never
            # joins and `--cluster create` waits out its minute (a busy test run hit it).
            if port + 10000 <= 65535 and port not in self.ports and _free(port + 10000):
                self.ports.append(port)
        self.processes = []
        for port in self.ports:
            (self.folder / str(port)).mkdir()
            self.processes.append(subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--dir", str(self.folder / str(port))], stdout=subprocess.DEVNULL))
        for port in self.ports:
            wait_port(port)
        subprocess.run([cli, "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
                        "--cluster-yes"], check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while any(b"cluster_state:ok" not in subprocess.run([cli, "-p", str(port), "cluster", "info"],
                                                            capture_output=True).stdout for port in self.ports):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not become ok")
            time.sleep(0.1)  # another process's state: nothing to wait on

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(30)
        shutil.rmtree(self.folder, ignore_errors=True)


class Server:
    """One server under test, started fresh: one process (or --workers N), or N nodes on one Redis or a cluster."""

    def __init__(self, kind: str, workers: int = 1, nodes: int = 0, extra: tuple[str, ...] = (),
                 layout: str = "redis") -> None:
        self.kind = kind
        self.layout = layout  # with nodes: "redis" (one redis-server) or "cluster" (a 3-master Redis Cluster)
        self.extra = extra  # more wsserver options
        self.workers = workers
        self.nodes = nodes  # 0: the file store; N: N wsserver nodes, each its own port and data dir, on Redis
        self.ports = [free_port() for _ in range(max(nodes, 1))]
        self.port = self.ports[0]
        self.data = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.others: list[subprocess.Popen[bytes]] = []  # the other nodes
        self.redis: Redis | RedisCluster | None = None

    @property
    def name(self) -> str:
        if self.nodes:
            return f"{self.kind} {'redis cluster' if self.layout == 'cluster' else 'redis'} x{self.nodes}"
        return self.kind if self.workers == 1 else f"{self.kind} x{self.workers}"

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def urls(self) -> list[str]:
        """Where clients connect; with several nodes they are spread over all of them."""
        path = "/ws" if self.kind == "wsserver" else "/"
        return [f"ws://127.0.0.1:{port}{path}" for port in self.ports]

    @property
    def ready(self) -> str:
        return "open" if self.kind in ("ceiling", "floor", "floor-shared") else "first-frame"

    def seed_history(self, lines: int, reactions: int = 0) -> None:
        """Write ``lines`` chat lines, and ``reactions`` reaction lines spread evenly, each to a line 5 lines back."""
        every = lines // reactions if reactions else 0
        parts, offset, ends = [], 0, []
        for i in range(lines):
            line = f"[2026-01-01 00:00:00] Old: history line {i}\n"
            parts.append(line)
            offset += len(line.encode())
            ends.append(offset)
            if every and i % every == every - 1 and i >= 5:
                reaction = reaction_line("2026-01-01 00:00:01", f"Fan{i % 7}", "👍", "Old", "2026-01-01 00:00:00",
                                         str(ends[i - 5])) + "\n"
                parts.append(reaction)
                offset += len(reaction.encode())
        content = "".join(parts)
        folder = self.data if self.kind == "wsserver" else BUILD / "seed000" / "ws" / "data"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "channel_general.log").write_text(content)

    def start(self) -> None:
        env = dict(os.environ)
        if self.kind == "wsserver" and self.nodes:
            self.redis = RedisCluster() if self.layout == "cluster" else Redis()
            processes = []
            for index, port in enumerate(self.ports):
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "wsserver", "--port", str(port), "--data-dir", str(self.data / f"node{index}"),
                     "--rate-limit", "0", "--log-level", "WARNING", "--store", self.redis.url, *self.extra],
                    cwd=REPO, env=env, stdout=subprocess.DEVNULL, preexec_fn=raise_fd_limit,
                ))
            self.process, self.others = processes[0], processes[1:]
            for port in self.ports:
                wait_port(port)
            return
        if self.kind == "wsserver":
            command = [sys.executable, "-m", "wsserver", "--port", str(self.port), "--data-dir", str(self.data),
                       "--rate-limit", "0", "--log-level", "WARNING", "--workers", str(self.workers), *self.extra]
            cwd = REPO
        elif self.kind in ("floor", "floor-shared") and self.workers > 1:  # N processes on one port
            # floor-shared: two processes that pass each line to the other (as wsserver's workers do by the log)
            share = ["share"] if self.kind == "floor-shared" else []
            self.process, *self.others = [
                subprocess.Popen([sys.executable, str(HERE / "floor.py"), str(self.port), "reuse", *share,
                                  *([str(index)] if share else [])], cwd=REPO, env=env,
                                 stdout=subprocess.DEVNULL, preexec_fn=raise_fd_limit)
                for index in range(self.workers)]
            wait_port(self.port)
            return
        elif self.kind == "floor":
            command, cwd = [sys.executable, str(HERE / "floor.py"), str(self.port)], REPO
        elif self.kind == "peer":
            peer = BUILD / "seed000"
            if not (peer / "ws" / "dist" / "server.js").exists():
                raise RuntimeError(f"the peer is not built: its sources are not at {PEERS / 'seed000'}")
            data = peer / "ws" / "data"
            if data.exists() and not (data / "channel_general.log").exists():
                shutil.rmtree(data)
            command, cwd = ["node", "ws/dist/server.js"], peer
            env["PORT"] = str(self.port)
        else:
            command, cwd = ["node", str(PEERS / "ceiling" / "ceiling.js"), str(self.port)], REPO
            env["NODE_PATH"] = str(node_modules())
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                        preexec_fn=raise_fd_limit)
        wait_port(self.port)

    def pids(self) -> list[int]:
        """Every process serving: the server and its workers, or every node and Redis."""
        assert self.process is not None
        pids = [process.pid for process in (self.process, *self.others)]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        if isinstance(self.redis, RedisCluster):
            pids += self.redis.pids
        elif self.redis is not None:
            pids.append(self.redis.process.pid)
        return pids

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except OSError:
                pass
        return total

    def peak_rss_mb(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
            except (OSError, StopIteration):
                pass
        return round(total / 1024, 1)

    def stop(self) -> None:
        for process in (self.process, *self.others):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self.redis is not None:
            self.redis.stop()
        shutil.rmtree(self.data, ignore_errors=True)
        if self.kind == "peer":
            shutil.rmtree(BUILD / "seed000" / "ws" / "data", ignore_errors=True)
