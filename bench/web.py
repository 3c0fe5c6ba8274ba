"""The web side under load: the tile-wall page with 64 tiles, and 200 WebSocket clients on a 100-camera city.

Runs the real thing: the simulator serving a 100-camera city (bench/citygen.py) and `cctv run` as a subprocess,
logged in through the form. Then:

1. Page time: N sequential requests of the city's tile wall at 8x8 (64 tiles), of its JSON (/api/wall, 64
   tiles) and of a tile snapshot (?w=320; 200 from the cache and 304 revalidations), over one keep-alive
   connection on the loopback: the round trip is an upper bound of the server's time.
2. Fan-out: C WebSocket clients (a third on the city, a third on the kecamatan, a third spread over the
   kelurahan), each watching up to 64 cameras as the wall does. Cameras are switched offline and back in
   the simulator; each change goes through the real path (RTSP → ingest → status machine → bus → sockets).
   Latency of one delivery = when the client got the status message − when `cctv run` logged the change
   (cctv.status.monitor logs each change right before publishing it; same machine, same wall clock, logs in UTC).
3. CPU of `cctv run` (its main process: web, bus, status; and the whole tree with the ingest processes)
   with no clients and with the C clients connected while the changes fan out: the ratio is the web's cost.

Prints a table; the last line is one JSON object. Targets: page < 100 ms, fan-out p99 < 500 ms.

    .venv/bin/python bench/web.py [--cameras 100] [--clients 200] [--rounds 4] [--requests 200]

With ``--synthetic [3000,30000]`` it measures the status fan-out of synthetic cities of thousands of cameras
instead (no RTSP: a synthetic ingest process feeds the real pipe; see bench/web_city.py):

    .venv/bin/python bench/web.py --synthetic 3000,30000 [--clients 200] [--window 60] [--changes-per-s 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.citygen import city_config  # noqa: E402
from bench.procstat import proc_times, tree_cpu  # noqa: E402
from bench.web_city import add_arguments, run_synthetic  # noqa: E402
from cctv.config.models import Config  # noqa: E402
from cctv.sites import Sites, is_within  # noqa: E402
from streams.sim import SimulatorProcess  # noqa: E402
from tests.helpers.servers import free_port  # noqa: E402

ADMIN_PASSWORD = "bench-web-admin-password"
PAGE_TARGET_MS = 100.0
FANOUT_P99_TARGET_MS = 500.0
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO cctv(?:\.status)?\.monitor: camera (\S+): (\w+)")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def write_config(work: Path, cameras: int, rtsp_port: int, control_port: int) -> Path:
    cfg = city_config(cameras, data_dir=work / "data", rtsp_port=rtsp_port, control_port=control_port)
    cfg["ingest"].update(
        {
            "connect_timeout_s": 3,
            "backoff_initial_s": 0.2,
            "backoff_max_s": 1,
            "snapshot_width": 640,
            "snapshot_interval_s": 2,
        }
    )
    cfg["status"] = {"offline_after_s": 3, "degraded_after_s": 2, "recover_after_s": 2}
    cfg["sim"]["clip_seconds"] = 4
    path = work / "city.json"  # JSON is YAML
    path.write_text(json.dumps(cfg))
    return path


async def login(session: aiohttp.ClientSession, base: str) -> None:
    html = await (await session.get(f"{base}/login")).text()
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the login form"
    r = await session.post(
        f"{base}/login",
        data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": m.group(1)},
        allow_redirects=False,
    )
    if r.status != 303:
        raise SystemExit(f"login refused: {r.status}")


async def wait_online(session: aiohttp.ClientSession, base: str, n: int, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        with contextlib.suppress(aiohttp.ClientError):
            cams = await (await session.get(f"{base}/api/cameras")).json()
            if len(cams) == n and all(c["state"] == "online" for c in cams):
                return time.monotonic() - t0
        await asyncio.sleep(0.5)
    raise SystemExit(f"not every camera came online within {timeout:.0f} s")


async def time_requests(
    session: aiohttp.ClientSession, url: str, n: int, **kw: Any
) -> tuple[list[float], int]:
    """Milliseconds per request (body read) over ``n`` sequential requests; and the last status."""
    times, status = [], 0
    for i in range(n + 5):
        t = time.perf_counter()
        async with session.get(url, **kw) as r:
            await r.read()
            status = r.status
        if i >= 5:  # the first few warm the connection and the caches
            times.append((time.perf_counter() - t) * 1000)
    return times, status


class Client:
    """One page's socket: remembers when each status message arrived (wall clock, ms)."""

    def __init__(self, area: str, watch: list[str]) -> None:
        self.area, self.watch = area, watch
        self.got: dict[tuple[str, str], float] = {}
        self.snapshots = 0
        self.ready = asyncio.Event()

    async def run(self, session: aiohttp.ClientSession, base: str) -> None:
        async with session.ws_connect(f"{base}/ws?area={self.area}", heartbeat=None) as ws:
            await ws.send_json({"type": "watch", "cameras": self.watch})
            async for msg in ws:
                now = time.time() * 1000
                m = json.loads(msg.data)
                if m["type"] == "hello":
                    self.ready.set()
                elif m["type"] == "status":
                    self.got.setdefault((m["camera"], m["state"]), now)
                elif m["type"] == "snapshots":
                    self.snapshots += len(m["cameras"])


