"""What the crash-consistency tests share: `cctv run` in its own process group (so a test can SIGKILL the
parent, one ingest process, or all of them), polling /healthz, and the recording invariants checked on the
SQLite file and the recordings folder after a crash and reconciliation."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from cctv.recording import PARTIAL_SUFFIX, SEGMENT_SUFFIX
from cctv.store import Store
from cctv.store.segment_models import SegmentLock, SegmentRow
from tests.helpers.eventually import eventually

ADMIN_PASSWORD = "crash-admin-password"  # `cctv run` creates `admin` with it on first start


def healthz(base: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=3) as r:  # noqa: S310 - loopback only
            return json.load(r)
    except (OSError, ValueError):
        return None


def ingest_health(base: str) -> dict:
    h = healthz(base)
    return (h or {}).get("ingest") or {}


@dataclass
class CctvRun:
    """A `cctv run` subprocess, leader of its own process group (its ingest processes are in it too)."""

    proc: subprocess.Popen
    base: str
    log_path: Path

    @classmethod
    def spawn(cls, cfg_path: Path, data_dir: Path, log_path: Path, port: int, *args: str,
              prefix: tuple[str, ...] = ()) -> CctvRun:
        """Start it without waiting for it to answer; ``prefix`` is a command that execs the rest (unshare)."""
        env = {**os.environ, "CCTV_DATA_DIR": str(data_dir), "CCTV_ADMIN_PASSWORD": ADMIN_PASSWORD}
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", "cctv", "run", "--config", str(cfg_path), "--port", str(port),
                 *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(proc, f"http://127.0.0.1:{port}", log_path)

    @classmethod
    def start(cls, cfg_path: Path, data_dir: Path, log_path: Path, port: int, *args: str,
              prefix: tuple[str, ...] = ()) -> CctvRun:
        """Start it and wait until /healthz answers."""
        run = cls.spawn(cfg_path, data_dir, log_path, port, *args, prefix=prefix)
        run.wait_ready()
        return run

    def wait_ready(self, timeout: float = 60) -> None:
        try:
            eventually(
                lambda: healthz(self.base) is not None or self.proc.poll() is not None,
                timeout,
                "/healthz to answer",
            )
            assert self.proc.poll() is None, f"cctv run exited {self.proc.returncode}: {self.log_tail()}"
        except BaseException:
            self.kill_group()
            raise

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:]

    def group_pids(self) -> list[int]:
        """Live processes of this run's process group (the parent and its ingest processes)."""
        out = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == self.proc.pid and fields[0] != "Z":  # fields[2] is the pgid
                out.append(int(d.name))
        return out

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def wait_group_gone(self, timeout: float = 20) -> None:
        """Wait until no process of the group is left (ingest processes orphaned by a killed parent stop on
        their own when their stdin closes); kill what is left after the deadline, then fail."""
        try:
            eventually(lambda: not self.group_pids(), timeout, "the run's processes to exit")
        except AssertionError:
            self.kill_group()
            raise

    def stop(self) -> None:
        """SIGTERM, and assert a clean exit (code 0)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill_group()
            code = self.proc.returncode
        self.wait_group_gone()
        assert code == 0, f"cctv run exited {code}: {self.log_tail()}"


# -- the recording invariants ------------------------------------------------------------------------


def disk_files(root: Path) -> dict[str, int]:
    """Every segment and partial file under ``root`` → its size."""
    if not root.is_dir():
        return {}
    return {
        p.relative_to(root).as_posix(): p.stat().st_size
        for p in root.rglob("*")
        if p.is_file() and (p.name.endswith(SEGMENT_SUFFIX) or p.name.endswith(PARTIAL_SUFFIX))
    }


@dataclass(frozen=True)
class Row:
    id: int
    camera: str
    start_ms: int
    end_ms: int
    path: str
    size_bytes: int
    sha256: str
    packets: int
    garbage: bool


def all_rows(db: Path) -> list[Row]:
    store = Store(f"sqlite:///{db}")
    try:
        with store.engine.connect() as conn:
            return [
                Row(
                    r.id,
                    r.camera,
                    r.start_ms,
                    r.end_ms,
                    r.path,
                    r.size_bytes,
                    r.sha256,
                    r.packets,
                    bool(r.garbage),
                )
                for r in conn.execute(select(SegmentRow).order_by(SegmentRow.camera, SegmentRow.start_ms))
            ]
    finally:
        store.close()


def locked_ids(db: Path) -> set[int]:
    store = Store(f"sqlite:///{db}")
    try:
        with store.engine.connect() as conn:
            return set(conn.execute(select(SegmentLock.segment_id)).scalars())
    finally:
        store.close()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_consistent(root: Path, db: Path) -> list[Row]:
    """No row without its file (with the recorded size and SHA-256), no file without a row, no partial left,
    no garbage row left, and per camera no two segments overlapping. Returns the rows."""
    rows = all_rows(db)
    files = disk_files(root)
    partials = sorted(f for f in files if f.endswith(PARTIAL_SUFFIX))
    assert not partials, f"partial segments left: {partials}"
    by_path = {r.path: r for r in rows}
    assert len(by_path) == len(rows), "two rows for one file"
    assert set(by_path) == set(files), (
        f"rows without a file: {sorted(set(by_path) - set(files))}; files without a row: "
        f"{sorted(set(files) - set(by_path))}"
    )
    for r in rows:
        assert files[r.path] == r.size_bytes, (
            f"{r.path}: {files[r.path]} bytes on disk, row says {r.size_bytes}"
        )
        assert sha256_of(root / r.path) == r.sha256, f"{r.path}: SHA-256 differs from its row"
        assert r.end_ms >= r.start_ms and r.packets > 0, r
    assert not [r for r in rows if r.garbage], "garbage rows left after reconciliation"
    cams: dict[str, list[Row]] = {}
    for r in rows:
        cams.setdefault(r.camera, []).append(r)
    for cam, segs in cams.items():
        segs.sort(key=lambda r: r.start_ms)
        for a, b in zip(segs, segs[1:], strict=False):
            assert a.end_ms <= b.start_ms, f"{cam}: {a.path} [{a.start_ms}, {a.end_ms}) overlaps {b.path}"
    return rows
