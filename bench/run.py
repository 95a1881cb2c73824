"""Benchmark wsserver beside the Node peer and the in-memory ceiling, in one run (``make bench``).

Each workload runs on a fresh server and data dir for each of the three servers, driven by
Node load-generator processes (bench/loadgen.js). Prints one JSON object per run and a table
with the ratios, and saves the figures and a latency plot under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from channels import run_channels
from irc import run_irc
from restart import run_restart
from search import run_search
from search_channels import run_search_channels
from servers import (
    HERE,
    RESULTS,
    WORKLOADS,
    Server,
    Workload,
    node_modules,
    raise_fd_limit,
)
from signins import run_signins

# ---------------------------------------------------------------- one run


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return round(values[index], 2)


def run_workload(kind: str, workload: Workload, workers: int = 1, nodes: int = 0,
                 layout: str = "redis", options: tuple[str, ...] = ()) -> dict[str, Any]:
    modules = node_modules()
    channels = ["general", "tech", "lobby", "random"][: workload.channels]
    # wsserver serves general and tech by default; more channels are configured (W5).
    extra = ("--channels", ",".join(channels)) if kind == "wsserver" and len(channels) > 2 else ()
    server = Server(kind, workers, nodes, extra=extra + options, layout=layout)
    server.start()
    try:
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
        connect_cpu = (server.cpu_seconds() - cpu_before, sum(r.get("cpu_s", 0) for r in readies))
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
            "server": " ".join((server.name, *options)),
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
            # CPU seconds of the server and of the load generators until every socket was open
            "connect_server_cpu_s": round(connect_cpu[0], 2),
            "connect_loadgen_cpu_s": round(connect_cpu[1], 2),
            # what the clients were sent until then: frames, and megabytes of them
            "connect_frames": sum(r.get("frames", 0) for r in readies),
            "connect_mb": round(sum(r.get("bytes", 0) for r in readies) / 1e6, 1),
            "wall_s": round(time.monotonic() - go, 2),
            "_latencies": latencies[:: max(1, len(latencies) // 5000)],
        }
    finally:
        server.stop()


HISTORY_JOINS = 5  # joins measured one after the other: the median is quoted


def run_history(kind: str, lines: int = 200_000, reactions: int = 0) -> dict[str, Any]:
    """H: time from connecting to the first frame, and lines received, with a large log (and reactions in it)."""
    node_modules()
    server = Server(kind)
    server.seed_history(lines, reactions)
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
        samples = []
        for join in range(HISTORY_JOINS):
            url = server.url + f"?channel=general&handle=Joiner{join}"
            out = subprocess.run(["node", "-e", script, url], capture_output=True, text=True, timeout=120,
                                 env=dict(os.environ, NODE_PATH=str(node_modules())))
            samples.append(json.loads(out.stdout))
        firsts = sorted(sample["first_frame_ms"] for sample in samples)
        return {"server": kind, "workload": "H history" + (f", {reactions} reactions" if reactions else ""),
                "log_lines": lines, "first_frame_ms": firsts[len(firsts) // 2], "first_frame_ms_all": firsts,
                "lines": samples[-1]["lines"], "server_peak_rss_mb": server.peak_rss_mb()}
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
        off = by.get((workload, "wsserver --fsync off"))
        if "--fsync" in name and not name.endswith(" off") and off and off.get("p99_ms"):
            out.append(f"{workload}: p99 {name}/--fsync off = {ours['p99_ms'] / off['p99_ms']:.2f}")
        for other in ("peer", "ceiling", "floor", "floor x2", "floor-shared x2"):
            theirs = by.get((workload, other))
            if not theirs or other.endswith(" x2") != name.endswith(" x2"):
                continue  # two workers against two floors, one process against one
            if other.startswith("floor"):
                out.append(f"{workload}: connect {name}/{other} = "
                           f"{ours['connect_s'] / max(theirs['connect_s'], 1e-9):.2f}")
                out.append(f"{workload}: peak RSS {name}/{other} = "
                           f"{ours['server_peak_rss_mb'] / max(theirs['server_peak_rss_mb'], 1e-9):.2f}")
                if other.endswith(" x2") and theirs.get("p99_ms"):
                    out.append(f"{workload}: p99 {name}/{other} = {ours['p99_ms'] / theirs['p99_ms']:.2f}")
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
    parser.add_argument("workloads", nargs="*", default=["W1", "W2", "B", "W3", "W4", "H", "HR", "R", "W5"],
                        help="W1 W2 B W3 W4 W5 H HR R S SA C1k C10k A I tiny R-tiny S-tiny SA-tiny C-tiny A-tiny "
                             "I-tiny (default: all but S, SA, C, A and the tiny ones)")
    parser.add_argument("--servers", default="wsserver,peer,ceiling,floor",
                        help="comma list (floor: the aiohttp floor, bench/floor.py, run on W4 and W5; floor-shared: "
                             "W5's two floor processes passing each line to the other, as many deliveries as wsserver)")
    parser.add_argument("--workers", type=int, default=0, help="also run W2 and W3 with wsserver --workers N")
    parser.add_argument("--cluster", type=int, default=0,
                        help="also run W2 and W3 on one node, on N nodes sharing one Redis, and on N nodes "
                             "sharing a 3-master Redis Cluster (needs redis-server and redis-cli)")
    parser.add_argument("--fsync", default="",
                        help="comma list of --fsync modes (always,batch,off): also run W1, W2 and B with each")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to save figures and the plot")
    args = parser.parse_args()
    raise_fd_limit()
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    rows: list[dict[str, Any]] = []
    for name in args.workloads:
        if name in ("R", "R-tiny"):
            runs = ((True, True), (True, False), (False, True)) if "wsserver" in servers else ()
            for grace, presence in runs:
                # R: 10,000 clients ride out a restart within the grace, with presence= and (issue 23's way)
                # without; without the grace, 5,000 (issue 23's rows).
                clients = 6 if name == "R-tiny" else 10_000 if grace else 5000
                rows.append(run_restart(clients, grace=grace, presence=presence))
                print(json.dumps({k: v for k, v in rows[-1].items() if not k.startswith("_")}), flush=True)
            continue
        if name in ("C1k", "C10k", "C-tiny"):
            if "wsserver" in servers:
                rows.append(run_channels({"C1k": 1000, "C10k": 10000, "C-tiny": 20}[name]))
                print(json.dumps(rows[-1]), flush=True)
            continue
        if name in ("I", "I-tiny"):
            if "wsserver" in servers:
                rows.append(run_irc(1000 if name == "I" else 20))
                print(json.dumps(rows[-1]), flush=True)
            continue
        if name in ("A", "A-tiny"):
            if "wsserver" in servers:
                rows.append(run_signins(50 if name == "A" else 5))
                print(json.dumps(rows[-1]), flush=True)
            continue
        if name in ("S", "S-tiny"):
            if "wsserver" in servers:
                rows.append(run_search(1 << 30 if name == "S" else 2 << 20, 5 if name == "S" else 1))
                print(json.dumps(rows[-1]), flush=True)
            continue
        if name in ("SA", "SA-tiny"):  # 1 GiB in 100 channels, searched as one (GET /api/search)
            if "wsserver" in servers:
                rows.append(run_search_channels(1 << 30 if name == "SA" else 2 << 20, 5 if name == "SA" else 1))
                print(json.dumps(rows[-1]), flush=True)
            continue
        if name in ("H", "HR"):  # HR: the same log with 20,000 reactions spread over it (issue 25)
            for kind in (s for s in servers if s not in ("ceiling", "floor", "floor-shared")):
                rows.append(run_history(kind, reactions=20_000 if name == "HR" else 0))
                print(json.dumps(rows[-1]), flush=True)
            continue
        if name == "W5":  # 20,000 sockets in two channels: wsserver --workers 2 beside two floors on one port
            for kind in (k for k in ("floor", "floor-shared", "wsserver") if k in servers):
                rows.append(run_workload(kind, WORKLOADS[name], 2))
                print(json.dumps({k: v for k, v in rows[-1].items() if not k.startswith("_")}), flush=True)
            continue
        for kind in servers:
            if (kind == "floor" and name != "W4") or kind == "floor-shared":
                continue  # the aiohttp floor is measured where memory and connect time matter: W4 (and W5 above)
            if kind == "peer" and name in ("W3", "W4"):
                print(json.dumps({"server": "peer", "workload": WORKLOADS[name].name,
                                  "skipped": "the peer does not get through this (see the issue)"}), flush=True)
                continue
            rows.append(run_workload(kind, WORKLOADS[name]))
            print(json.dumps({k: v for k, v in rows[-1].items() if not k.startswith("_")}), flush=True)
        for mode in [m for m in args.fsync.split(",") if m] if name in ("W1", "W2", "B") and "wsserver" in servers else []:
            rows.append(run_workload("wsserver", WORKLOADS[name], options=("--fsync", mode)))
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
    for row in (r for r in rows if r["workload"] == "SA search every channel"):
        print(f"SA: {row['log_bytes'] / 2**30:.2f} GiB in {row['channels']} channels; first page of a common word "
              f"{row['common_first_page_ms']} ms; a word in {row['rare_hits']} lines, every log scanned "
              f"{row['rare_scan_ms']} ms against grep -rF {row['grep_ms']} ms ({row['rare_vs_grep']}x)")
    for row in (r for r in rows if r["workload"].startswith("A ")):
        print(f"A: {row['signins']} sign-ins at once answered in {row['signin_p50_ms']} ms (median), "
              f"{row['signin_max_ms']} ms (slowest); chat p99 {row['chat_quiet_p99_ms']} ms quiet, "
              f"{row['chat_storm_p99_ms']} ms during the storm (max {row['chat_storm_max_ms']} ms); RSS "
              f"{row['rss_before_mb']} MB before, {row['rss_storm_peak_mb']} MB at the peak")
    for row in (r for r in rows if r["workload"].startswith("I ")):
        print(f"I: {row['workload']}: p99 to IRC {row['mixed_irc_p99_ms']} ms, to the web "
              f"{row['mixed_web_p99_ms']} ms; web only p99 {row['web_only_p99_ms']} ms; "
              f"IRC / web-only = {row['irc_p99_over_web_only_p99']}")
    for row in (r for r in rows if r["workload"] == "R restart storm"):
        print(f"R: last client back {row['back_s']} s after listening; storm peak RSS / RSS before = "
              f"{row['rss_ratio']}; loss {row['loss']}, duplicates {row['duplicates']}, "
              f"leave/join lines after the restart {row['leave_or_join_lines_after_restart']}")
    loss = sum(r.get("loss", 0) for r in rows if r.get("server", "").startswith("wsserver"))
    return 1 if loss else 0


if __name__ == "__main__":
    sys.exit(main())
