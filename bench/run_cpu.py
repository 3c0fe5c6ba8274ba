"""CPU and memory of `cctv run` with a whole simulated city (default: the demo config.yaml).

Starts the simulator and `cctv run` as subprocesses, waits until every camera is online, then samples
/proc for --seconds and prints CPU (% of one core) and RSS of `cctv run` and of the simulator, per camera.
Last line: one JSON object. Example:  .venv/bin/python bench/run_cpu.py --seconds 60
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.procstat import tree_cpu, tree_rss_mb  # noqa: E402
from cctv.config import load_config  # noqa: E402
from cctv.sites import Sites  # noqa: E402
from tests.helpers.servers import free_port, login_opener  # noqa: E402

ADMIN_PASSWORD = "bench-admin-password"  # `cctv run` creates `admin` with it in the fresh data dir
_opener: list = []


def cameras(base: str) -> list[dict]:
    try:
        if not _opener:
            _opener.append(login_opener(base, "admin", ADMIN_PASSWORD))
        with _opener[0].open(f"{base}/api/cameras", timeout=5) as r:
            return json.load(r)
    except (OSError, PermissionError):
        return []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "config.yaml"))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--online-timeout", type=float, default=180)
    args = ap.parse_args()
    config = load_config(args.config)
    n = len(Sites(config).cameras)
    work = Path(tempfile.mkdtemp(prefix="cctv-bench-"))
    web = free_port()
    cctv = [sys.executable, "-m", "cctv"]
    env = {**os.environ, "CCTV_DATA_DIR": str(work / "data"), "CCTV_ADMIN_PASSWORD": ADMIN_PASSWORD}
    # the simulator keeps its clip cache in the data dir of the config unless told otherwise
    sim = subprocess.Popen([*cctv, "sim", "--config", args.config], env={**os.environ},
                           stdout=subprocess.DEVNULL, stderr=open(work / "sim.log", "wb"))  # noqa: SIM115
    run = None
    try:
        deadline = time.monotonic() + args.online_timeout
        while subprocess.run([*cctv, "sim", "ls", "--config", args.config], capture_output=True).returncode:
            if time.monotonic() > deadline or sim.poll() is not None:
                raise SystemExit(f"simulator did not come up; see {work / 'sim.log'}")
            time.sleep(1)
        run = subprocess.Popen([*cctv, "run", "--config", args.config, "--port", str(web)], env=env,
                               stdout=subprocess.DEVNULL, stderr=open(work / "run.log", "wb"))  # noqa: SIM115
        base = f"http://127.0.0.1:{web}"
        t_start = time.monotonic()
        while True:
            cams = cameras(base)
            online = sum(1 for c in cams if c["state"] == "online")
            if cams and online == len(cams):
                break
            if time.monotonic() > deadline or run.poll() is not None:
                raise SystemExit(f"only {online}/{len(cams)} online; see {work / 'run.log'}")
            time.sleep(0.5)
        to_online = time.monotonic() - t_start
        print(f"{n} cameras online {to_online:.1f} s after `cctv run` started", flush=True)
        c0_run, c0_sim, t0 = tree_cpu(run.pid), tree_cpu(sim.pid), time.monotonic()
        time.sleep(args.seconds)
        c1_run, c1_sim, t1 = tree_cpu(run.pid), tree_cpu(sim.pid), time.monotonic()
        wall = t1 - t0
        run_pct, sim_pct = 100 * (c1_run - c0_run) / wall, 100 * (c1_sim - c0_sim) / wall
        run_rss, sim_rss = tree_rss_mb(run.pid), tree_rss_mb(sim.pid)
        still = sum(1 for c in cameras(base) if c["state"] == "online")
        print(f"cctv run : {run_pct:6.1f} % of a core ({run_pct / n:.2f} % per camera), RSS {run_rss:.0f} MB "
              f"({run_rss / n:.1f} MB per camera)")
        print(f"simulator: {sim_pct:6.1f} % of a core ({sim_pct / n:.2f} % per camera), RSS {sim_rss:.0f} MB")
        print(f"online at the end: {still}/{n}; measured over {wall:.0f} s")
        print(json.dumps({
            "cameras": n, "seconds": round(wall), "online_after_s": round(to_online, 1),
            "run_cpu_pct": round(run_pct, 1), "run_cpu_pct_per_camera": round(run_pct / n, 3),
            "run_rss_mb": round(run_rss), "sim_cpu_pct": round(sim_pct, 1), "online_at_end": still,
        }))
        return 0
    finally:
        for p in (run, sim):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    raise SystemExit(main())
