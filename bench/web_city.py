"""bench/web.py --synthetic: status fan-out of a synthetic city of thousands of cameras, no RTSP.

For each city size: a Jakarta-like city (bench/citygen.py ``JAKARTA``), accounts created in its store, then

- the main process: the product's node as `cctv run` builds it (bench/web_node.py), recording off, SQLite
  under a temp dir, ``--procs`` ingest processes (default 1) running bench/synthetic_shard.py: the real
  pipe from a separate process, statuses fed through the monitor and the bus;
- once every camera is online (warm-up, not measured): the clients process (bench/ws_clients.py) logs in
  through the form and opens ``--clients`` sockets (a third city-wide as admin, a third on a kecamatan as its
  operator, a third on a kelurahan as its operator), each watching up to 64 cameras of its area;
- the shard is told to make ``--changes-per-s`` status changes a second (SIGUSR1); after ``--ramp`` s the
  ``--window`` s measured window runs; then the changes stop (SIGUSR2) and deliveries get ``--grace`` s.

Latency of one delivery = when the client got the ``status`` message − when the monitor logged the change
(``cctv(.status)?.monitor: camera PATH: STATE``, logged right before it is published; same machine, same
clock, logs in UTC). Log lines and messages are paired per (client, camera, state) in order. CPU is the main
process's utime + stime over the window (bench/procstat.py) in % of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.citygen import JAKARTA, city_config
from bench.procstat import proc_times
from bench.web_report import P99_TARGET_MS, pct, print_report
from bench.ws_clients import login
from cctv.accounts.users import Accounts

# project internals (update here after a module move)
from cctv.config.models import Config
from cctv.sites import Sites, is_within
from cctv.store import Store, default_url

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-web-city-password"
LOG_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO cctv(?:\.status)?\.monitor: camera (\S+): (\w+)"
)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    g = ap.add_argument_group("synthetic city (no RTSP)")
    g.add_argument("--synthetic", nargs="?", const="3000,30000", default=None, metavar="SIZES",
                   help="run the synthetic-city fan-out for these camera counts (default 3000,30000)")
    g.add_argument("--window", type=float, default=60, help="measured seconds per size")
    g.add_argument("--ramp", type=float, default=20, help="seconds of changes before the window opens")
    g.add_argument("--grace", type=float, default=5, help="seconds given to the last deliveries")
    g.add_argument("--changes-per-s", type=float, default=20)
    g.add_argument("--motion-per-s", type=float, default=2)
    g.add_argument("--stats-every", type=float, default=2, help="seconds between a camera's StreamStats")
    g.add_argument("--procs", type=int, default=1, help="synthetic ingest processes")
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--warmup-timeout", type=float, default=300)
    g.add_argument("--keep", action="store_true", help="keep each size's work dir (logs, receipts, store)")


# -- set-up ------------------------------------------------------------------------------------------


def plan_clients(sites: Sites, clients: int) -> list[dict[str, Any]]:
    """Accounts and their sockets: a third city-wide (admin), a third on kecamatan, a third on kelurahan."""
    cams = [c.path for c in sites.cameras]
    kecs = sorted({c.split("/")[0] for c in cams})
    kels = sorted({c.rsplit("/", 2)[0] for c in cams})
    n_city = n_kec = clients // 3
    areas = [("admin", "/", "")] * n_city
    areas += [("operator", kecs[i % len(kecs)], kecs[i % len(kecs)]) for i in range(n_kec)]
    n_kel = clients - len(areas)
    areas += [("operator", k, k) for k in (kels[i * len(kels) // n_kel] for i in range(n_kel))]
    accounts: dict[str, dict[str, Any]] = {}
    page: dict[str, int] = defaultdict(int)
    for i, (role, scope, area) in enumerate(areas):
        name = "bench-admin" if role == "admin" else "op-" + scope.replace("/", ".")
        acct = accounts.setdefault(name, {"username": name, "password": PASSWORD, "role": role,
                                          "scope": scope, "clients": []})
        mine = [c for c in cams if is_within(c, area)]
        start = (page[area] * 64) % len(mine)  # the wall's pages: sockets on one area show different tiles
        page[area] += 1
        acct["clients"].append({"id": i, "area": area, "watch": (mine[start:] + mine[:start])[:64]})
    return list(accounts.values())


def create_accounts(config: Config, sites: Sites, accounts: list[dict[str, Any]]) -> None:
    store = Store(default_url(Path(config.data_dir)))
    store.migrate()
    try:
        acc = Accounts(store.engine)
        now = int(time.time() * 1000)
        for a in accounts:
            acc.add_user(a["username"], a["password"], a["role"], [a["scope"]], now, sites)
    finally:
        store.close()


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


# -- running one size ------------------------------------------------------------------------------


class Run:
    def __init__(self, n: int, args: argparse.Namespace, work: Path) -> None:
        self.n, self.args, self.work = n, args, work
        self.base = ""
        self.node: asyncio.subprocess.Process | None = None
        self.clients: asyncio.subprocess.Process | None = None
        self.log = work / "node.log"
        self.shard_report = work / "shard.jsonl"
        self.receipts = work / "receipts.tsv"
        self.fig: dict[str, Any] = {"cameras": n, "sockets": args.clients, "loadavg_start": loadavg()}

    async def healthz(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        try:
            async with session.get(f"{self.base}/healthz", timeout=aiohttp.ClientTimeout(total=20)) as r:
                return await r.json()
        except (aiohttp.ClientError, TimeoutError):
            return {}

    async def start_node(self, cfg_path: Path, port: int) -> None:
        env = {**os.environ, "TZ": "UTC", "PYTHONPATH": str(ROOT),
               "CCTV_BENCH_SYNTH_REPORT": str(self.shard_report),
               "CCTV_BENCH_SYNTH": json.dumps({"seed": self.args.seed, "changes_per_s": self.args.changes_per_s,
                                               "motion_per_s": self.args.motion_per_s,
                                               "stats_every_s": self.args.stats_every})}
        out = open(self.log, "wb")  # noqa: SIM115 - the child holds it; closed with the run
        self.node = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.web_node", "--config", str(cfg_path), "--port", str(port),
            "--procs", str(self.args.procs), cwd=ROOT, env=env, stdout=out, stderr=out)
        out.close()
        self.base = f"http://127.0.0.1:{port}"

    async def wait_online(self, session: aiohttp.ClientSession) -> None:
        t0 = time.monotonic()
        deadline = t0 + 90
        while True:  # serving
            if self.node is None or self.node.returncode is not None:
                raise SystemExit(f"the node exited; see {self.log}")
            if await self.healthz(session):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the node did not answer in 90 s; see {self.log}")
            await asyncio.sleep(0.5)
        self.fig["serving_s"] = round(time.monotonic() - t0, 1)
        await login(session, self.base, "bench-admin", PASSWORD)
        online = 0
        deadline = time.monotonic() + self.args.warmup_timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, KeyError):
                async with session.get(f"{self.base}/api/areas", timeout=aiohttp.ClientTimeout(total=30)) as r:
                    online = (await r.json())["counts"]["online"]
                if online == self.n:
                    break
            await asyncio.sleep(1)
        self.fig["warmup_s"] = round(time.monotonic() - t0, 1)
        self.fig["warmup_online"] = online
        self.fig["warmup_complete"] = online == self.n
        print(f"  {online}/{self.n} cameras online {self.fig['warmup_s']} s after start", flush=True)

    async def start_clients(self, accounts: list[dict[str, Any]]) -> dict[str, Any]:
        plan = self.work / "clients.json"
        plan.write_text(json.dumps({"base": self.base, "out": str(self.receipts), "accounts": accounts}))
        self.clients = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.ws_clients", str(plan), cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert self.clients.stdout is not None
        try:
            line = await asyncio.wait_for(self.clients.stdout.readline(), 240)
        except TimeoutError:
            raise SystemExit("the clients did not log in and get every hello within 240 s") from None
        ready = json.loads(line or b"{}")
        if ready.get("event") != "ready":
            raise SystemExit(f"the clients did not get ready: {line!r}")
        return ready

    def shard_pid(self) -> int:
        for r in read_jsonl(self.shard_report):
            if r.get("event") == "started":
                return int(r["pid"])
        raise SystemExit("the synthetic shard did not report its pid")

    async def measure(self) -> None:
        a = self.args
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            await self.wait_online(session)
            accounts = json.loads((self.work / "accounts.json").read_text())
            ready = await self.start_clients(accounts)
            self.fig.update(login_s=ready["login_s"], sockets_ready_s=ready["ready_s"])
            self.fig["t_ready_ms"] = ready["t_ms"]
            shard = self.shard_pid()
            assert self.node is not None and self.clients is not None
            os.kill(shard, signal.SIGUSR1)
            await asyncio.sleep(a.ramp)
            h0 = await self.healthz(session)
            cpu0 = (proc_times(self.node.pid), proc_times(shard), proc_times(self.clients.pid))
            t0, w0 = time.monotonic(), time.time() * 1000
            rss_peak = 0.0
            while time.monotonic() - t0 < a.window:
                if self.node.returncode is not None:
                    raise SystemExit(f"the node exited during the window; see {self.log}")
                rss_peak = max(rss_peak, rss_mb(self.node.pid))
                await asyncio.sleep(1)
            cpu1 = (proc_times(self.node.pid), proc_times(shard), proc_times(self.clients.pid))
            t1, w1 = time.monotonic(), time.time() * 1000
            os.kill(shard, signal.SIGUSR2)
            h1 = await self.healthz(session)
            wall = t1 - t0
            self.fig.update(
                window_s=round(wall, 1), window_ms=(w0, w1),
                main_cpu_pct=round(100 * (cpu1[0] - cpu0[0]) / wall, 1),
                shard_cpu_pct=round(100 * (cpu1[1] - cpu0[1]) / wall, 1),
                clients_cpu_pct=round(100 * (cpu1[2] - cpu0[2]) / wall, 1),
                main_rss_mb=round(rss_mb(self.node.pid), 1), main_rss_peak_mb=round(rss_peak, 1),
                health_start=_health_figures(h0), health_end=_health_figures(h1),
            )
            await asyncio.sleep(a.grace)
        # changes still in flight at SIGUSR2 (a camera going offline takes offline_after_s) may be logged after
        # this: the whole-run figures count those logged up to TAIL_MS before the clients stop
        self.fig["clients_stop_ms"] = time.time() * 1000
        self.clients.stdin.close()  # type: ignore[union-attr]
        line = await asyncio.wait_for(self.clients.stdout.readline(), 60)  # type: ignore[union-attr]
        self.fig["clients_done"] = json.loads(line or b"{}")
        self.fig["loadavg_end"] = loadavg()

    async def stop(self) -> None:
        for proc in (self.clients, self.node):
            if proc is None or proc.returncode is not None:
                continue
            if proc is self.clients and proc.stdin is not None:
                proc.stdin.close()
            else:
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def _health_figures(h: dict[str, Any]) -> dict[str, Any]:
    ing = h.get("ingest", {})
    return {"answered": bool(h), "bus_dropped": h.get("bus_dropped"), "channel_dropped": ing.get("channel_dropped"),
            "channel_queued": ing.get("channel_queued"), "proc_channel_dropped": ing.get("proc_channel_dropped"),
            "monitor_handled": ing.get("monitor_handled"), "cameras_receiving": ing.get("cameras_receiving"),
            "gc": ing.get("gc")}


# -- analysis ----------------------------------------------------------------------------------------


TAIL_MS = 2000  # a change logged this long before the clients stop must have reached them


def logged_changes(log: Path) -> list[tuple[float, str, str]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        m = LOG_LINE.match(line)
        if m:
            t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC).timestamp() * 1000
            out.append((t, m.group(2), m.group(3)))
    return out


def analyse(run: Run, accounts: list[dict[str, Any]]) -> dict[str, Any]:
    f = run.fig
    w0, w1 = f["window_ms"]
    t_ready = f["t_ready_ms"]
    logged = [x for x in logged_changes(run.log) if x[0] >= t_ready - 5]
    cut = f.get("clients_stop_ms", float("inf")) - TAIL_MS
    in_window = [x for x in logged if w0 <= x[0] < w1]
    got: dict[tuple[int, str, str], list[float]] = defaultdict(list)
    if run.receipts.exists():
        for line in run.receipts.read_text().splitlines():
            cid, cam, state, t, *_ = line.split("\t")
            if float(t) >= t_ready - 5:
                got[(int(cid), cam, state)].append(float(t))
    lat: list[float] = []
    expected = unmatched = unexpected = run_expected = run_delivered = 0
    for a in accounts:
        for c in a["clients"]:
            seq: dict[tuple[str, str], list[float]] = defaultdict(list)
            for t, cam, state in logged:
                if is_within(cam, c["area"]):
                    seq[(cam, state)].append(t)
            for (cam, state), times in seq.items():
                recv = got.pop((c["id"], cam, state), [])
                unexpected += max(0, len(recv) - len(times))
                counted = sum(1 for t in times if t < cut)  # in order: the first ones
                run_expected += counted
                run_delivered += min(counted, len(recv))
                for i, t in enumerate(times):
                    if not w0 <= t < w1:
                        continue
                    expected += 1
                    if i < len(recv):
                        lat.append(recv[i] - t)
                    else:
                        unmatched += 1
    unexpected += sum(len(v) for v in got.values())
    actions = [item for r in read_jsonl(run.shard_report) if r.get("event") == "actions" for item in r["items"]]
    shard = next((r for r in read_jsonl(run.shard_report) if r.get("event") == "window"), {})
    f.update(
        changes_sent=sum(1 for ms, _, _ in actions if w0 <= ms < w1),
        changes_published=len(in_window),
        published_per_s=round(len(in_window) / f["window_s"], 1),
        by_state={s: sum(1 for x in in_window if x[2] == s) for s in ("online", "degraded", "offline")},
        deliveries_expected=expected, delivered=len(lat), unmatched=unmatched, unexpected=unexpected,
        logged_since_ready=len(logged), logged_too_late=sum(1 for x in logged if x[0] >= cut),
        run_expected=run_expected, run_delivered=run_delivered,
        latency_ms={"p50": pct(lat, 50), "p95": pct(lat, 95), "p99": pct(lat, 99),
                    "max": round(max(lat), 1) if lat else float("nan")},
        shard={k: shard.get(k) for k in ("cpu_pct", "lag_ms_p50", "lag_ms_p99", "lag_ms_max", "behind",
                                         "messages", "frames", "bytes", "stats", "samples", "skipped_busy")},
    )
    return f


async def run_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    from tests.helpers.servers import free_port

    work = Path(tempfile.mkdtemp(prefix=f"cctv-bench-city-{n}-"))
    cfg = city_config(n, data_dir=work / "data", rtsp_port=free_port(), control_port=free_port(), layout=JAKARTA)
    cfg["ingest"]["procs"] = args.procs
    cfg_path = work / "city.json"
    cfg_path.write_text(json.dumps(cfg))
    config = Config.model_validate(cfg)
    sites = Sites(config)
    accounts = plan_clients(sites, args.clients)
    (work / "accounts.json").write_text(json.dumps(accounts))
    print(f"\n== {n} cameras, {args.clients} sockets, {len(accounts)} accounts; work dir {work}", flush=True)
    create_accounts(config, sites, accounts)
    run = Run(n, args, work)
    try:
        await run.start_node(cfg_path, free_port())
        await run.measure()
    except (SystemExit, TimeoutError, OSError) as exc:
        run.fig["failed"] = str(exc) or type(exc).__name__
        run.fig.setdefault("loadavg_end", loadavg())
        print(f"  run failed: {run.fig['failed']}", flush=True)
    finally:
        await run.stop()
    if "window_ms" in run.fig:
        analyse(run, accounts)
    run.fig.pop("window_ms", None)
    if args.keep:
        print(f"  kept {work}", flush=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return run.fig


def run_synthetic(args: argparse.Namespace) -> int:
    sizes = [int(s) for s in args.synthetic.split(",") if s.strip()]
    figures = []
    for n in sizes:
        figures.append(asyncio.run(run_size(n, args)))
    summary = print_report(figures, args)
    print(json.dumps(summary))
    return 0 if all(f.get("pass") for f in summary["sizes"]) else 1


__all__ = ["P99_TARGET_MS", "add_arguments", "run_synthetic"]
