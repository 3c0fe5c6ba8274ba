"""Failover of ingest nodes: 3 `cctv ingest` nodes sharing K simulated cameras (default 180: 3 × 60) on a real
PostgreSQL (a fresh database on the shared server) and a private Redis; SIGKILL the node with the most cameras
(its ingest processes with it, as when its machine dies) and measure, from the kill:

- leases: seconds until every camera's lease is held by a surviving node (as assignment says);
- online: seconds until every camera of the dead node has an ``online`` interval again (its first verdict on the
  new node) — the figure the issue targets (< 15 s with the defaults lease_ttl_s 8, renew_every_s 2);
- the ``unmonitored`` gap per camera (the dead node's last renewal → the new holder's first verdict): min,
  median, max;
- state changes of the other cameras during the failover (target 0: nobody else is disturbed).

Then the killed node is restarted (as its service manager would) and the time until every camera is back where
assignment puts it (clean handovers) is measured too. Recording is off unless ``--record``. The simulator's CPU
over the run is printed (a simulator that falls behind would make cameras look slow, not the nodes).

    .venv/bin/python -m bench.failover [--cameras 180] [--record]

Prints a table; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.citygen import city_config
from bench.procstat import tree_cpu
from cctv.config.models import Config
from cctv.sites import Sites
from streams.ingest.assignment import NodeInfo, assign
from streams.sim import SimulatorProcess
from tests.helpers.cluster import Cluster
from tests.helpers.servers import free_port

NODES = ("ingest-a", "ingest-b", "ingest-c")


def holders(cluster: Cluster) -> dict[str, str]:
    now_ms = time.time() * 1000
    return {cam: node for cam, (node, _t, expires, _r) in cluster.leases().items() if expires > now_ms}


def last_rows(cluster: Cluster) -> dict[str, tuple[str, str, int, int | None]]:
    from sqlalchemy import text

    with cluster.engine.connect() as conn:
        rows = conn.execute(text("SELECT camera, state, reason, start_ms, end_ms FROM status_intervals "
                                 "WHERE end_ms IS NULL"))
        return {r.camera: (r.state, r.reason, r.start_ms, r.end_ms) for r in rows}


def wait(pred: Any, timeout: float, what: str, every: float = 0.2) -> float:
    """Seconds until ``pred()`` holds (polled every ``every``); exits with a message after ``timeout``."""
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            sys.exit(f"bench/failover: timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cameras", type=int, default=180)
    ap.add_argument("--record", action="store_true", help="record too (more CPU: the failover under load)")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-failover-"))
    cfg = city_config(args.cameras, data_dir=tmp / "data", rtsp_port=free_port(), control_port=free_port())
    cfg["recording"] = {"enabled": bool(args.record), "segment_s": 10}
    config = Config.model_validate(cfg)
    paths = [c.path for c in Sites(config).cameras]
    cluster = Cluster(tmp / "cluster", cfg)
    out: dict[str, Any] = {"cameras": args.cameras, "nodes": len(NODES), "record": bool(args.record)}
    try:
        with SimulatorProcess(config, Path("/tmp/cctv-bench-cache"), tmp / "truth.jsonl") as sim:
            sim_cpu0 = tree_cpu(sim.proc.pid) if sim.proc is not None else 0.0
            t_start = time.monotonic()
            nodes = {n: cluster.start(cluster.add(n)) for n in NODES}
            plan = assign(paths, [NodeInfo(n) for n in NODES])
            out["settle_s"] = round(wait(lambda: holders(cluster) == plan and all(
                r[0] == "online" for r in last_rows(cluster).values()) and len(last_rows(cluster)) == len(paths),
                240, "every camera online where assignment puts it"), 1)
            victim = max(NODES, key=lambda n: sum(1 for v in plan.values() if v == n))
            lost = {c for c, n in plan.items() if n == victim}
            others_before = {c: r[2] for c, r in last_rows(cluster).items() if c not in lost}
            kill_ms = int(time.time() * 1000)
            cluster.kill(nodes[victim])
            survivors = [NodeInfo(n) for n in NODES if n != victim]
            after = assign(paths, survivors)
            out["lost_cameras"] = len(lost)
            out["leases_moved_s"] = round(wait(lambda: holders(cluster) == after, 60, "the leases to move"), 1)

            def back() -> bool:
                rows = last_rows(cluster)
                return all(rows.get(c, ("",))[0] == "online" and rows[c][2] > kill_ms for c in lost)

            out["online_again_s"] = round(wait(back, 60, "the lost cameras online again") + out["leases_moved_s"], 1)
            gaps = [(r[3] - r[2]) / 1000 for c in lost for r in cluster.intervals(c)
                    if r[0] == "unmonitored" and r[1] == "node_lost" and r[3] is not None]
            out["gap_s"] = {"min": round(min(gaps), 1), "median": round(statistics.median(gaps), 1),
                            "max": round(max(gaps), 1)} if gaps else None
            disturbed = [c for c, start in others_before.items() if last_rows(cluster).get(c, ("", "", start))[2] != start]
            out["others_disturbed"] = len(disturbed)
            cluster.start(nodes[victim])
            out["handback_s"] = round(wait(lambda: holders(cluster) == plan, 120, "the shares back"), 1)
            wall = time.monotonic() - t_start
            if sim.proc is not None:
                out["simulator_cpu_pct"] = round(100 * (tree_cpu(sim.proc.pid) - sim_cpu0) / wall, 1)
            for n in NODES:
                cluster.stop(nodes[n])
    finally:
        cluster.close()
    print(f"{'cameras':>8} {'lost':>5} {'leases moved':>13} {'online again':>13} {'gap min/med/max':>18} "
          f"{'others hit':>10} {'hand back':>10}")
    g = out["gap_s"] or {"min": 0, "median": 0, "max": 0}
    print(f"{out['cameras']:>8} {out['lost_cameras']:>5} {out['leases_moved_s']:>12}s {out['online_again_s']:>12}s "
          f"{g['min']:>6}/{g['median']}/{g['max']} s {out['others_disturbed']:>10} {out['handback_s']:>9}s")
    print(f"simulator CPU: {out.get('simulator_cpu_pct', '?')} % of a core; settle {out['settle_s']} s")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
