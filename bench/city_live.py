"""bench/city.py's live half: a city's ingest nodes (bench/city_ingest.py) publishing through real Redis and
PostgreSQL into the two web nodes, with WebSocket clients of mixed scopes on both (bench/ws_clients.py).

1. ``--nodes`` synthetic ingest nodes take every camera's lease and write its first verdict.
2. ``--clients`` sockets log in (a third city-wide as admin, a third on a kecamatan, a third on a kelurahan, as
   their operators; bench/web_city.py ``plan_clients``), alternating between the two web nodes.
3. The changes start; after ``--ramp`` s the ``--window`` s measured window runs. Meanwhile a technician's pages
   (``/tech``, ``/api/rollup`` for the city) are timed now and then, as pages are used while news flows.

Change → browser latency = when the socket got the ``status`` message − its ``since_ms``, which the synthetic
node set to the wall clock when it published the change (same machine, same clock). Every change in the window
is expected on every socket whose area holds the camera; one not received is counted, never ignored. CPU: each
process's utime + stime over the window, % of one core. PostgreSQL: rows inserted, updated and deleted and
transactions committed in the bench's database over the window (``pg_stat_database``); Redis: commands
processed and bytes in and out (``INFO``), per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import redis
from sqlalchemy import create_engine, text

from bench.procstat import proc_times
from bench.web_city import plan_clients
from bench.web_report import pct
from cctv.accounts.users import Accounts
from cctv.sites import Sites, is_within
from cctv.store import Store

ROOT = Path(__file__).resolve().parents[1]
P99_TARGET_MS = 1000


def add_arguments(ap: argparse.ArgumentParser) -> None:
    g = ap.add_argument_group("live half")
    g.add_argument("--no-live", dest="live", action="store_false", help="history and pages only")
    g.add_argument("--nodes", type=int, default=100, help="synthetic ingest nodes (default 100)")
    g.add_argument("--clients", type=int, default=200, help="WebSocket clients (default 200)")
    g.add_argument("--window", type=float, default=60, help="measured seconds")
    g.add_argument("--ramp", type=float, default=10)
    g.add_argument("--changes-per-s", type=float, default=30, help="state changes a second, city-wide")
    g.add_argument("--motion-per-s", type=float, default=60, help="motion starts and ends a second, city-wide")
    g.add_argument("--snapshot-every-s", type=float, default=2.0, help="snapshot news per online camera")
    g.add_argument("--stats-every-s", type=float, default=5.0, help="a stats batch per node")
    g.add_argument("--segment-s", type=float, default=60.0, help="a segment row per camera")


def _child(module: str, plan: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", module, str(plan)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _read_event(proc: subprocess.Popen[bytes], what: str, timeout_s: float = 300) -> dict[str, Any]:
    assert proc.stdout is not None
    if not select.select([proc.stdout], [], [], timeout_s)[0]:
        proc.kill()
        raise SystemExit(f"{what} said nothing for {timeout_s:g} s (killed)")
    line = proc.stdout.readline()
    try:
        return json.loads(line)
    except ValueError:
        raise SystemExit(f"{what} exited without reporting (rc {proc.poll()})") from None


def pg_counters(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            r = c.execute(text("SELECT tup_inserted, tup_updated, tup_deleted, xact_commit FROM pg_stat_database "
                               "WHERE datname = current_database()")).one()
    finally:
        engine.dispose()
    return {"inserted": r[0], "updated": r[1], "deleted": r[2], "commits": r[3]}


def redis_counters(url: str) -> dict[str, int]:
    client = redis.Redis.from_url(url)
    try:
        info = client.info("stats")
    finally:
        client.close()
    return {"commands": info["total_commands_processed"], "net_in": info["total_net_input_bytes"],
            "net_out": info["total_net_output_bytes"]}


async def page_times(bases: list[str], user: str, password: str, paths: list[str], stop_at: float,
                     every_s: float) -> dict[str, list[float]]:
    from bench.ws_clients import login

    out: dict[str, list[float]] = {p: [] for p in paths}
    sessions = [aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                      timeout=aiohttp.ClientTimeout(total=120)) for _ in bases]
    try:
        for s, base in zip(sessions, bases, strict=True):
            await login(s, base, user, password)
        i = 0
        while time.monotonic() < stop_at:
            for p in paths:
                s, base = sessions[i % len(bases)], bases[i % len(bases)]
                t0 = time.perf_counter()
                async with s.get(base + p) as r:
                    await r.read()
                out[p].append((time.perf_counter() - t0) * 1000)
            i += 1
            await asyncio.sleep(every_s)
    finally:
        for s in sessions:
            await s.close()
    return out


def run_live(a: argparse.Namespace, tmp: Path, store_url: str, bus_url: str, sites: Sites,
             webs: list[Any], admin: tuple[str, str]) -> dict[str, Any]:
    cams = [c.path for c in sites.cameras if c.enabled]
    nodes = [{"name": f"ingest-{i + 1:03d}", "cameras": cams[i :: a.nodes]} for i in range(a.nodes)]
    plan = {"store_url": store_url, "bus_url": bus_url, "nodes": nodes, "seed": 1, "out": str(tmp / "changes.tsv"),
            "changes_per_s": a.changes_per_s, "motion_per_s": a.motion_per_s,
            "snapshot_every_s": a.snapshot_every_s, "stats_every_s": a.stats_every_s, "segment_every_s": a.segment_s,
            "renew_every_s": 2.0, "lease_ttl_s": 10.0}
    (tmp / "ingest.json").write_text(json.dumps(plan))
    fig: dict[str, Any] = {"nodes": a.nodes, "sockets": a.clients}
    ingest = _child("bench.city_ingest", tmp / "ingest.json")
    clients: subprocess.Popen[bytes] | None = None
    try:
        ready = _read_event(ingest, "the synthetic ingest nodes")
        fig["ingest_ready"] = ready
        print(f"live: {a.nodes} ingest nodes hold {ready['held']:,} leases ({ready['leases_s']} s), first verdicts "
              f"written in {ready['first_verdicts_s']} s", flush=True)
        accounts = plan_clients(sites, a.clients)
        for acct in accounts:
            for c in acct["clients"]:
                c["base"] = webs[c["id"] % len(webs)].base
        store = Store(store_url)
        acc, now = Accounts(store.engine), int(time.time() * 1000)
        for acct in accounts:
            acc.add_user(acct["username"], acct["password"], acct["role"], [acct["scope"]], now, sites)
        store.close()
        (tmp / "clients.json").write_text(json.dumps({"base": webs[0].base, "out": str(tmp / "receipts.tsv"),
                                                      "accounts": accounts}))
        clients = _child("bench.ws_clients", tmp / "clients.json")
        got = _read_event(clients, "the WebSocket clients")
        fig["sockets_ready_s"] = got.get("ready_s")
        print(f"live: {a.clients} sockets ready in {got.get('ready_s')} s", flush=True)
        assert ingest.stdin is not None
        ingest.stdin.write(b"go\n")
        ingest.stdin.flush()
        time.sleep(a.ramp)
        procs = {"web-1": webs[0].proc.pid, "web-2": webs[1].proc.pid, "ingest": ingest.pid,
                 "clients": clients.pid}
        cpu0 = {k: proc_times(pid) for k, pid in procs.items()}
        pg0, rd0 = pg_counters(store_url), redis_counters(bus_url)
        w0, t0 = time.time() * 1000, time.monotonic()
        pages = asyncio.run(page_times([w.base for w in webs], *admin, ["/tech", "/api/rollup"],
                                       t0 + a.window, 3.0))
        wall = time.monotonic() - t0
        w1 = time.time() * 1000
        cpu1 = {k: proc_times(pid) for k, pid in procs.items()}
        pg1, rd1 = pg_counters(store_url), redis_counters(bus_url)
        fig["window_s"] = round(wall, 1)
        fig["cpu_pct"] = {k: round(100 * (cpu1[k] - cpu0[k]) / wall, 1) for k in procs}
        fig["pg_per_s"] = {k: round((pg1[k] - pg0[k]) / wall, 1) for k in pg0}
        fig["redis_per_s"] = {k: round((rd1[k] - rd0[k]) / wall, 1) for k in rd0}
        fig["pages_under_load"] = {p: {"p50_ms": round(pct(ts, 50), 1), "p95_ms": round(pct(ts, 95), 1),
                                       "n": len(ts)} for p, ts in pages.items()}
        fig["health"] = {w.name: _web_health(w.health()) for w in webs}
        ingest.stdin.close()
        fig["ingest"] = _read_event(ingest, "the synthetic ingest nodes")
        time.sleep(2)  # the last changes' deliveries
        assert clients.stdin is not None
        clients.stdin.close()
        fig["clients"] = _read_event(clients, "the WebSocket clients")
        fig.update(deliveries(tmp / "changes.tsv", tmp / "receipts.tsv", accounts, w0, w1))
    finally:
        for proc in (ingest, clients):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    return fig


def _web_health(h: dict[str, Any]) -> dict[str, Any]:
    r = h.get("ingest", {}).get("redis", {})
    gc = h.get("ingest", {}).get("gc", {})
    return {"received": r.get("received"), "bad": r.get("bad"), "reconnects": r.get("reconnects"),
            "gc_pause_ms_max": gc.get("pause_ms_max"), "bus_dropped": h.get("bus_dropped"),
            "stale_ignored": h.get("stale_ignored"), "ws_dropped": h.get("ws_dropped"),
            "ws_resyncs": h.get("ws_resyncs")}


def deliveries(changes: Path, receipts: Path, accounts: list[dict[str, Any]], w0: float, w1: float
               ) -> dict[str, Any]:
    """Every change published in the window against what each socket whose area holds its camera received."""
    sent = []
    for line in changes.read_text().splitlines():
        since, cam, state = line.split("\t")
        if w0 <= float(since) < w1:
            sent.append((int(since), cam, state))
    got: dict[tuple[int, str, int], float] = {}
    for line in receipts.read_text().splitlines():
        cid, cam, state, t, since = line.split("\t")
        if since.isdigit():
            got[(int(cid), cam, int(since))] = float(t)
    by_area: dict[str, list[int]] = defaultdict(list)
    for acct in accounts:
        for c in acct["clients"]:
            by_area[c["area"]].append(c["id"])
    lat: list[float] = []
    missing = 0
    for since, cam, _state in sent:
        for area, ids in by_area.items():
            if not is_within(cam, area):
                continue
            for cid in ids:
                t = got.get((cid, cam, since))
                if t is None:
                    missing += 1
                else:
                    lat.append(t - since)
    return {"changes_in_window": len(sent), "deliveries_expected": len(lat) + missing, "delivered": len(lat),
            "missing": missing,
            "latency_ms": {"p50": round(pct(lat, 50), 1), "p95": round(pct(lat, 95), 1),
                           "p99": round(pct(lat, 99), 1), "max": round(max(lat), 1) if lat else None}}


def report(f: dict[str, Any]) -> None:
    lat = f["latency_ms"]
    flag = "" if lat["p99"] < P99_TARGET_MS else "  OVER"
    print(f"\nlive: {f['nodes']} ingest nodes, {f['sockets']} sockets on 2 web nodes, {f['window_s']} s window")
    print(f"  changes in window {f['changes_in_window']:,}; deliveries {f['delivered']:,} of "
          f"{f['deliveries_expected']:,} (missing {f['missing']:,})")
    print(f"  change -> browser ms p50 {lat['p50']} p95 {lat['p95']} p99 {lat['p99']} max {lat['max']}  "
          f"(target p99 < {P99_TARGET_MS}){flag}")
    print(f"  CPU % of a core: {f['cpu_pct']}")
    print(f"  PostgreSQL per s: {f['pg_per_s']}")
    print(f"  Redis per s: {f['redis_per_s']}")
    print(f"  pages during the window: {f['pages_under_load']}")
    ing = f["ingest"]
    print(f"  ingest nodes: {ing.get('changes')} changes, {ing.get('snapshots')} snapshot news, "
          f"{ing.get('segments')} segment rows, "
          f"{ing.get('stats_items')} stats items, written {ing.get('written')}, store errors "
          f"{ing.get('store_errors')}, outbox dropped {ing.get('outbox_dropped')}, generator behind p99 "
          f"{ing.get('behind_ms_p99')} ms (max {ing.get('behind_ms_max')})")
    print(f"  web nodes: {f['health']}")
