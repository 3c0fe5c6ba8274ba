"""The three contenders of bench/ingest.py as processes the benchmark starts, watches and stops.

- ``ours``: ``cctv run --config CITY`` (its figures from ``GET /healthz``, key ``ingest``);
- ``frigate_style`` and ``opencv``: ``python -m bench.baselines.<module> --config CITY`` (figures on stdout).

Each runs in its own session (process group), so stopping it ends its whole tree (ffmpeg children included),
and CPU and memory are read over that tree only.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
CONTENDERS = ("ours", "frigate_style", "opencv")
BASELINE_MODULES = {
    "frigate_style": "bench.baselines.frigate_style",
    "opencv": "bench.baselines.opencv_naive",
}


@dataclass(frozen=True)
class Snapshot:
    """Cumulative figures of a contender at monotonic time ``t``; None where the contender does not say."""

    t: float
    receiving: int | None
    samples: int | None
    errors: int | None
    edges: list[float] | None
    hist: list[int] | None
    receiving_from: str = "cameras_receiving"


def snapshot_from(ingest: dict[str, Any], t: float) -> Snapshot:
    """A Snapshot from ``/healthz``'s ``ingest`` object or a baseline's line (the same key names)."""

    def num(key: str) -> int | None:
        v = ingest.get(key)
        return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    edges, hist = ingest.get("lag_edges_ms"), ingest.get("lag_hist_ms")
    ok = isinstance(edges, list) and isinstance(hist, list) and len(hist) in (len(edges), len(edges) + 1)
    return Snapshot(
        t=t,
        receiving=num("cameras_receiving"),
        samples=num("samples_analysed"),
        errors=num("errors"),
        # JSON has no infinity: an open-ended last bucket's edge comes as null
        edges=[math.inf if e is None else float(e) for e in edges] if ok else None,  # type: ignore[union-attr]
        hist=[int(c) for c in hist] if ok else None,  # type: ignore[union-attr]
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@cache
def run_options() -> str:
    """``cctv run --help`` (to see whether it takes --ingest-procs)."""
    r = subprocess.run(
        [sys.executable, "-m", "cctv", "run", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    return r.stdout


class Contender:
    """A running contender: ``latest()`` gives its newest figures; ``stop()`` ends its whole process group."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = log
        self._log_file: IO[bytes] = log.open("wb")
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=self._stdout(),
            stderr=self._log_file,
            start_new_session=True,
        )

    def _stdout(self) -> int | IO[bytes]:
        return subprocess.DEVNULL

    @property
    def pid(self) -> int:
        return self.proc.pid

    def exited(self) -> int | None:
        return self.proc.poll()

    def latest(self) -> Snapshot | None:
        raise NotImplementedError

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the group, SIGKILL to what is left after ``timeout``; idempotent."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers (e.g. an ffmpeg that ignored SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._log_file.close()


class Baseline(Contender):
    """A baseline process; a thread keeps the last JSON line it printed."""

    def __init__(self, name: str, config: Path, log: Path) -> None:
        super().__init__(name, [sys.executable, "-m", BASELINE_MODULES[name], "--config", str(config)], log)
        self._last: Snapshot | None = None
        self._reader = threading.Thread(target=self._read, name=f"{name}-stdout", daemon=True)
        self._reader.start()

    def _stdout(self) -> int:
        return subprocess.PIPE

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                d = json.loads(line)
                self._last = snapshot_from(d, float(d["t"]))

    def latest(self) -> Snapshot | None:
        return self._last


class Ours(Contender):
    """``cctv run`` on a fresh data dir, recording off (in the city config), figures from ``/healthz``."""

    def __init__(self, config: Path, data_dir: Path, log: Path, ingest_procs: int | None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._password = "bench-" + secrets.token_urlsafe(12)  # the fresh data dir's admin, for the fallback
        argv = [sys.executable, "-m", "cctv", "run", "--config", str(config), "--port", str(self.port)]
        if ingest_procs is not None:
            argv += ["--ingest-procs", str(ingest_procs)]
        env = {"CCTV_DATA_DIR": str(data_dir), "CCTV_ADMIN_PASSWORD": self._password}
        super().__init__("ours", argv, log, env)
        self._opener: Any = None

    def _get(self, path: str, opener: Any = None) -> Any:
        with (opener or urllib.request.build_opener()).open(self.base + path, timeout=5) as r:
            return json.load(r)

    def latest(self) -> Snapshot | None:
        try:
            ingest = self._get("/healthz").get("ingest", {})
        except (OSError, ValueError):
            return None
        snap = snapshot_from(ingest, time.monotonic())
        if snap.receiving is None:  # before /healthz says it: cameras online or degraded (picture checked)
            snap = replace(snap, receiving=self._online(), receiving_from="online")
        return snap

    def _online(self) -> int | None:
        try:
            if self._opener is None:
                sys.path.insert(0, str(ROOT))
                from tests.helpers.servers import login_opener

                self._opener = login_opener(self.base, "admin", self._password)
            cams = self._get("/api/cameras", self._opener)
        except (OSError, ValueError, PermissionError):
            return None
        return sum(1 for c in cams if c.get("state") in ("online", "degraded"))


def start(name: str, config: Path, work: Path, k: int, ingest_procs: int | None) -> Contender:
    log = work / f"{name}-{k}.log"
    if name == "ours":
        return Ours(config, work / f"ours-data-{k}", log, ingest_procs)
    return Baseline(name, config, log)
