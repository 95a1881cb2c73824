"""Benchmark wsserver beside the Node peer and the in-memory ceiling, in one run (``make bench``).

Each workload runs on a fresh server and data dir for each of the three servers, driven by
Node load-generator processes (bench/loadgen.js). Prints one JSON object per run and a table
with the ratios, and saves the figures and a latency plot under bench/results/.
"""

from __future__ import annotations

import argparse
import json
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
from typing import Any

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
    "tiny": Workload("tiny", 2, 5, 1, 20, 10, processes=1),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
            if port + 10000 <= 65535 and port not in self.ports:
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
        return "open" if self.kind in ("ceiling", "floor") else "first-frame"

    def seed_history(self, lines: int) -> None:
        content = "".join(f"[2026-01-01 00:00:00] Old: history line {i}\n" for i in range(lines))
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


# ---------------------------------------------------------------- one run


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return round(values[index], 2)


def run_workload(kind: str, workload: Workload, workers: int = 1, nodes: int = 0,
                 layout: str = "redis") -> dict[str, Any]:
    modules = node_modules()
    server = Server(kind, workers, nodes, layout=layout)
    server.start()
    try:
        channels = ["general", "tech"][: workload.channels]
        clients = []
        sender_id = 0
        for channel in channels:
            for i in range(workload.per_channel):
                sends = i < workload.senders
                # Spread over the nodes: each channel has members (and senders) on every node.
                clients.append({"channel": channel, "handle": f"c{channel[0]}{i}", "sends": sends,
                                "senderId": sender_id if sends else None, "url": server.urls[i % len(server.urls)]})
                sender_id += 1 if sends else 0
        per_channel = {c: workload.senders * workload.count for c in channels}
        slices = [clients[i :: workload.processes] for i in range(workload.processes)]
        cpu_before = server.cpu_seconds()
        generators = []
        for index, part in enumerate(slices):
            config = {"url": server.url, "ready": server.ready, "clients": part, "perChannelExpected": per_channel,
                      "rate": workload.rate, "count": workload.count, "idleMs": 5000, "connectConcurrency": 64}
            config_file = server.data.with_name(server.data.name + f"-loadgen{index}.json")
            config_file.write_text(json.dumps(config))
            generators.append(subprocess.Popen(
                ["node", str(HERE / "loadgen.js"), str(config_file)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, env=dict(os.environ, NODE_PATH=str(modules)), preexec_fn=raise_fd_limit,
            ))
        connect_start = time.monotonic()
        readies = [json.loads(g.stdout.readline()) for g in generators]  # type: ignore[union-attr]
        connect_s = time.monotonic() - connect_start
        if any("error" in r for r in readies):
            raise RuntimeError(f"{kind} {workload.name}: {readies}")
        for g in generators:
            g.stdin.write(b"go\n")  # type: ignore[union-attr]
            g.stdin.flush()  # type: ignore[union-attr]
        go = time.monotonic()
        results = [json.loads(g.stdout.readline()) for g in generators]  # type: ignore[union-attr]
        span = max(r["elapsed_ms"] for r in results) / 1000
        for g in generators:
            g.wait(30)
        latencies = sorted(x for r in results for x in r["latencies"])
        received = sum(r["received"] for r in results)
        return {
            "server": server.name,
            "workload": workload.name,
            "connections": len(clients),
            "connect_s": round(connect_s, 2),
            "lines_sent": sum(r["sent"] for r in results),
            "deliveries_expected": sum(r["expected"] for r in results),
            "deliveries_received": received,
            "duplicates": sum(r["duplicates"] for r in results),
            "torn_lines": sum(r.get("torn", 0) for r in results),
            "loss": sum(r["expected"] for r in results) - received,
            "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95),
            "p99_ms": percentile(latencies, 99),
            "max_ms": round(latencies[-1], 2) if latencies else None,
            "deliveries_per_s": round(received / max(span, 1e-9)) if span else 0,
            "server_cpu_s": round(server.cpu_seconds() - cpu_before, 2),
            "server_peak_rss_mb": server.peak_rss_mb(),
            "loadgen_cpu_s": round(sum(r["cpu_s"] for r in results), 2),
            "wall_s": round(time.monotonic() - go, 2),
            "_latencies": latencies[:: max(1, len(latencies) // 5000)],
        }
    finally:
        server.stop()


def run_history(kind: str, lines: int = 200_000) -> dict[str, Any]:
    """H: time from connecting to the first frame, and lines received, with a large log."""
    node_modules()
    server = Server(kind)
    server.seed_history(lines)
    server.start()
    try:
        script = """
const WebSocket = require('ws'); const t0 = Date.now(); let first = null, n = 0, last = Date.now();
const ws = new WebSocket(process.argv[1], { perMessageDeflate: false });
ws.on('message', (d) => { if (first === null) first = Date.now() - t0; last = Date.now();
  const f = JSON.parse(d.toString()); if (!f.event && f.data && typeof f.data.message === 'string') n += f.data.message.split('\\n').filter(Boolean).length; });
const timer = setInterval(() => { if (first !== null && Date.now() - last > 1500) { clearInterval(timer);
  console.log(JSON.stringify({ first_frame_ms: first, lines: n })); process.exit(0); } }, 50);
"""
        url = server.url + "?channel=general&handle=Joiner"
        out = subprocess.run(["node", "-e", script, url], capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, NODE_PATH=str(node_modules())))
        result = json.loads(out.stdout)
        return {"server": kind, "workload": "H history", "log_lines": lines, **result,
                "server_peak_rss_mb": server.peak_rss_mb()}
    finally:
        server.stop()


# ---------------------------------------------------------------- report


def table(rows: list[dict[str, Any]]) -> str:
    columns = ["workload", "server", "connections", "connect_s", "loss", "duplicates", "p50_ms", "p99_ms", "max_ms",
               "deliveries_per_s", "server_cpu_s", "server_peak_rss_mb", "loadgen_cpu_s"]
    lines = [" | ".join(columns), " | ".join("---" for _ in columns)]
    for row in rows:
        lines.append(" | ".join(str(row.get(c, "")) for c in columns))
    return "\n".join(lines)


def ratios(rows: list[dict[str, Any]]) -> list[str]:
    """p99 and deliveries/s of each wsserver run (one process, workers, nodes) over the peer's and the ceiling's."""
    out = []
    by = {(r["workload"], r["server"]): r for r in rows}
    for (workload, name), ours in by.items():
        if not name.startswith("wsserver"):
            continue
        for other in ("peer", "ceiling", "floor"):
            theirs = by.get((workload, other))
            if not theirs:
                continue
            if other == "floor":
                out.append(f"{workload}: connect {name}/floor = {ours['connect_s'] / max(theirs['connect_s'], 1e-9):.2f}")
                out.append(f"{workload}: peak RSS {name}/floor = "
                           f"{ours['server_peak_rss_mb'] / max(theirs['server_peak_rss_mb'], 1e-9):.2f}")
                continue
            if "p99_ms" in ours and theirs.get("p99_ms"):
                out.append(f"{workload}: p99 {name}/{other} = {ours['p99_ms'] / theirs['p99_ms']:.2f}")
            if ours.get("deliveries_per_s") and theirs.get("deliveries_per_s"):
                out.append(f"{workload}: deliveries/s {name}/{other} = "
                           f"{ours['deliveries_per_s'] / theirs['deliveries_per_s']:.2f}")
    return out


COLOURS = {"wsserver grace 0": "tab:red", "wsserver": "tab:blue", "peer": "tab:orange", "ceiling": "tab:green", "floor": "tab:olive", "wsserver x2": "tab:purple",
           "wsserver redis x1": "tab:red", "wsserver redis x2": "tab:brown",
           "wsserver redis cluster x2": "tab:olive"}


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install '.[bench]')", file=sys.stderr)
        return
    curves = [r for r in rows if r.get("_latencies")]
    workloads = list(dict.fromkeys(r["workload"] for r in curves))
    if not workloads:
        return
    figure, axes = plt.subplots(1, len(workloads), figsize=(4 * len(workloads), 3.5), squeeze=False)
    for axis, workload in zip(axes[0], workloads, strict=True):
        for row in (r for r in curves if r["workload"] == workload):
            values = row["_latencies"]
            colour = COLOURS.get(row["server"], "tab:gray")
            axis.plot(values, [i / len(values) for i in range(len(values))], label=row["server"], color=colour)
        axis.set_xscale("log")
        label(axis, workload, "latency, ms (log)", "fraction of deliveries")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def label(axis: Any, title: str, x: str, y: str) -> None:
    """Title, axis names, a light grid and a small legend: the same on every plot."""
    axis.set_title(title)
    axis.set_xlabel(x)
    axis.set_ylabel(y)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)


