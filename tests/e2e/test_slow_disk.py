"""A slow recording disk, for real: `cctv run` with the simulator, its ingest process recording through the real
segment writer onto a folder where every ``write`` and ``fsync`` takes SLOW_MS (an LD_PRELOAD shim compiled
here, inherited by the ingest processes). The cameras must stay online the whole time — the disk is waited on
by the writer thread, never by the ingest loop — while segments are still written and indexed, the writer
queue overflows (counted on /healthz) and the index shows gaps rather than stalls."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from cctv.config import load_config
from streams.sim import SimulatorProcess
from tests.helpers.city import camera_paths, write_city
from tests.helpers.crash import CctvRun, all_rows, disk_files, ingest_health
from tests.helpers.eventually import eventually
from tests.helpers.servers import free_port, gst_rtsp_missing

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]

N_CAMS = 2
SLOW_MS = 400  # per write and per fsync: ~2 packets a second for cameras sending 20
WATCH_S = 20

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *root;
static size_t root_len;
static useconds_t delay_us;

__attribute__((constructor)) static void init(void) {
    root = getenv("SLOW_DISK_ROOT");
    root_len = root ? strlen(root) : 0;
    const char *ms = getenv("SLOW_DISK_MS");
    delay_us = ms ? (useconds_t)atoi(ms) * 1000 : 0;
}

static void maybe_wait(int fd) {
    char link[64], path[4096];
    if (!root_len || fd < 0) return;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < (ssize_t)root_len) return;
    path[n] = 0;
    if (strncmp(path, root, root_len) == 0 && (path[root_len] == '/' || path[root_len] == 0)) usleep(delay_us);
}

ssize_t write(int fd, const void *buf, size_t count) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = dlsym(RTLD_NEXT, "write");
    maybe_wait(fd);
    return real(fd, buf, count);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = dlsym(RTLD_NEXT, "fsync");
    maybe_wait(fd);
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = dlsym(RTLD_NEXT, "fdatasync");
    maybe_wait(fd);
    return real(fd);
}
"""


def slow_disk_shim(tmp_path: Path) -> Path:
    src, lib = tmp_path / "slowdisk.c", tmp_path / "slowdisk.so"
    src.write_text(SHIM)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(lib), str(src), "-ldl"], check=True,
                   capture_output=True)
    return lib


def offline_since(db: Path, after_ms: int) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT camera, state, reason, start_ms, end_ms FROM status_intervals "
            "WHERE state != 'online' AND (end_ms IS NULL OR end_ms > ?)", (after_ms,),
        ).fetchall()


def test_a_slow_disk_never_takes_cameras_offline_it_leaves_gaps_in_the_recordings(tmp_path):
    if why := gst_rtsp_missing():
        pytest.skip(why)
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: cannot build the slow-disk LD_PRELOAD shim")
    lib = slow_disk_shim(tmp_path)
    rec = tmp_path / "rec"
    rec.mkdir()
    cfg = write_city(
        tmp_path, free_port(), free_port(), N_CAMS,
        extra=f"recording: {{dir: {rec}, segment_s: 4, writer_queue_packets: 16}}",
    )
    data = tmp_path / "data"
    cams = set(camera_paths(N_CAMS))
    slow = ("env", f"LD_PRELOAD={lib}", f"SLOW_DISK_ROOT={rec}", f"SLOW_DISK_MS={SLOW_MS}")
    with SimulatorProcess(load_config(cfg), tmp_path / "cache", tmp_path / "truth.jsonl"):
        run = CctvRun.start(cfg, data, tmp_path / "run.log", free_port(), "--ingest-procs", "1", prefix=slow)
        try:
            eventually(lambda: ingest_health(run.base).get("cameras_receiving") == N_CAMS, 30,
                       lambda: f"both cameras receiving; log: {run.log_tail(1500)}")
            online_ms = int(time.time() * 1000)
            deadline = time.monotonic() + WATCH_S
            while time.monotonic() < deadline:  # the cameras' packets keep coming while the disk crawls
                h = ingest_health(run.base)
                assert h.get("cameras_receiving") == N_CAMS, (h, run.log_tail(1500))
                time.sleep(0.5)  # a sampling period of the observation, not a wait for something
            h = eventually(lambda: (h := ingest_health(run.base)).get("recording_queue_overflows") and h, 10,
                           "the writer queue to overflow")
            assert h["recording_queue_dropped"] > 0 and h["recording_segments"] >= N_CAMS, h
            assert offline_since(data / "cctv.sqlite3", online_ms) == [], run.log_tail(3000)
            run.stop()
        except BaseException:
            if run.proc.poll() is None:
                run.kill_group()
            raise
    rows = all_rows(data / "cctv.sqlite3")
    assert {r.camera for r in rows} == cams  # still recorded and indexed
    files = disk_files(rec)
    for r in rows:
        assert files.get(r.path) == r.size_bytes, r.path
    gaps = []
    for cam in cams:
        mine = sorted((r for r in rows if r.camera == cam), key=lambda r: r.start_ms)
        assert all(a.end_ms <= b.start_ms for a, b in zip(mine, mine[1:], strict=False)), mine  # no overlap
        gaps += [b.start_ms - a.end_ms for a, b in zip(mine, mine[1:], strict=False) if b.start_ms - a.end_ms > 100]
    assert gaps, "a queue overflow must show as a gap in the index"
    log = run.log_tail(200_000)
    assert "recording queue full" in log
    assert log.count("recording queue full") <= h["recording_queue_overflows"] + 5  # once per episode
