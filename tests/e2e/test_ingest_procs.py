"""`cctv run` spreads cameras over ingest processes: a killed process comes back with its cameras, and a
50-camera city stays online without a drop for a minute (real simulator, real RTSP, real processes)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from cctv.config import load_config
from streams.sim import SimulatorProcess
from tests.helpers.city import camera_paths, write_city
from tests.helpers.e2e import cameras, cctv_run, get_json
from tests.helpers.eventually import eventually
from tests.helpers.servers import free_port, gst_rtsp_missing

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]


def healthz(base: str) -> dict:
    return get_json(f"{base}/healthz", base)["ingest"]


def all_online(base: str, paths: list[str]) -> bool:
    c = cameras(base)
    return bool(c) and all(c.get(p, {}).get("state") == "online" for p in paths)


def test_a_killed_ingest_process_is_restarted_and_its_cameras_return(tmp_path):
    if why := gst_rtsp_missing():
        pytest.skip(why)
    paths = camera_paths(4)
    cfg_path = write_city(tmp_path, free_port(), free_port(), 4, extra="recording: {enabled: false}")
    with SimulatorProcess(load_config(cfg_path), tmp_path / "cache", tmp_path / "truth.jsonl"), \
            cctv_run(cfg_path, tmp_path / "data", tmp_path / "run.log", free_port(), ("--ingest-procs", "2")) as base:
        eventually(lambda: all_online(base, paths), 60, "every camera online")
        h = healthz(base)
        assert h["procs"] == 2 and h["procs_alive"] == 2 and h["clients"] == {"native": 4, "ffmpeg": 0}
        victim = h["proc_pids"][0]
        os.kill(victim, signal.SIGKILL)
        h2 = eventually(lambda: (x := healthz(base))["proc_restarts"] >= 1 and x["procs_alive"] == 2
                        and victim not in x["proc_pids"] and x, 30, "the ingest process to be restarted")
        assert None not in h2["proc_pids"]
        packets = h2["packets"]
        eventually(lambda: healthz(base)["cameras_receiving"] == 4 and healthz(base)["packets"] > packets, 30,
                   "every camera receiving again")
        eventually(lambda: all_online(base, paths), 30, "every camera online again")
    log = (tmp_path / "run.log").read_text()
    assert "exited with code -9; restarting" in log


def test_fifty_cameras_stay_online_for_a_minute_without_a_drop(tmp_path):
    if why := gst_rtsp_missing():
        pytest.skip(why)
    paths = camera_paths(50)
    cfg_path = write_city(tmp_path, free_port(), free_port(), 50, extra="recording: {enabled: false}")
    with SimulatorProcess(load_config(cfg_path), tmp_path / "cache", tmp_path / "truth.jsonl"), \
            cctv_run(cfg_path, tmp_path / "data", tmp_path / "run.log", free_port()) as base:
        eventually(lambda: all_online(base, paths), 90, "all 50 cameras online")
        # the ingest process reports its figures every 2 s: wait for a report made with every camera up
        first = eventually(lambda: (h := healthz(base))["cameras_receiving"] == 50 and h, 30, "a report of 50 receiving")
        end = time.monotonic() + 60
        while time.monotonic() < end:
            h = healthz(base)
            assert h["cameras_receiving"] == 50, h
            assert all_online(base, paths), {p: c["state"] for p, c in cameras(base).items() if c["state"] != "online"}
            time.sleep(2)  # a polling interval, not a wait for something to happen
        last = healthz(base)
    assert last["reconnects"] == first["reconnects"] and last["errors"] == first["errors"]  # none in the minute
    assert last["channel_dropped"] == 0 and last["proc_channel_dropped"] == 0
    assert last["samples_analysed"] - first["samples_analysed"] >= 50 * 25  # a keyframe every 2 s per camera
