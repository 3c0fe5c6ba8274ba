"""Ingest at city scale: `cctv run` against a Frigate-style and a naive OpenCV baseline, same cameras, same run.

For each K of the sweep: one simulator with K cameras (640x360, 10 fps, GOP 20, H.264 baseline), then each
contender in turn for the same window (after it has every camera receiving and a warm-up): CPU of its process
tree (% of one core, per camera), RSS and PSS per camera, samples analysed, lag p50 / p99 / growth, errors.
Definitions: bench/lagstats.py and docs/bench-ingest.md. Progress on stderr; a table per K and contender,
the ratios, and last one JSON line on stdout.

    .venv/bin/python bench/ingest.py                 # 50,100,200,300,400 cameras, 180 s windows
    .venv/bin/python bench/ingest.py --quick         # 50,150,250, short windows, under 5 minutes
    .venv/bin/python bench/ingest.py --k 20 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import lagstats as ls  # noqa: E402
from bench.citygen import write_city  # noqa: E402
from bench.contenders import CONTENDERS, Contender, Snapshot, free_port, run_options, start  # noqa: E402
from bench.procstat import tree_cpu, tree_pss_mb, tree_rss_mb  # noqa: E402
from streams.sim.control import SimError  # noqa: E402

FULL_K = (50, 100, 200, 300, 400)
QUICK_K = (50, 150, 250)
PROGRESS_EVERY_S = 5.0
SERIAL_OPEN = frozenset({"opencv"})  # opens its cameras one at a time: open time grows linearly with K


@dataclass
class Result:
    k: int
    name: str
    status: str = "measured"  # or why it was not: "skipped: ...", "failed: ..."
    min_receiving: int | None = None
    receiving_from: str = ""
    samples_per_s: float | None = None
    cpu_pct: float | None = None
    rss_mb: float | None = None
    pss_mb: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    growth_ms: float | None = None
    errors: int | None = None
    sim_cpu_pct: float | None = None
    seconds: float = 0.0
    open_s: float | None = None  # from start until every camera was receiving
    sustained: bool | None = False


class Progress:
    """Lines on stderr, at most one per PROGRESS_EVERY_S for the same phase."""

    def __init__(self) -> None:
        self._last = ("", 0.0)

    def __call__(self, phase: str, detail: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if force or phase != self._last[0] or now - self._last[1] >= PROGRESS_EVERY_S:
            print(f"[bench] {phase}{': ' + detail if detail else ''}", file=sys.stderr, flush=True)
            self._last = (phase, now)


def _recv(s: Snapshot | None) -> str:
    return "?" if s is None or s.receiving is None else str(s.receiving)


def measure(c: Contender, k: int, args: argparse.Namespace, sim_pid: int, progress: Progress) -> Result:
    """Wait until every camera is receiving, warm up, measure one window; the caller stops ``c``."""
    r = Result(k, c.name)
    phase = f"K={k} {c.name}"
    started = time.monotonic()
    deadline = started + args.open_timeout_for(k)
    while True:  # opening
        if c.exited() is not None:
            r.status = f"failed: exited with code {c.exited()} (log {c.log})"
            return r
        s = c.latest()
        if s is not None and s.receiving is not None and s.receiving >= k:
            r.open_s = time.monotonic() - started
            break
        left = deadline - time.monotonic()
        if left <= 0:
            r.status = f"failed: {_recv(s)}/{k} receiving after {args.open_timeout_for(k):.0f} s"
            return r
        progress(phase, f"opening, {_recv(s)}/{k} receiving, {left:.0f} s left")
        time.sleep(1.0)
    end_warm = time.monotonic() + args.warmup
    while (left := end_warm - time.monotonic()) > 0:
        progress(phase, f"warming up, {left:.0f} s left")
        time.sleep(min(1.0, left))

    s0, cpu0, sim0, t0 = c.latest(), tree_cpu(c.pid), tree_cpu(sim_pid), time.monotonic()
    mid: Snapshot | None = None
    low: int | None = s0.receiving if s0 else None
    while (left := t0 + args.seconds - time.monotonic()) > 0:
        time.sleep(min(1.0, left))
        s = c.latest()
        if c.exited() is not None:
            r.status = f"failed: exited with code {c.exited()} during the window (log {c.log})"
            return r
        if s is not None and s.receiving is not None:
            low = s.receiving if low is None else min(low, s.receiving)
        if mid is None and time.monotonic() - t0 >= args.seconds / 2:
            mid = s
        progress(phase, f"measuring, {max(0.0, left):.0f} s left, {_recv(s)}/{k} receiving")
    s1, cpu1, sim1, t1 = c.latest(), tree_cpu(c.pid), tree_cpu(sim_pid), time.monotonic()
    rss, pss = tree_rss_mb(c.pid), tree_pss_mb(c.pid)
    r.seconds = t1 - t0
    r.cpu_pct = 100 * (cpu1 - cpu0) / r.seconds
    r.sim_cpu_pct = 100 * (sim1 - sim0) / r.seconds
    r.rss_mb, r.pss_mb = rss / k, (None if pss is None else pss / k)
    r.min_receiving = low
    r.receiving_from = s1.receiving_from if s1 else ""
    if s0 and s1:
        if s0.samples is not None and s1.samples is not None and s1.t > s0.t:
            r.samples_per_s = (s1.samples - s0.samples) / (s1.t - s0.t)
        r.errors = s1.errors
        if mid and s0.hist and mid.hist and s1.hist and s1.edges:
            try:
                r.p50_ms, r.p99_ms, r.growth_ms = ls.window_lag(s1.edges, s0.hist, mid.hist, s1.hist)
            except ValueError as exc:
                r.status = f"measured; lag n/a: {exc}"
    receiving = r.min_receiving if r.receiving_from == "cameras_receiving" else None
    r.sustained = ls.is_sustained(k, receiving, r.p99_ms, r.growth_ms)
    if r.receiving_from == "online" and r.min_receiving is not None and r.min_receiving < k:
        r.sustained = False  # cameras went offline: not sustained, whatever the rest says
    return r


def open_too_slow(rate: tuple[int, float] | None, k: int, timeout: float) -> str | None:
    """Why a contender that opens cameras one at a time (``rate``: (K, seconds per camera) seen before)
    cannot open ``k`` within ``timeout``; None when it may. Saves waiting for a timeout we can predict."""
    if rate is None or rate[1] * k <= timeout:
        return None
    return (
        f"would need ~{rate[1] * k:.0f} s to open {k} cameras (took {rate[1]:.2f} s per camera at "
        f"K={rate[0]}), over the {timeout:.0f} s allowed"
    )


def run_sweep(args: argparse.Namespace, work: Path, progress: Progress) -> list[Result]:
    from cctv.config import load_config
    from streams.sim.process import SimulatorProcess

    results: list[Result] = []
    given_up: dict[str, int] = {}  # contender -> the K it was not sustained at
    open_rate: dict[str, tuple[int, float]] = {}  # contender -> (K, seconds per camera to open them all)
    for k in args.k:
        todo = [n for n in args.contenders if n not in given_up]
        for n in args.contenders:
            if n in given_up:
                results.append(
                    Result(k, n, status=f"skipped: not sustained at K={given_up[n]}", sustained=None)
                )
        if not todo:
            continue
        rtsp, control = free_port(), free_port()
        cfg = write_city(
            work / f"city-{k}.yaml", k, data_dir=work / f"sim-{k}", rtsp_port=rtsp, control_port=control
        )
        progress(f"K={k}", "starting the simulator (clips are encoded once, into the cache)", force=True)
        sim = SimulatorProcess(load_config(cfg), args.cache_dir, work / f"sim-truth-{k}.jsonl")
        sim.start(timeout=120)
        try:
            assert sim.proc is not None
            for name in todo:
                if why := open_too_slow(open_rate.get(name), k, args.open_timeout_for(k)):
                    r = Result(k, name, status=f"failed: {why}")
                else:
                    progress(f"K={k} {name}", "starting", force=True)
                    c = start(name, cfg, work, k, args.ingest_procs if name == "ours" else None)
                    try:
                        r = measure(c, k, args, sim.proc.pid, progress)
                    finally:
                        c.stop()
                if r.open_s is not None and name in SERIAL_OPEN:
                    open_rate[name] = (k, r.open_s / k)
                results.append(r)
                print_row(r, file=sys.stderr)
                if r.sustained is False and not args.run_all:
                    given_up[name] = k
        finally:
            sim.stop()
    return results


def _f(v: float | None, fmt: str, na: str = "n/a") -> str:
    if v is None:
        return na
    if math.isinf(v):
        return "> max"  # beyond the last finite bucket edge
    if fmt == ".0f":
        return str(round(v))  # no "-0"
    return format(v, fmt)


HEADER = (
    f"{'K':>4} {'contender':<14} {'recv':>9} {'samples/s':>9} {'CPU %core':>9} {'%/cam':>6} {'RSS MB/cam':>10} "
    f"{'PSS MB/cam':>10} {'p50 ms':>7} {'p99 ms':>7} {'growth ms':>9} {'errors':>6} {'sim %':>6}  sustained"
)


def print_row(r: Result, file=None) -> None:  # type: ignore[no-untyped-def]
    if not r.status.startswith("measured"):
        print(f"{r.k:>4} {r.name:<14} {r.status}", file=file)
        return
    recv = f"{_f(r.min_receiving, 'd', '?')}/{r.k}" + ("*" if r.receiving_from == "online" else "")
    cpu_cam = None if r.cpu_pct is None else r.cpu_pct / r.k
    sus = {True: "yes", False: "no", None: "n/a"}[r.sustained]
    print(
        f"{r.k:>4} {r.name:<14} {recv:>9} {_f(r.samples_per_s, '.1f'):>9} {_f(r.cpu_pct, '.1f'):>9} "
        f"{_f(cpu_cam, '.3f'):>6} {_f(r.rss_mb, '.2f'):>10} {_f(r.pss_mb, '.2f'):>10} {_f(r.p50_ms, '.0f'):>7} "
        f"{_f(r.p99_ms, '.0f'):>7} {_f(r.growth_ms, '.0f'):>9} {_f(r.errors, 'd'):>6} {_f(r.sim_cpu_pct, '.1f'):>6}  "
        f"{sus}" + ("" if r.status == "measured" else f" ({r.status})"),
        file=file,
    )


def summary(results: list[Result], names: tuple[str, ...] = CONTENDERS) -> dict:
    """The last line: largest sustained K, cameras per core at it, and ours / theirs. A contender that was
    not run is null; one that failed (exited, or could not open every camera in time) sustained nothing."""
    sustained: dict[str, int | None] = {}
    per_core: dict[str, float | None] = {}
    for n in names:
        rows = [r for r in results if r.name == n and not r.status.startswith("skipped")]
        if not rows:
            sustained[n] = per_core[n] = None
            continue
        best = ls.largest_sustained(
            [(r.k, r.sustained if r.status.startswith("measured") else False) for r in rows]
        )
        cpu = next((r.cpu_pct for r in rows if r.k == best and r.status.startswith("measured")), None)
        cpc = ls.cameras_per_core(best, cpu)
        sustained[n] = best
        per_core[n] = None if cpc is None else round(cpc, 1)

    def rnd(x: float | None) -> float | None:
        return None if x is None else round(x, 2)

    return {
        "sustained": sustained,
        "cameras_per_core": per_core,
        "ratio_frigate": rnd(ls.ratio(per_core.get("ours"), per_core.get("frigate_style"))),
        "ratio_opencv": rnd(ls.ratio(per_core.get("ours"), per_core.get("opencv"))),
    }


def print_report(results: list[Result], args: argparse.Namespace) -> dict:
    print(f"\nIngest benchmark: K = {','.join(map(str, args.k))}, window {args.seconds:.0f} s after "
          f"{args.warmup:.0f} s warm-up; sustained = all K receiving, p99 lag < {ls.P99_MAX_MS:.0f} ms, "
          f"growth < {ls.GROWTH_MAX_MS:.0f} ms")  # fmt: skip
    print(HEADER)
    for r in sorted(results, key=lambda r: (r.k, CONTENDERS.index(r.name))):
        print_row(r)
    if any(r.receiving_from == "online" for r in results):
        print("* cctv run's /healthz has no cameras_receiving yet: cameras online or degraded instead")
    s = summary(results, CONTENDERS)
    print("\nCameras sustained per core = largest sustained K / (CPU % of one core at that K / 100):")
    for n in CONTENDERS:
        k, cpc = s["sustained"][n], s["cameras_per_core"][n]
        print(f"  {n:<14} sustained K = {_f(k, 'd')}, cameras per core = {_f(cpc, '.1f')}")
    print(f"  ours / frigate_style = {_f(s['ratio_frigate'], '.2f')} (target >= 4); "
          f"ours / opencv = {_f(s['ratio_opencv'], '.2f')} (target >= 3)")  # fmt: skip
    if 0 in s["sustained"].values():
        print(
            "  (a contender sustained no K of the sweep: add a smaller K, e.g. --k 10,25,50, for its ratio)"
        )
    return s


QUICK = {"k": QUICK_K, "seconds": 15.0, "warmup": 5.0, "open_cap": 75.0}
FULL = {"k": FULL_K, "seconds": 180.0, "warmup": 15.0, "open_cap": math.inf}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = ap.add_argument
    add("--k", help="comma-separated camera counts (default 50,100,200,300,400; quick 50,150,250)")
    add("--seconds", type=float, help="measured window per contender and K (default 180; quick 15)")
    add("--warmup", type=float, help="seconds after every camera is receiving, not measured (15; quick 5)")
    add(
        "--open-timeout",
        type=float,
        help="seconds to get every camera receiving (30 + 1.2 per camera; quick ≤ 75)",
    )
    add("--quick", action="store_true", help="reduced sweep with short windows, under 5 minutes")
    add("--contenders", default=",".join(CONTENDERS), help=f"subset of {','.join(CONTENDERS)}")
    add("--ingest-procs", type=int, help="passed to `cctv run --ingest-procs` (default: its own choice)")
    add(
        "--run-all", action="store_true", help="run a contender at every K, even above one it did not sustain"
    )
    add(
        "--cache-dir",
        type=Path,
        default=ROOT / "data" / "sim-cache",
        help="simulator clip cache (data/sim-cache)",
    )
    add("--keep", action="store_true", help="keep the work directory (configs, logs)")
    args = ap.parse_args(argv)
    d = QUICK if args.quick else FULL
    try:
        args.k = [int(x) for x in args.k.split(",")] if args.k else list(d["k"])
    except ValueError:
        ap.error(f"--k: expected comma-separated integers, got {args.k!r}")
    if any(not 1 <= k <= 9900 for k in args.k):
        ap.error("--k: each camera count must be 1..9900")
    args.contenders = tuple(n.strip() for n in args.contenders.split(",") if n.strip())
    if bad := [n for n in args.contenders if n not in CONTENDERS]:
        ap.error(f"--contenders: unknown {', '.join(bad)}; choose from {', '.join(CONTENDERS)}")
    args.seconds = args.seconds or d["seconds"]
    args.warmup = d["warmup"] if args.warmup is None else args.warmup
    if args.seconds < 4:
        ap.error("--seconds: at least 4 (the window is split in halves for the growth)")
    fixed, cap = args.open_timeout, d["open_cap"]
    args.open_timeout_for = (lambda k: fixed) if fixed else (lambda k: min(cap, 30.0 + 1.2 * k))
    if args.ingest_procs is not None and "--ingest-procs" not in run_options():
        print("[bench] this `cctv run` has no --ingest-procs; running it with its default", file=sys.stderr)
        args.ingest_procs = None
    return args


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # SIGTERM: unwind like Ctrl-C, so every finally stops its processes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    progress = Progress()
    signal.signal(signal.SIGTERM, _interrupt)
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    progress("start", f"work directory {work}", force=True)
    results: list[Result] = []
    try:
        results = run_sweep(args, work, progress)
    except KeyboardInterrupt:
        print("[bench] interrupted: every process stopped", file=sys.stderr)
        return 130
    except SimError as exc:
        print(f"[bench] simulator: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep or any(r.status.startswith("failed") for r in results):
            print(f"[bench] configs and logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    s = print_report(results, args)
    print(json.dumps(s), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