def plot_restart(rows: list[dict[str, Any]], path: Path) -> None:
    """Plot R: the fraction of clients back against seconds since the restarted server listened."""
    if not rows:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    figure, axis = plt.subplots(figsize=(5, 3.5))
    for row in rows:
        backs = row["_back_s"]
        axis.plot(backs, [(i + 1) / len(backs) for i in range(len(backs))], label=row["server"],
                  color=COLOURS.get(row["server"], "tab:gray"))
    label(axis, f"R: {rows[0]['connections']:,} clients back after a restart", "seconds after the new server listens",
          "fraction of clients back")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workloads", nargs="*", default=["W1", "W2", "B", "W3", "W4", "H", "R"],
                        help="W1 W2 B W3 W4 H R S C1k C10k tiny R-tiny S-tiny C-tiny (default: all but S, C and the tiny ones)")
    parser.add_argument("--servers", default="wsserver,peer,ceiling,floor",
                        help="comma list (floor: the aiohttp floor, bench/floor.py, run on W4 only)")
    parser.add_argument("--workers", type=int, default=0, help="also run W2 and W3 with wsserver --workers N")
    parser.add_argument("--cluster", type=int, default=0,
                        help="also run W2 and W3 on one node, on N nodes sharing one Redis, and on N nodes "
                             "sharing a 3-master Redis Cluster (needs redis-server and redis-cli)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to save figures and the plot")
    args = parser.parse_args()
    raise_fd_limit()
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    rows: list[dict[str, Any]] = []
    for name in args.workloads:
        if name in ("R", "R-tiny"):
            from restart import run_restart  # bench/restart.py (imports this module)

            for grace in (True, False) if "wsserver" in servers else ():
                rows.append(run_restart(5000 if name == "R" else 6, grace=grace))
                print(json.dumps({k: v for k, v in rows[-1].items() if not k.startswith("_")}), flush=True)
            continue
        if name in ("C1k", "C10k", "C-tiny"):
            from channels import run_channels  # bench/channels.py (imports this module)

            if "wsserver" in servers:
                rows.append(run_channels({"C1k": 1000, "C10k": 10000, "C-tiny": 20}[name]))
                print(json.dumps(rows[-1]), flush=True)
            continue
        if name in ("S", "S-tiny"):
            from search import run_search  # bench/search.py (imports this module)

            if "wsserver" in servers:
                rows.append(run_search(1 << 30 if name == "S" else 2 << 20, 5 if name == "S" else 1))
                print(json.dumps(rows[-1]), flush=True)
            continue
        if name == "H":
            for kind in (s for s in servers if s not in ("ceiling", "floor")):
                rows.append(run_history(kind))
                print(json.dumps(rows[-1]), flush=True)
            continue
        for kind in servers:
            if kind == "floor" and name != "W4":
                continue  # the aiohttp floor is measured where memory and connect time matter: W4
            if kind == "peer" and name in ("W3", "W4"):
                print(json.dumps({"server": "peer", "workload": WORKLOADS[name].name,
                                  "skipped": "the peer does not get through this (see the issue)"}), flush=True)
                continue
            rows.append(run_workload(kind, WORKLOADS[name]))
            print(json.dumps({k: v for k, v in rows[-1].items() if not k.startswith("_")}), flush=True)
        extra = [(args.workers, 0, "redis")] if args.workers > 1 else []
        extra += [(1, 1, "redis"), (1, args.cluster, "redis"), (1, args.cluster, "cluster")] if args.cluster > 0 else []
        for workers, nodes, layout in extra if name in ("W2", "W3", "tiny") and "wsserver" in servers else []:
            if nodes and not (shutil.which("redis-server") and shutil.which("redis-cli")):
                print(json.dumps({"server": f"wsserver {layout} x{nodes}", "workload": WORKLOADS[name].name,
                                  "skipped": "redis-server is not installed (apt-get install redis-server)"}), flush=True)
                continue
            rows.append(run_workload("wsserver", WORKLOADS[name], workers, nodes, layout))
            print(json.dumps({k: v for k, v in rows[-1].items() if not k.startswith("_")}), flush=True)
    print()
    print(table([r for r in rows if "connections" in r]))
    for line in ratios(rows):
        print(line)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    saved = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    for path in (args.out / f"run-{stamp}.json", args.out / "latest.json"):
        path.write_text(json.dumps({"machine": {"cores": os.cpu_count()}, "rows": saved}, indent=1))
    plot(rows, args.out / "latency.png")
    plot_restart([r for r in rows if r.get("_back_s")], args.out / "restart.png")
    for row in (r for r in rows if r["workload"].startswith("C ")):
        print(f"{row['workload']}: Redis connections of the two nodes {row['redis_connections']}; "
              f"{row['lines_crossed']}/{row['lines_sent']} lines crossed, the last after {row['last_crossed_s']} s")
    for row in (r for r in rows if r["workload"] == "S search"):
        print(f"S: {row['log_bytes'] / 2**30:.2f} GiB; first page of a common word {row['common_first_page_ms']} ms; "
              f"a rare word, whole file {row['rare_scan_ms']} ms against grep -c -i {row['grep_ms']} ms "
              f"({row['rare_vs_grep']}x); at {row['at_ms']} ms; RSS growth {row['rss_growth_mb']} MB")
    for row in (r for r in rows if r["workload"] == "R restart storm"):
        print(f"R: last client back {row['back_s']} s after listening; storm peak RSS / RSS before = "
              f"{row['rss_ratio']}; loss {row['loss']}, duplicates {row['duplicates']}, "
              f"leave/join lines after the restart {row['leave_or_join_lines_after_restart']}")
    loss = sum(r.get("loss", 0) for r in rows if r.get("server", "").startswith("wsserver"))
    return 1 if loss else 0


if __name__ == "__main__":
    sys.exit(main())
