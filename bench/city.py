"""A city of 30,000 cameras at the message level (issue 12's benchmark 2): real PostgreSQL and Redis, 30 days of
history, two web nodes (`cctv serve`).

1. A fresh database on the shared PostgreSQL (dropped afterwards) and a private Redis; the city's config
   (bench/citygen.py ``JAKARTA``: 44 kecamatan, 264 kelurahan) with ``--cameras`` cameras.
2. 30 days of status history for every camera, written with COPY (bench/city_history.py).
3. Two web nodes started one after the other: seconds until ``/healthz`` answers, seconds until the first
   ``/tech`` answers (the roll-up model loaded), and each node's memory (RSS) then; then the seconds until the
   history's days are tallied (once, after an upgrade or a restore: cctv/rollup/days.py), by one node at a time.
4. p50 / p95 of ``/tech``, ``/tech.csv``, ``/api/rollup`` for the city (as the admin) and for one kecamatan (as
   its technician), ``--requests`` each, one at a time, alternating between the two web nodes (target < 500 ms).
5. The live half (bench/city_live.py): ``--nodes`` synthetic ingest nodes publishing a city's news through
   Redis and writing its rows to PostgreSQL, ``--clients`` WebSocket clients on the two web nodes: change →
   browser p50 / p95 / p99 (target p99 < 1 s), CPU of each process, PostgreSQL rows/s, Redis commands/s.

    .venv/bin/python -m bench.city [--cameras 30000] [--days 30] [--requests 20] [--nodes 100] [--clients 200]

Prints a table; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench import city_live
from bench.city_history import camera_paths, write_history
from bench.citygen import JAKARTA, city_config
from bench.web_report import pct
from bench.ws_clients import login
from cctv.accounts.users import Accounts
from cctv.config.models import Config
from cctv.sites import Sites
from cctv.store import Store
from tests.helpers.cluster import Cluster, Node
from tests.helpers.e2e import ADMIN_PASSWORD, http_status

TARGET_MS = 500
TECH_PASSWORD = "bench-city-technician-pw"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_timed(cluster: Cluster, node: Node) -> float:
    t0 = time.monotonic()
    cluster.start(node, wait=False)
    while http_status(f"{node.base}/healthz") != 200:
        if node.proc is not None and node.proc.poll() is not None:
            raise SystemExit(f"{node.name} exited: {node.log_text()[-3000:]}")
        time.sleep(0.1)
    return time.monotonic() - t0


async def timed_gets(bases: list[str], user: str, password: str, paths: list[str], n: int
                     ) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Per path: the answer times (ms) of ``n`` GETs, alternating between the web nodes; and the bytes."""
    out: dict[str, list[float]] = {p: [] for p in paths}
    size: dict[str, int] = {}
    sessions = []
    try:
        for base in bases:
            s = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                      timeout=aiohttp.ClientTimeout(total=120))
            sessions.append(s)
            await login(s, base, user, password)
        for i in range(n):
            for p in paths:
                s, base = sessions[i % len(bases)], bases[i % len(bases)]
                t0 = time.perf_counter()
                async with s.get(base + p) as r:
                    body = await r.read()
                    if r.status != 200:
                        raise SystemExit(f"GET {p} on {base}: {r.status} {body[:300]!r}")
                out[p].append((time.perf_counter() - t0) * 1000)
                size[p] = len(body)
    finally:
        for s in sessions:
            await s.close()
    return out, size


