"""A full recording disk, for real: `cctv run` records onto a small tmpfs mounted in its own mount namespace
(``unshare -m``), with a ballast file taking most of it. When the disk fills, recording pauses with a node
alert in the store, the banner and the feed; ingest and status go on; the index holds only complete files.
Deleting the ballast (what a technician would do) lets recording resume and the alert close on its own."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cctv.config import load_config
from cctv.recording import PARTIAL_SUFFIX
from streams.sim import SimulatorProcess
from tests.helpers.city import camera_paths, write_city
from tests.helpers.crash import ADMIN_PASSWORD, CctvRun, all_rows, disk_files, ingest_health
from tests.helpers.eventually import eventually
from tests.helpers.servers import free_port, gst_rtsp_missing, login_opener

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]

N_CAMS = 2
TMPFS_KB = 6144
FREE_KB = 1200  # what the ballast leaves: a few seconds of two cameras


def mount_namespace_missing() -> str | None:
    """Why this machine cannot mount a private tmpfs (None when it can)."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True, text=True,
    )
    if probe.returncode != 0:
        return f"cannot mount a tmpfs in a private mount namespace: {probe.stderr.strip()[:200]}"
    return None


def in_small_disk(rec: Path) -> tuple[str, ...]:
    """A prefix that runs the command on a tmpfs of TMPFS_KB at ``rec``, all but FREE_KB taken by ``ballast``."""
    script = (
        f'mount -t tmpfs -o size={TMPFS_KB}k tmpfs "{rec}" && '
        f'head -c {(TMPFS_KB - FREE_KB) * 1024} /dev/zero > "{rec}/ballast" && exec "$@"'
    )
    return ("unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh")


def test_full_disk_pauses_recording_with_an_alert_ingest_goes_on_and_freeing_it_resumes(tmp_path):
    if why := gst_rtsp_missing() or mount_namespace_missing():
        pytest.skip(why)
    rec = tmp_path / "rec"
    rec.mkdir()
    cfg = write_city(
        tmp_path, free_port(), free_port(), N_CAMS,
        extra=f"recording: {{dir: {rec}, segment_s: 4, disk_full_retry_s: 2, alert_clear_s: 4}}",
    )
    data = tmp_path / "data"
    with SimulatorProcess(load_config(cfg), tmp_path / "cache", tmp_path / "truth.jsonl"):
        run = CctvRun.start(cfg, data, tmp_path / "run.log", free_port(), prefix=in_small_disk(rec))
        try:
            seen = Path(f"/proc/{run.proc.pid}/root") / str(rec).lstrip("/")  # the tmpfs, as the run sees it
            admin = login_opener(run.base, "admin", ADMIN_PASSWORD)

            def api(path: str) -> dict:
                with admin.open(run.base + path, timeout=5) as r:
                    return json.load(r)

            def open_disk_full() -> dict | None:
                return next((a for a in api("/api/node-alerts?open=1")["alerts"] if a["kind"] == "disk_full"), None)

            alert = eventually(open_disk_full, 90, lambda: f"a disk_full node alert; log: {run.log_tail(1500)}")
            assert set(alert["cameras"]) <= set(camera_paths(N_CAMS)) and alert["cameras"]
            assert alert["free_bytes"] < FREE_KB * 1024 and alert["total_bytes"] == TMPFS_KB * 1024
            health = ingest_health(run.base)
            assert health["recording_paused"] and health["recording_dropped_packets"] > 0
            assert "disk_full" in health["node_alerts_open"]
            # ingest and the checks go on: both cameras stay online while recording is paused
            eventually(lambda: ingest_health(run.base).get("cameras_receiving") == N_CAMS, 30, "both cameras live")
            states = {c["path"]: c["state"] for c in api("/api/cameras")}
            assert states == dict.fromkeys(camera_paths(N_CAMS), "online")

            def page(path: str) -> str:
                with admin.open(run.base + path, timeout=5) as r:
                    return r.read().decode()

            # the banner's copy of the open alerts is at most a few seconds old
            eventually(lambda: "node-banner-error" in page("/wall"), 15, "the disk-full banner on the tile wall")
            # the index never points at a missing or cut file
            files = disk_files(seen)
            for row in all_rows(data / "cctv.sqlite3"):
                assert files.get(row.path) == row.size_bytes, f"row {row.path} vs disk {files.get(row.path)}"
            rows_before = len(all_rows(data / "cctv.sqlite3"))

            (seen / "ballast").unlink()  # a technician frees the disk
            eventually(
                lambda: {r.camera for r in all_rows(data / "cctv.sqlite3")[rows_before:]} == set(camera_paths(N_CAMS)),
                60, "both cameras recording again",
            )
            closed = eventually(
                lambda: next((a for a in api("/api/node-alerts")["alerts"]
                              if a["id"] == alert["id"] and a["closed_ms"]), None),
                60, "the disk_full alert to close",
            )
            assert closed["closed_ms"] >= closed["opened_ms"]
            assert not ingest_health(run.base)["recording_paused"]
            files = disk_files(seen)
            for row in all_rows(data / "cctv.sqlite3"):
                assert files.get(row.path) == row.size_bytes, row.path
            assert not [f for f in files if f.endswith(PARTIAL_SUFFIX)][N_CAMS:], "more partials than cameras"
            run.stop()
        except BaseException:
            if run.proc.poll() is None:
                run.kill_group()
            raise
    log = run.log_tail(200_000)
    assert "disk full, recording paused" in log and "disk_full over after" in log
