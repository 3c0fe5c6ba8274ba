"""Baselines for bench/ingest.py: what a user would otherwise pick, run over the same cameras and checks.

Each baseline is a process (``python -m bench.baselines.<name> --config CFG``) that reads every enabled camera
of the config, runs one thread per camera feeding this project's ``Analyzer`` (the same motion and health
checks as ``cctv run``), and prints once a second, on stdout, one JSON line of cumulative figures with the
names ``cctv run`` gives them on ``/healthz`` under ``ingest``:

    {"t": MONOTONIC_S, "cameras": K, "cameras_receiving": N, "samples_analysed": N, "errors": N,
     "lag_edges_ms": [...], "lag_hist_ms": [...]}

Lag as defined in ``bench/lagstats.py``. SIGTERM or SIGINT stops it (it ends its own child processes).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.lagstats import LAG_EDGES_MS, RECEIVING_WINDOW_S, CameraLag, sum_hists  # noqa: E402
from cctv.analysis.analyzer import CheckParams  # noqa: E402
from cctv.config.models import Config  # noqa: E402

SOURCE_SIZE = (640, 360)  # what the simulator serves
RETRY_S = 1.0  # wait before reopening a camera whose stream failed


@dataclass
class CameraStats:
    """One camera's cumulative figures; written by its thread only, read by the reporter."""

    samples: int = 0
    errors: int = 0
    last_frame: float | None = None  # monotonic time of the last frame received
    lag: CameraLag = field(default_factory=CameraLag)


@dataclass(frozen=True)
class Camera:
    path: str
    url: str = field(repr=False)  # may carry a password: never printed


# One session of one camera: open, read and analyse until the stream fails or the event is set.
CameraLoop = Callable[[Camera, CheckParams, CameraStats, threading.Event], None]


def check_params(config: Config) -> CheckParams:
    """The site's check parameters, as ``cctv run`` builds them for a camera without masks."""
    c = config.checks
    fields = {n: getattr(c, n) for n in type(c).model_fields if n in CheckParams.__dataclass_fields__}
    return CheckParams(analysis_width=config.ingest.analysis_width, **fields)


def analysis_size(width: int) -> tuple[int, int]:
    """(width, height) the checks work at: ``ingest.analysis_width``, keeping the simulator's aspect ratio."""
    return width, max(1, round(SOURCE_SIZE[1] * width / SOURCE_SIZE[0]))


def snapshot(stats: dict[str, CameraStats], now: float) -> dict:
    """The cumulative figures of every camera, in the shape of ``/healthz``'s ``ingest`` keys."""
    values = list(stats.values())
    return {
        "t": round(now, 3),
        "cameras": len(values),
        "cameras_receiving": sum(
            1 for s in values if s.last_frame is not None and now - s.last_frame <= RECEIVING_WINDOW_S
        ),
        "samples_analysed": sum(s.samples for s in values),
        "errors": sum(s.errors for s in values),
        "lag_edges_ms": list(LAG_EDGES_MS),
        "lag_hist_ms": sum_hists([s.lag.hist for s in values]),
    }


def run_baseline(name: str, loop: CameraLoop, on_stop: Callable[[], None] = lambda: None) -> int:
    """The main of a baseline process: a thread per camera running ``loop``, figures on stdout every
    ``--report-every`` seconds until SIGTERM/SIGINT; then ``on_stop()`` (e.g. end child processes)."""
    from cctv.config import load_config
    from cctv.config.loader import ConfigError
    from cctv.sites import Sites

    ap = argparse.ArgumentParser(prog=f"bench.baselines.{name}", description=sys.modules["__main__"].__doc__)
    ap.add_argument("--config", required=True, help="the benchmark city's config (bench/citygen.py)")
    ap.add_argument("--report-every", type=float, default=1.0, help="seconds between two lines of figures")
    args = ap.parse_args()
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    params = check_params(config)
    cams = [Camera(c.path, c.url) for c in Sites(config).cameras if c.enabled]
    stats = {c.path: CameraStats() for c in cams}
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def guarded(cam: Camera) -> None:
        # ``loop`` runs one session (open, read until the stream fails or stop) and counts its own errors
        while not stop.is_set():
            try:
                loop(cam, params, stats[cam.path], stop)
            except Exception as exc:  # noqa: BLE001 - one camera's failure is counted, never fatal
                stats[cam.path].errors += 1
                print(f"{name}: {cam.path}: {type(exc).__name__}", file=sys.stderr)
            stop.wait(RETRY_S)

    threads = [threading.Thread(target=guarded, args=(c,), name=c.path, daemon=True) for c in cams]
    for t in threads:
        t.start()
    try:
        while not stop.wait(args.report_every):
            print(json.dumps(snapshot(stats, time.monotonic())), flush=True)
    except BrokenPipeError:
        pass
    finally:
        stop.set()
        on_stop()
        deadline = time.monotonic() + 5
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
    return 0
