"""The benchmark runs: a tiny workload against wsserver, with zero loss (figures are not asserted)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from .support import REPO, missing


def run_bench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run bench/run.py with ``args`` (its figures saved in ``tmp_path``); fail with its output if it fails."""
    if not shutil.which("node") or not shutil.which("npm"):
        missing("the benchmark needs node and npm (apt-get install nodejs npm)")
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), *args, "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_tiny_benchmark_reports_zero_loss(tmp_path: Path) -> None:
    """bench/run.py tiny prints one JSON object per run, a table, saves its figures, and loses nothing."""
    result = run_bench(tmp_path, "tiny", "--servers", "wsserver")
    row = json.loads(result.stdout.splitlines()[0])
    assert row["server"] == "wsserver" and row["workload"] == "tiny"
    assert row["deliveries_expected"] == 100 and row["deliveries_received"] == 100
    assert row["loss"] == 0 and row["duplicates"] == 0
    assert "workload | server | connections" in result.stdout
    saved = json.loads((tmp_path / "latest.json").read_text())
    assert saved["rows"][0]["loss"] == 0


def test_cluster_benchmark_spreads_clients_over_nodes_with_zero_loss(tmp_path: Path) -> None:
    """--cluster 2 runs the workload on one node, two nodes sharing one Redis and a Redis Cluster, losing nothing."""
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        missing("the cluster benchmark needs redis-server and redis-cli (apt-get install redis-server)")
    result = run_bench(tmp_path, "tiny", "--servers", "wsserver", "--cluster", "2")
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [row["server"] for row in rows] == ["wsserver", "wsserver redis x1", "wsserver redis x2",
                                                  "wsserver redis cluster x2"]
    for row in rows:
        assert (row["deliveries_expected"], row["deliveries_received"], row["duplicates"]) == (100, 100, 0), row


def test_tiny_restart_storm_loses_nothing_and_writes_no_leave_or_join(tmp_path: Path) -> None:
    """R-tiny: clients ride out a SIGTERM and restart with since=; every line once, no leave or join lines."""
    result = run_bench(tmp_path, "R-tiny", "--servers", "wsserver")
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [row["server"] for row in rows] == ["wsserver", "wsserver no presence=", "wsserver grace 0"]
    row = rows[0]
    assert row["workload"] == "R restart storm" and row["clients_back"] == 6
    # With presence=, no client is sent the users list again (its set is the same: the seats were kept);
    # without, each is sent it once.
    assert (row["users_lists_sent"], rows[1]["users_lists_sent"]) == (0, 6)
    assert (rows[1]["loss"], rows[1]["duplicates"], rows[1]["leave_or_join_lines_after_restart"]) == (0, 0, 0)
    # 2 senders a channel x 5 lines, before and after the restart, and 3 lines written while it was down.
    assert (row["deliveries_expected"], row["deliveries_received"], row["duplicates"]) == (138, 138, 0)
    assert row["recovered_false"] == 0 and row["leave_or_join_lines_after_restart"] == 0
    # Without the grace (the behaviour before it) each client leaves and joins again: 12 lines.
    assert (rows[2]["loss"], rows[2]["duplicates"], rows[2]["leave_or_join_lines_after_restart"]) == (0, 0, 12)


def test_tiny_search_benchmark_finds_what_it_planted(tmp_path: Path) -> None:
    """S-tiny: on a generated 2 MB log, the common word's first page, the rare word once, grep agrees, at finds its time."""
    result = run_bench(tmp_path, "S-tiny", "--servers", "wsserver")
    row = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    assert row["workload"] == "S search" and 2_000_000 <= row["log_bytes"] <= 2_300_000
    assert row["common_hits"] == min(50, row["common_planted"]) > 0
    assert (row["rare_hits"], row["rare_plain_hits"], row["grep_count"], row["at_found"]) == (1, 1, 1, True)
    assert "S: 0.00 GiB; first page of a common word" in result.stdout


def test_tiny_search_every_channel_benchmark_finds_what_it_planted(tmp_path: Path) -> None:
    """SA-tiny: 100 generated channel logs of 20 KB; the common word's first page newest first, the rare word in
    its 10 channels, grep -rF agreeing."""
    result = run_bench(tmp_path, "SA-tiny", "--servers", "wsserver")
    row = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    assert row["workload"] == "SA search every channel" and 1_900_000 <= row["log_bytes"] <= 2_300_000
    assert (row["common_hits"], row["common_newest_first"]) == (50, True)
    assert (row["rare_hits"], row["rare_channels"], row["grep_count"]) == (10, 10, 10)
    assert "SA: 0.00 GiB in 100 channels; first page of a common word" in result.stdout


def test_tiny_channels_benchmark_crosses_every_channel(tmp_path: Path) -> None:
    """C-tiny: 20 channels on two nodes sharing Redis; a line crosses in each; the connections are counted."""
    if not shutil.which("redis-server"):
        missing("the channels benchmark needs redis-server (apt-get install redis-server)")
    result = run_bench(tmp_path, "C-tiny", "--servers", "wsserver")
    row = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    assert (row["channels"], row["lines_sent"], row["lines_crossed"]) == (20, 20, 20)
    assert 4 <= row["redis_connections"] <= row["redis_clients_total"]


def test_tiny_irc_benchmark_reaches_both_sides_alike(tmp_path: Path) -> None:
    """bench/run.py I-tiny: every line reaches the IRC and the web receivers alike (figures are not asserted)."""
    result = run_bench(tmp_path, "I-tiny", "--servers", "wsserver")
    row = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    assert row["workload"] == "I 20 IRC + 20 web"
    deliveries = row["deliveries"]
    assert deliveries["mixed_irc"] == deliveries["mixed_web"] > 0 and deliveries["web_only"] > 0, deliveries