def run(a: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-city-"))
    cfg = city_config(a.cameras, data_dir=tmp / "data", layout=JAKARTA)
    cluster = Cluster(tmp, cfg)
    result: dict[str, Any] = {"cameras": a.cameras, "days": a.days}
    try:
        store = Store(cluster.store_url)
        store.migrate()
        sites = Sites(Config.model_validate(cfg))
        kec_path = sites.area("").children[0]
        acc, now = Accounts(store.engine), int(time.time() * 1000)
        acc.add_user("admin", ADMIN_PASSWORD, "admin", [""], now, sites)
        acc.add_user("tek-kec", TECH_PASSWORD, "technician", [kec_path], now, sites)
        store.close()
        t0 = time.monotonic()
        rows = write_history(cluster.store_url, camera_paths(a.cameras), int(time.time() * 1000), a.days)
        result["history_rows"] = rows
        result["history_write_s"] = round(time.monotonic() - t0, 1)
        print(f"history: {rows:,} interval rows in {result['history_write_s']} s", flush=True)

        webs = [cluster.add(f"web-{i}", "serve") for i in (1, 2)]
        for w in webs:
            up = start_timed(cluster, w)
            t0 = time.monotonic()
            times, _ = asyncio.run(timed_gets([w.base], "admin", ADMIN_PASSWORD, ["/tech"], 1))
            first = time.monotonic() - t0
            assert w.proc is not None
            result[w.name] = {"start_s": round(up, 1), "first_tech_s": round(first, 1),
                              "rss_mb": round(rss_mb(w.proc.pid), 0)}
            print(f"{w.name}: /healthz after {up:.1f} s, first /tech after {first:.1f} s more, "
                  f"RSS {result[w.name]['rss_mb']:.0f} MB", flush=True)

        t0 = time.monotonic()  # the first start on an untallied history tallies 30 days (once, by one node)
        while any(w.health()["rollup"]["rollup_days_pending"] != 0 for w in webs):
            time.sleep(1)
        result["backfill_s"] = round(time.monotonic() - t0, 1)
        result["days_tallied"] = {w.name: w.health()["rollup"]["rollup_days_tallied"] for w in webs}
        print(f"daily tallies of the history done {result['backfill_s']} s later "
              f"(days tallied per node: {result['days_tallied']})", flush=True)
        bases = [w.base for w in webs]
        city_paths = ["/tech", "/tech.csv", "/api/rollup"]
        kec_paths = [f"/tech/{kec_path}", f"/tech/{kec_path}.csv", f"/api/rollup/{kec_path}"]
        city_t, city_b = asyncio.run(timed_gets(bases, "admin", ADMIN_PASSWORD, city_paths, a.requests))
        kec_t, kec_b = asyncio.run(timed_gets(bases, "tek-kec", TECH_PASSWORD, kec_paths, a.requests))
        pages: dict[str, Any] = {}
        for label, times, sizes in (("city", city_t, city_b), ("kecamatan", kec_t, kec_b)):
            for p, ts in times.items():
                pages[f"{label} {p}"] = {"p50_ms": round(statistics.median(ts), 1), "p95_ms": round(pct(ts, 95), 1),
                                         "max_ms": round(max(ts), 1), "bytes": sizes[p],
                                         "each_ms": [round(t) for t in ts]}
        result["pages"] = pages
        if a.live:
            result["live"] = city_live.run_live(a, tmp, cluster.store_url, cluster.redis.url, sites, webs,
                                                ("admin", ADMIN_PASSWORD))
        for w in webs:
            assert w.proc is not None
            result[w.name]["rss_mb_after"] = round(rss_mb(w.proc.pid), 0)
            gc = w.health()["ingest"].get("gc", {})
            result[w.name]["gc_pause_ms_max"] = gc.get("pause_ms_max")
            result[w.name]["gc_collections"] = gc.get("collections")
    finally:
        cluster.close()
    return result


def report(r: dict[str, Any]) -> None:
    print(f"\ncity: {r['cameras']:,} cameras, {r['history_rows']:,} interval rows over {r['days']} days; "
          f"days tallied in {r['backfill_s']} s after the start {r['days_tallied']}")
    for name in ("web-1", "web-2"):
        w = r[name]
        print(f"  {name}: /healthz {w['start_s']} s, first /tech +{w['first_tech_s']} s, RSS {w['rss_mb']:.0f} MB "
              f"(after the requests {w['rss_mb_after']:.0f} MB); gc pauses max {w['gc_pause_ms_max']} ms "
              f"(gen 0, 1, 2; collections {w['gc_collections']})")
    print(f"  {'page':<40} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>10}  target p95 < {TARGET_MS} ms")
    for p, v in r["pages"].items():
        flag = "" if v["p95_ms"] < TARGET_MS else "  OVER"
        print(f"  {p:<40} {v['p50_ms']:>8} {v['p95_ms']:>8} {v['bytes']:>10,}{flag}")
    if "live" in r:
        city_live.report(r["live"])
    print(json.dumps(r))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", type=int, default=30_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--requests", type=int, default=20, help="GETs of each page (default 20)")
    city_live.add_arguments(ap)
    a = ap.parse_args(argv)
    report(run(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
