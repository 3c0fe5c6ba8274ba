"""The whole product at full load: `cctv run` with recording on K simulated cameras, for each K (default 300,
500, 700), over a window of ``--window`` seconds (default 180) after every camera came online (or after
``--online-timeout``, which is then reported):

- CPU per camera: `cctv run`'s process tree (main process + ingest processes), % of one core;
- ingest lag p99 over the window (the histogram's difference between its two readings);
- drops: messages dropped on the ingest pipe and channel, packets the recorder dropped;
- state changes during the window (target: 0 below capacity, < 1 % of the cameras above it) and the cameras
  offline at its end;
- recording coverage of the window per camera (min, mean; target ≥ 99 % even above capacity), from the segment
  rows once `cctv run` stopped cleanly (its last segments finished and indexed);
- shed work: keyframes and snapshots the node skipped, its highest shed level, and its own stalls;
- the simulator's CPU: a simulator near a whole core may itself be late, and the run is then marked so.

    .venv/bin/python -m bench.fullload [--cameras 300,500,700] [--window 180] [--procs N]

Prints a table; the last line is one JSON object (a list, one entry per K).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from bench.citygen import city_config
from bench.procstat import tree_cpu, tree_rss_mb
from cctv.config.models import Config
from cctv.recording import Segment, coverage
from streams.ingest.lag import EDGES_MS, percentile
from streams.sim import SimulatorProcess
from tests.helpers.servers import free_port, login_opener

ADMIN_PASSWORD = "bench-admin-password"
SIM_SATURATED_PCT = 90.0  # of one core: the simulator itself may be late


def _get(opener: Any, url: str) -> Any:
    with opener.open(url, timeout=10) as r:
        return json.load(r)


def run_one(k: int, window_s: float, online_timeout_s: float, procs: int | None, cache: Path) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-fullload-{k}-"))
    port = free_port()
    cfg = city_config(k, data_dir=work / "data", rtsp_port=free_port(), control_port=free_port(), web_port=port)
    cfg["recording"] = {"enabled": True, "segment_s": 60}
    config = Config.model_validate(cfg)
    path = work / "config.yaml"
    with path.open("w") as f:
        YAML().dump(cfg, f)
    out: dict[str, Any] = {"cameras": k}
    env = {**os.environ, "CCTV_DATA_DIR": str(work / "data"), "CCTV_ADMIN_PASSWORD": ADMIN_PASSWORD,
           "CCTV_LOG_LEVEL": "WARNING"}
    with SimulatorProcess(config, cache, work / "truth.jsonl") as sim:
        args = [sys.executable, "-m", "cctv", "run", "--config", str(path), "--port", str(port)]
        if procs:
            args += ["--ingest-procs", str(procs)]
        run = subprocess.Popen(args, env=env, stdout=open(work / "run.log", "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
                               start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            opener = None
            t0 = time.monotonic()
            online = 0
            while time.monotonic() - t0 < online_timeout_s:
                try:
                    opener = opener or login_opener(base, "admin", ADMIN_PASSWORD)
                    online = sum(1 for c in _get(opener, f"{base}/api/cameras") if c["state"] == "online")
                except (OSError, PermissionError):
                    pass
                if online == k:
                    break
                time.sleep(2)
            out["online_after_s"] = round(time.monotonic() - t0, 1)
            out["online_at_start"] = online
            assert opener is not None, "cctv run never answered"
            h0 = _get(opener, f"{base}/healthz")["ingest"]
            cpu0, sim0, w0 = tree_cpu(run.pid), tree_cpu(sim.proc.pid) if sim.proc else 0.0, time.monotonic()
            start_ms = int(time.time() * 1000)
            time.sleep(window_s)  # the measured window itself
            end_ms = int(time.time() * 1000)
            cpu1, sim1, w1 = tree_cpu(run.pid), tree_cpu(sim.proc.pid) if sim.proc else 0.0, time.monotonic()
            h1 = _get(opener, f"{base}/healthz")["ingest"]
            cams = _get(opener, f"{base}/api/cameras")
            out["rss_mb"] = round(tree_rss_mb(run.pid))
        finally:
            os.killpg(run.pid, signal.SIGTERM)
            run.wait(120)
    wall = w1 - w0
    lag = [b - a for a, b in zip(h0["lag_hist_ms"], h1["lag_hist_ms"], strict=False)]
    p99 = percentile(lag, 0.99)
    out |= {
        "cpu_pct_per_camera": round(100 * (cpu1 - cpu0) / wall / k, 3),
        "cpu_pct": round(100 * (cpu1 - cpu0) / wall, 1),
        "lag_p99_ms": None if p99 is None or p99 == EDGES_MS[-1] else p99,
        "dropped_messages": (h1["proc_channel_dropped"] - h0["proc_channel_dropped"])
        + (h1["channel_dropped"] - h0["channel_dropped"]),
        "recording_dropped_packets": h1["recording_dropped_packets"] - h0["recording_dropped_packets"],
        "shed_keyframes": h1.get("shed_keyframes", 0) - h0.get("shed_keyframes", 0),
        "shed_snapshots": h1.get("shed_snapshots", 0) - h0.get("shed_snapshots", 0),
        "shed_level_end": h1.get("shed_level", 0),
        "node_stalls": (h1.get("monitor_stalls", 0) - h0.get("monitor_stalls", 0))
        + (h1.get("proc_stalls", 0) - h0.get("proc_stalls", 0)),
        "offline_at_end": sum(1 for c in cams if c["state"] != "online"),
        "simulator_cpu_pct": round(100 * (sim1 - sim0) / wall, 1),
    }
    out["simulator_saturated"] = out["simulator_cpu_pct"] >= SIM_SATURATED_PCT
    db = work / "data" / "cctv.sqlite3"
    with sqlite3.connect(db) as conn:
        out["state_changes"] = conn.execute(
            "SELECT COUNT(*) FROM status_intervals WHERE start_ms >= ? AND start_ms < ?", (start_ms, end_ms)
        ).fetchone()[0]
        rows = conn.execute("SELECT id, camera, start_ms, end_ms, size_bytes FROM segments WHERE end_ms > ? AND "
                            "start_ms < ?", (start_ms, end_ms)).fetchall()
    by_cam: dict[str, list[Segment]] = {}
    for r in rows:
        by_cam.setdefault(r[1], []).append(Segment(*r))
    shares = []
    for c in cams:
        spans, _gaps = coverage(by_cam.get(c["path"], []), start_ms, end_ms)
        shares.append(sum(s.end_ms - s.start_ms for s in spans) / (end_ms - start_ms))
    out["coverage_min_pct"] = round(100 * min(shares), 2) if shares else 0.0
    out["coverage_mean_pct"] = round(100 * sum(shares) / len(shares), 2) if shares else 0.0
    out["state_changes_pct_of_cameras"] = round(100 * out["state_changes"] / k, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cameras", default="300,500,700")
    ap.add_argument("--window", type=float, default=180.0)
    ap.add_argument("--online-timeout", type=float, default=300.0)
    ap.add_argument("--procs", type=int, default=None)
    args = ap.parse_args(argv)
    cache = Path("/tmp/cctv-bench-cache")
    results = []
    for k in (int(x) for x in args.cameras.split(",")):
        r = run_one(k, args.window, args.online_timeout, args.procs, cache)
        results.append(r)
        print(f"K={k}: {json.dumps(r)}", flush=True)
    print(f"\n{'K':>5} {'CPU/cam':>8} {'lag p99':>8} {'drops':>6} {'changes':>8} {'offline':>7} {'cover min/mean':>15} "
          f"{'shed kf':>8} {'stalls':>6} {'sim CPU':>8}")
    for r in results:
        flag = " (simulator saturated: not counted)" if r["simulator_saturated"] else ""
        print(f"{r['cameras']:>5} {r['cpu_pct_per_camera']:>7}% {str(r['lag_p99_ms']):>7}ms "
              f"{r['dropped_messages'] + r['recording_dropped_packets']:>6} {r['state_changes']:>8} "
              f"{r['offline_at_end']:>7} {r['coverage_min_pct']:>7}/{r['coverage_mean_pct']}% {r['shed_keyframes']:>8} "
              f"{r['node_stalls']:>6} {r['simulator_cpu_pct']:>7}%{flag}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