def logged_changes(log: Path) -> dict[tuple[str, str], list[float]]:
    """(camera, state) -> wall-clock ms of each change `cctv run` logged (its log is in UTC)."""
    out: dict[tuple[str, str], list[float]] = {}
    for line in log.read_text(errors="replace").splitlines():
        m = LOG_LINE.match(line)
        if m:
            t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC).timestamp() * 1000
            out.setdefault((m.group(2), m.group(3)), []).append(t)
    return out


async def fanout(
    args: argparse.Namespace, base: str, sites: Sites, sim: SimulatorProcess, log: Path, run_pid: int
) -> dict[str, Any]:
    cams = [c.path for c in sites.cameras]
    kels = sorted({c.rsplit("/", 2)[0] for c in cams})
    kecs = sorted({c.split("/")[0] for c in cams})
    areas = [""] * (args.clients // 3) + [kecs[i % len(kecs)] for i in range(args.clients // 3)]
    areas += [kels[i % len(kels)] for i in range(args.clients - len(areas))]
    clients = [Client(a, [c for c in cams if is_within(c, a)][:64]) for a in areas]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as session:
        await login(session, base)
        tasks = [asyncio.create_task(c.run(session, base)) for c in clients]
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 60)
        cpu0, tree0, t0 = proc_times(run_pid), tree_cpu(run_pid), time.monotonic()
        changes: list[tuple[str, str]] = []
        per_round = min(10, len(cams) // args.rounds)  # every camera switched at most once: one latency each
        stride = len(cams) // (args.rounds * per_round)
        for r in range(args.rounds):
            picked = [cams[(r * per_round + i) * stride] for i in range(per_round)]
            for state, sim_state in (("offline", "offline"), ("online", "normal")):
                for cam in picked:
                    await asyncio.to_thread(sim.set_state, cam, sim_state)
                    changes.append((cam, state))
                deadline = time.monotonic() + 40
                while time.monotonic() < deadline and not all(
                    (cam, state) in c.got for cam in picked for c in clients if is_within(cam, c.area)
                ):
                    await asyncio.sleep(0.1)
        cpu1, tree1, t1 = proc_times(run_pid), tree_cpu(run_pid), time.monotonic()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    logged = logged_changes(log)
    lat, expected, missing = [], 0, 0
    for cam, state in changes:
        sent = logged.get((cam, state))
        for c in clients:
            if not is_within(cam, c.area):
                continue
            expected += 1
            got = c.got.get((cam, state))
            before = [t for t in sent or () if t <= got + 1] if got is not None else []
            if not before:
                missing += 1
                continue
            lat.append(got - max(before))  # the last logged change of that kind before it arrived
    wall = t1 - t0
    return {
        "changes": len(changes),
        "deliveries": len(lat),
        "expected": expected,
        "missing": missing,
        "median_ms": statistics.median(lat) if lat else float("nan"),
        "p99_ms": pct(lat, 99),
        "max_ms": max(lat) if lat else float("nan"),
        "main_cpu_pct": 100 * (cpu1 - cpu0) / wall,
        "tree_cpu_pct": 100 * (tree1 - tree0) / wall,
        "seconds": wall,
        "snapshot_news": sum(c.snapshots for c in clients),
    }


async def measure(
    args: argparse.Namespace, base: str, sites: Sites, sim: SimulatorProcess, log: Path, run_pid: int
) -> dict[str, Any]:
    n = len(sites.cameras)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await login(session, base)
        to_online = await wait_online(session, base, n, args.online_timeout)
        print(f"{n} cameras online {to_online:.1f} s after login", flush=True)
        page, status = await time_requests(session, f"{base}/wall?grid=8", args.requests)
        body = await (await session.get(f"{base}/wall?grid=8")).text()
        tiles = len(re.findall(r'class="tile state-', body))
        assert status == 200 and tiles == 64, (status, tiles)
        api, _ = await time_requests(session, f"{base}/api/wall?per_page=64", args.requests)
        cam = sites.cameras[0].path
        snap, _ = await time_requests(session, f"{base}/snapshot/{cam}.jpg?w=320", args.requests)
        r = await session.get(f"{base}/snapshot/{cam}.jpg?w=320")
        etag = r.headers["ETag"]
        await r.read()
        rev, st304 = await time_requests(
            session, f"{base}/snapshot/{cam}.jpg?w=320", args.requests, headers={"If-None-Match": etag}
        )
        # CPU with no clients, over as long as the fan-out phase will roughly take
        cpu0, tree0, t0 = proc_times(run_pid), tree_cpu(run_pid), time.monotonic()
        await asyncio.sleep(args.idle_seconds)
        idle = {
            "main_cpu_pct": 100 * (proc_times(run_pid) - cpu0) / (time.monotonic() - t0),
            "tree_cpu_pct": 100 * (tree_cpu(run_pid) - tree0) / (time.monotonic() - t0),
        }
    fan = await fanout(args, base, sites, sim, log, run_pid)
    return {"page": page, "api": api, "snap": snap, "rev": rev, "rev_status": st304, "idle": idle, "fan": fan}


def report(n: int, args: argparse.Namespace, m: dict[str, Any]) -> dict[str, Any]:
    def row(name: str, ms: list[float]) -> str:
        return f"{name:<38} {statistics.median(ms):8.2f} {pct(ms, 95):8.2f} {len(ms):6d}"

    print(f"\n{'request (loopback round trip)':<38} {'median':>8} {'p95':>8} {'n':>6}  (ms)")
    print(row("tile wall page, 8x8 = 64 tiles", m["page"]))
    print(row("/api/wall, 64 tiles (JSON)", m["api"]))
    print(row("snapshot ?w=320 (200, cached copy)", m["snap"]))
    print(row(f"snapshot ?w=320 revalidated ({m['rev_status']})", m["rev"]))
    f, idle = m["fan"], m["idle"]
    print(
        f"\nfan-out: {args.clients} WebSocket clients, {f['changes']} state changes via the simulator, "
        f"{f['deliveries']}/{f['expected']} deliveries ({f['missing']} missing)"
    )
    print(
        f"  latency change logged -> client: median {f['median_ms']:.1f} ms, p99 {f['p99_ms']:.1f} ms, "
        f"max {f['max_ms']:.1f} ms"
    )
    print(f"  snapshot news delivered (batched, watched cameras only): {f['snapshot_news']}")
    print(f"\n{'cctv run CPU (% of one core)':<38} {'main':>8} {'tree':>8}")
    print(f"{'no clients':<38} {idle['main_cpu_pct']:8.1f} {idle['tree_cpu_pct']:8.1f}")
    print(f"{f'{args.clients} clients + fan-out':<38} {f['main_cpu_pct']:8.1f} {f['tree_cpu_pct']:8.1f}")
    ratio = f["main_cpu_pct"] / idle["main_cpu_pct"] if idle["main_cpu_pct"] else float("nan")
    page_med = statistics.median(m["page"])
    ok = page_med < PAGE_TARGET_MS and f["p99_ms"] < FANOUT_P99_TARGET_MS and not f["missing"]
    print(
        f"\ntargets: page < {PAGE_TARGET_MS:.0f} ms: {page_med:.1f} ms; fan-out p99 < {FANOUT_P99_TARGET_MS:.0f} ms: "
        f"{f['p99_ms']:.1f} ms -> {'met' if ok else 'NOT met'}"
    )
    return {
        "cameras": n,
        "clients": args.clients,
        "page_median_ms": round(page_med, 2),
        "page_p95_ms": round(pct(m["page"], 95), 2),
        "api_wall_median_ms": round(statistics.median(m["api"]), 2),
        "snapshot_median_ms": round(statistics.median(m["snap"]), 2),
        "snapshot_304_median_ms": round(statistics.median(m["rev"]), 2),
        "fanout_changes": f["changes"],
        "fanout_deliveries": f["deliveries"],
        "fanout_missing": f["missing"],
        "fanout_median_ms": round(f["median_ms"], 1),
        "fanout_p99_ms": round(f["p99_ms"], 1),
        "cpu_main_idle_pct": round(idle["main_cpu_pct"], 1),
        "cpu_main_clients_pct": round(f["main_cpu_pct"], 1),
        "cpu_main_ratio": round(ratio, 2),
        "cpu_tree_idle_pct": round(idle["tree_cpu_pct"], 1),
        "cpu_tree_clients_pct": round(f["tree_cpu_pct"], 1),
        "targets_met": ok,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=100)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=4, help="rounds of (10 cameras offline, then back)")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--idle-seconds", type=float, default=20)
    ap.add_argument("--online-timeout", type=float, default=180)
    ap.add_argument("--sim-cache", type=Path, default=ROOT / "data" / "sim-cache")
    add_arguments(ap)
    args = ap.parse_args()
    if args.synthetic:
        return run_synthetic(args)
    work = Path(tempfile.mkdtemp(prefix="cctv-bench-web-"))
    rtsp, control, web = free_port(), free_port(), free_port()
    cfg_path = write_config(work, args.cameras, rtsp, control)
    config = Config.model_validate(json.loads(cfg_path.read_text()))
    sites = Sites(config)
    log = work / "run.log"
    env = {
        **os.environ,
        "CCTV_DATA_DIR": str(work / "data"),
        "CCTV_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "TZ": "UTC",
    }
    print(f"work dir {work}; encoding/starting the simulator…", flush=True)
    with SimulatorProcess(config, args.sim_cache, work / "truth.jsonl") as sim, open(log, "wb") as out:
        run = subprocess.Popen(
            [sys.executable, "-m", "cctv", "run", "--config", str(cfg_path), "--port", str(web)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{web}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=2):  # noqa: S310 - loopback
                        break
                except OSError:
                    if time.monotonic() > deadline or run.poll() is not None:
                        raise SystemExit(f"cctv run did not answer; see {log}") from None
                    time.sleep(0.5)
            m = asyncio.run(measure(args, base, sites, sim, log, run.pid))
        finally:
            run.send_signal(signal.SIGTERM)
            try:
                run.wait(30)
            except subprocess.TimeoutExpired:
                run.kill()
                run.wait()
    print(json.dumps(report(len(sites.cameras), args, m)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
