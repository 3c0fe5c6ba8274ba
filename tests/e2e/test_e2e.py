"""End to end: a real RTSP simulator process, `cctv run` as a subprocess, the HTTP API, the SQLite file.

Switches one camera through offline (404), stalled (session open, no media), black, and back; checks that
the API shows each state with its reason in time and that the store holds exactly those intervals.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cctv.config import load_config
from cctv.store import Store
from streams.sim import SimulatorProcess
from tests.helpers.e2e import cameras, cctv_run, expect_camera
from tests.helpers.eventually import eventually
from tests.helpers.servers import free_port, gst_rtsp_missing

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]

CAMS = ["kota-baru/paal-lima/rt-07/cam-1", "kota-baru/paal-lima/rt-07/cam-2", "kota-baru/suka-karya/rt-01/cam-1"]
OFFLINE_AFTER_S = 5.0


def write_config(tmp_path: Path, rtsp_port: int, control_port: int) -> Path:
    def cam(path: str, seed: int) -> str:
        slug = path.split("/")[-1]
        return f"""
              - slug: {slug}
                name: Kamera {slug}
                url: rtsp://127.0.0.1:{rtsp_port}/{path}
                sim: {{scene: street, seed: {seed}}}"""

    text = f"""
site: {{name: Kota Uji}}
data_dir: data
ingest: {{connect_timeout_s: 3, stall_timeout_s: 2.5, backoff_initial_s: 0.2, backoff_max_s: 1,
          snapshot_interval_s: 1}}
status: {{offline_after_s: {OFFLINE_AFTER_S}, degraded_after_s: 2, recover_after_s: 2}}
recording: {{segment_s: 4}}
sim: {{rtsp_port: {rtsp_port}, control_port: {control_port}, clip_seconds: 4}}
kecamatan:
  - slug: kota-baru
    name: Kota Baru
    kelurahan:
      - slug: paal-lima
        name: Paal Lima
        rt:
          - slug: rt-07
            name: RT 07
            cameras:{cam(CAMS[0], 1)}{cam(CAMS[1], 2)}
      - slug: suka-karya
        name: Suka Karya
        rt:
          - slug: rt-01
            name: RT 01
            cameras:{cam(CAMS[2], 1)}
"""
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def sim_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sim-cache")


def test_city_comes_online_and_follows_faults(tmp_path, sim_cache):
    if why := gst_rtsp_missing():
        pytest.skip(why)
    rtsp_port, control_port, web_port = free_port(), free_port(), free_port()
    cfg_path = write_config(tmp_path, rtsp_port, control_port)
    config = load_config(cfg_path)
    with SimulatorProcess(config, sim_cache, tmp_path / "truth.jsonl") as sim, \
            cctv_run(cfg_path, tmp_path / "data", tmp_path / "run.log", web_port) as base:
        eventually(
            lambda: (c := cameras(base)) and all(c[p]["state"] == "online" for p in CAMS),
            60, "every camera online",
        )
        cam = CAMS[0]

        def expect(state: str, reason: str, deadline: float) -> dict:
            return expect_camera(base, cam, state, reason, deadline)

        switched = time.time()
        sim.set_state(cam, "offline")
        got = expect("offline", "not_found", OFFLINE_AFTER_S + 6)
        assert got["since_ms"] >= switched * 1000 - 1500  # dated from the last packet, not from start
        sim.set_state(cam, "normal")
        expect("online", "", 15)
        sim.set_state(cam, "stalled")
        expect("offline", "stalled", OFFLINE_AFTER_S + 6)
        sim.set_state(cam, "normal")
        expect("online", "", 15)
        sim.set_state(cam, "black")
        expect("degraded", "black", 15)
        sim.set_state(cam, "normal")
        expect("online", "", 15)
        others = cameras(base)
        assert all(others[p]["state"] == "online" for p in CAMS[1:])
        assert "T" in got["since"] and got["since"].endswith("Z")
    output = (tmp_path / "run.log").read_text(errors="replace")
    store = Store(f"sqlite:///{tmp_path / 'data' / 'cctv.sqlite3'}")
    try:
        rows = store.intervals(cam)
        assert [(r.state, r.reason) for r in rows] == [
            ("online", ""), ("offline", "not_found"), ("online", ""), ("offline", "stalled"),
            ("online", ""), ("degraded", "black"), ("online", ""),
        ], output[-3000:]
        assert all(a.end_ms == b.start_ms for a, b in zip(rows, rows[1:], strict=False))
        assert store.open_intervals() == {}  # a clean shutdown closes every interval
        for other in CAMS[1:]:
            assert [(r.state, r.reason) for r in store.intervals(other)] == [("online", "")]
        check_recordings(store, tmp_path / "data" / "recordings", rows)
    finally:
        store.close()


def check_recordings(store: Store, root: Path, cam_rows) -> None:
    """Segments tile time while a camera is up (no gap over one frame, no overlap); its outages are gaps."""
    from cctv.recording import coverage
    from cctv.store.segments import segments
    from streams.recording.maintenance import files_under

    assert {s.path for s in segments(store, include_garbage=True)} == set(files_under(root))
    steady = segments(store, CAMS[1])
    assert len(steady) >= 5
    for a, b in zip(steady, steady[1:], strict=False):
        assert 0 <= b.start_ms - a.end_ms <= 100, (a, b)
    broken = segments(store, CAMS[0])
    _spans, gaps = coverage(broken, broken[0].start_ms, broken[-1].end_ms, tolerance_ms=100)
    for outage in [r for r in cam_rows if r.state == "offline"]:
        # every outage lies within an explicit gap of the recording (its dating may be a frame apart)
        assert any(g.start_ms <= outage.start_ms + 200 and outage.end_ms - 200 <= g.end_ms for g in gaps), (
            outage, gaps)
