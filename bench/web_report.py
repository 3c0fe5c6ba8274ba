"""The synthetic-city web benchmark's table and verdict (bench/web_city.py)."""

from __future__ import annotations

import argparse
import math
from typing import Any

P99_TARGET_MS = 500.0
CPU_TARGET_PCT = 50.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))], 1)


def verdict(f: dict[str, Any]) -> dict[str, Any]:
    p99 = f.get("latency_ms", {}).get("p99", float("nan"))
    cpu = f.get("main_cpu_pct", float("nan"))
    lat_ok = (not math.isnan(p99) and p99 < P99_TARGET_MS and not f.get("unmatched")
              and f.get("run_delivered") == f.get("run_expected"))
    cpu_ok = not math.isnan(cpu) and cpu < CPU_TARGET_PCT
    return {"p99_pass": lat_ok, "cpu_pass": cpu_ok, "pass": lat_ok and cpu_ok and "failed" not in f}


def _g(f: dict[str, Any], *keys: str) -> Any:
    v: Any = f
    for k in keys:
        v = v.get(k) if isinstance(v, dict) else None
    return "-" if v is None else v


ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cameras", ("cameras",)),
    ("sockets", ("sockets",)),
    ("warm-up: cameras online", ("warmup_online",)),
    ("warm-up: seconds (not measured)", ("warmup_s",)),
    ("window (s)", ("window_s",)),
    ("changes sent by the shard", ("changes_sent",)),
    ("changes published by the monitor", ("changes_published",)),
    ("  per second", ("published_per_s",)),
    ("deliveries expected", ("deliveries_expected",)),
    ("delivered (status messages)", ("delivered",)),
    ("unmatched (logged, never received)", ("unmatched",)),
    ("unexpected (received, never logged)", ("unexpected",)),
    ("latency p50 (ms)", ("latency_ms", "p50")),
    ("latency p95 (ms)", ("latency_ms", "p95")),
    ("latency p99 (ms)", ("latency_ms", "p99")),
    ("latency max (ms)", ("latency_ms", "max")),
    ("whole run: changes logged after ready", ("logged_since_ready",)),
    ("whole run: logged too late to count", ("logged_too_late",)),
    ("whole run: deliveries expected (the others)", ("run_expected",)),
    ("whole run: delivered by the end", ("run_delivered",)),
    ("whole run: status messages received", ("clients_done", "types", "status")),
    ("bus dropped, window start", ("health_start", "bus_dropped")),
    ("bus dropped, window end", ("health_end", "bus_dropped")),
    ("ingest channel dropped, start", ("health_start", "channel_dropped")),
    ("ingest channel dropped, end", ("health_end", "channel_dropped")),
    ("ingest channel queued, end", ("health_end", "channel_queued")),
    ("/healthz answered at window end", ("health_end", "answered")),
    ("sockets closed early", ("clients_done", "closed_early")),
    ("main process CPU (% of a core)", ("main_cpu_pct",)),
    ("main process RSS (MB), end", ("main_rss_mb",)),
    ("main process RSS (MB), peak", ("main_rss_peak_mb",)),
    ("shard CPU (% of a core, /proc)", ("shard_cpu_pct",)),
    ("shard CPU (% of a core, its own)", ("shard", "cpu_pct")),
    ("shard schedule lag p50 (ms)", ("shard", "lag_ms_p50")),
    ("shard schedule lag p99 (ms)", ("shard", "lag_ms_p99")),
    ("shard schedule lag max (ms)", ("shard", "lag_ms_max")),
    ("shard fell behind", ("shard", "behind")),
    ("clients process CPU (%)", ("clients_cpu_pct",)),
    ("load average, start", ("loadavg_start",)),
    ("load average, end", ("loadavg_end",)),
)


def print_report(figures: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    for f in figures:
        f.update(verdict(f))
    print(f"\nsynthetic city, {args.changes_per_s:g} changes/s, stats every {args.stats_every:g} s per camera, "
          f"{args.motion_per_s:g} motion samples/s, {args.procs} ingest process(es)")
    print(f"{'':<40}" + "".join(f"{f['cameras']:>16}" for f in figures))
    for name, keys in ROWS:
        print(f"{name:<40}" + "".join(f"{_g(f, *keys)!s:>16}" for f in figures))
    for f in figures:
        if "failed" in f:
            print(f"{f['cameras']} cameras: run FAILED: {f['failed']}")
        print(
            f"{f['cameras']} cameras: p99 {_g(f, 'latency_ms', 'p99')} ms < {P99_TARGET_MS:.0f} ms: "
            f"{'PASS' if f['p99_pass'] else 'FAIL'}; main CPU {_g(f, 'main_cpu_pct')} % < {CPU_TARGET_PCT:.0f} %: "
            f"{'PASS' if f['cpu_pass'] else 'FAIL'}"
        )
    return {"bench": "web-synthetic", "targets": {"p99_ms": P99_TARGET_MS, "main_cpu_pct": CPU_TARGET_PCT},
            "changes_per_s": args.changes_per_s, "procs": args.procs, "sizes": figures}
