"""A node that bends (streams/ingest/shed.py): `cctv run` starved of CPU for 20 s (two busy processes beside it
at a higher priority, as when the machine is saturated) sheds analysis, keeps counting packets and recording,
says it is overloaded (``/healthz``, a node alert), and turns no camera offline."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cctv.config import load_config
from streams.sim import SimulatorProcess
from tests.helpers.city import write_city
from tests.helpers.crash import CctvRun, ingest_health
from tests.helpers.eventually import eventually
from tests.helpers.servers import free_port, gst_rtsp_missing

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]

N_CAMS = 4
BURN_S = 20.0


def rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def test_a_starved_node_sheds_analysis_keeps_recording_and_blames_no_camera(tmp_path: Path) -> None:
    if why := gst_rtsp_missing():
        pytest.skip(why)
    cfg = write_city(tmp_path, free_port(), free_port(), N_CAMS, extra="recording: {segment_s: 4}")
    data, db = tmp_path / "data", tmp_path / "data" / "cctv.sqlite3"
    with SimulatorProcess(load_config(cfg), tmp_path / "cache", tmp_path / "truth.jsonl"):
        run = CctvRun.start(cfg, data, tmp_path / "run.log", free_port(), "--ingest-procs", "1")
        burners: list[subprocess.Popen[bytes]] = []
        try:
            eventually(lambda: ingest_health(run.base).get("cameras_receiving") == N_CAMS, 60,
                       lambda: f"every camera receiving; log: {run.log_tail(1500)}")
            eventually(lambda: len(rows(db, "SELECT 1 FROM status_intervals WHERE state = 'online' AND end_ms IS "
                                           "NULL")) == N_CAMS, 30, "every camera online")
            start_ms = int(time.time() * 1000)
            before = ingest_health(run.base)
            # the node's scheduling group at the lowest priority, two busy processes in groups of their own at the
            # normal one: they take nearly all of both cores (the simulator, in the test's group, keeps its share)
            Path(f"/proc/{run.proc.pid}/autogroup").write_text("19")
            burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
                       for _ in range(2)]
            deadline = time.monotonic() + BURN_S
            shed = False
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError):  # the starved node may answer late: the figures below tell
                    shed = shed or ingest_health(run.base).get("shed_level", 0) > 0
                time.sleep(1.0)  # a sampling period, not a wait for something
            for b in burners:
                b.kill()
                b.wait()
            after = eventually(lambda: (h := ingest_health(run.base))["shed_keyframes"] > 0 and h, 20,
                               "keyframes shed")
            assert shed or after["shed_level"] > 0 or after["shed_keyframes"] > 0
            assert after["packets"] > before["packets"] and after["recording_segments"] > before["recording_segments"]
            assert after["recording_dropped_packets"] == before["recording_dropped_packets"], after
            alerts = eventually(lambda: rows(db, "SELECT kind, subject FROM alerts WHERE kind = 'overloaded'"), 20,
                                "an overloaded node alert")
            assert len(alerts) == 1
            bad = rows(db, "SELECT camera, state, reason, start_ms FROM status_intervals WHERE state = 'offline' "
                           "AND (end_ms IS NULL OR end_ms > ?)", start_ms)
            assert bad == [], run.log_tail(3000)
            run.stop()
        except BaseException:
            for b in burners:
                b.kill()
            if run.proc.poll() is None:
                run.kill_group()
            raise
    segs = rows(db, "SELECT camera, COUNT(*) FROM segments WHERE start_ms > ? GROUP BY camera", start_ms - 5000)
    assert len(segs) == N_CAMS  # every camera went on being recorded
