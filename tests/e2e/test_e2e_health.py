"""End to end: the simulator covers, freezes (and blurs) cameras; `cctv run` reports degraded with that reason.

A real RTSP simulator process, `cctv run` as a subprocess, the HTTP API. The camera first runs normal long
enough for its sharpness baseline and reference view to be learned (checks.baseline_warmup_s).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cctv.config import load_config
from streams.sim import SimulatorProcess
from tests.helpers.e2e import cameras, cctv_run, expect_camera
from tests.helpers.eventually import eventually
from tests.helpers.servers import free_port, gst_rtsp_missing

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]

FAULTS = {"kota-baru/paal-lima/rt-07/cam-1": "covered", "kota-baru/paal-lima/rt-07/cam-2": "frozen",
          "kota-baru/paal-lima/rt-07/cam-3": "covered"}
OTHER = "kota-baru/paal-lima/rt-07/cam-4"
CAMS = [*FAULTS, OTHER]


def write_config(tmp_path: Path, rtsp_port: int, control_port: int) -> Path:
    def cam(slug: str, seed: int) -> str:
        return f"""
              - slug: {slug}
                name: Kamera {slug}
                url: rtsp://127.0.0.1:{rtsp_port}/kota-baru/paal-lima/rt-07/{slug}
                sim: {{scene: street, seed: {seed}}}"""

    path = tmp_path / "config.yaml"
    path.write_text(f"""
site: {{name: Kota Uji}}
data_dir: data
ingest: {{connect_timeout_s: 3, stall_timeout_s: 2.5, backoff_initial_s: 0.2, backoff_max_s: 1}}
status: {{offline_after_s: 5, degraded_after_s: 2, recover_after_s: 2}}
checks: {{baseline_warmup_s: 6}}
recording: {{enabled: false}}
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
            cameras:{cam("cam-1", 1)}{cam("cam-2", 2)}{cam("cam-3", 3)}{cam("cam-4", 4)}
""")
    return path


def test_covered_and_frozen_are_reported_with_their_reason(tmp_path, tmp_path_factory):
    _scenario(tmp_path, tmp_path_factory, FAULTS)


def test_blurred_is_reported_with_its_reason(tmp_path, tmp_path_factory):
    _scenario(tmp_path, tmp_path_factory, {c: "blurred" for c in FAULTS})


def _scenario(tmp_path: Path, tmp_path_factory, faults: dict[str, str]) -> None:
    if why := gst_rtsp_missing():
        pytest.skip(why)
    rtsp_port, control_port, web_port = free_port(), free_port(), free_port()
    cfg_path = write_config(tmp_path, rtsp_port, control_port)
    config = load_config(cfg_path)
    cache = tmp_path_factory.mktemp("sim-cache-health")
    with SimulatorProcess(config, cache, tmp_path / "truth.jsonl") as sim, \
            cctv_run(cfg_path, tmp_path / "data", tmp_path / "run.log", web_port) as base:
        eventually(lambda: (c := cameras(base)) and all(c[p]["state"] == "online" for p in CAMS),
                   60, "every camera online")
        # each camera learns its baseline (6 s of samples) while normal, and stays online throughout
        warm_from = time.monotonic()
        eventually(lambda: _all_online(base) and time.monotonic() - warm_from >= 10, 20, "warm-up online")
        for cam, state in faults.items():
            sim.set_state(cam, state)
        for cam, state in faults.items():
            expect_camera(base, cam, "degraded", state, 25)
        for cam in faults:
            sim.set_state(cam, "normal")
        for cam in faults:
            expect_camera(base, cam, "online", "", 20)
        assert cameras(base)[OTHER]["state"] == "online"


def _all_online(base: str) -> bool:
    cams = cameras(base)
    bad = {p: (c["state"], c["reason"]) for p, c in cams.items() if c["state"] != "online"}
    assert not bad, f"a false alarm during the warm-up: {bad}"
    return True
