"""The live model never steps a camera back: a status change re-sent after a reconnect (older than what it
shows) is ignored and counted; an ``unmonitored`` gap dated from a lost node's last renewal still applies."""

from __future__ import annotations

from cctv.sites import Sites
from cctv.status.bus import InProcessBus
from cctv.status.live_model import LiveModel
from cctv.status.messages import State, StatusChange
from tests.cctv.status.test_monitor import CAMS, config

CAM = CAMS[0]


def test_an_older_change_never_steps_a_camera_back() -> None:
    live = LiveModel(Sites(config()), 0, InProcessBus())
    live.apply_status(StatusChange(CAM, State.OFFLINE, "timeout", 1_000, None))
    live.apply_status(StatusChange(CAM, State.DEGRADED, "black", 5_000, State.OFFLINE))
    live.apply_status(StatusChange(CAM, State.OFFLINE, "timeout", 1_000, None))  # re-sent after a reconnect
    cam = live.camera(CAM)
    assert (cam.state, cam.reason, cam.since_ms, live.stale) == ("degraded", "black", 5_000, 1)
    live.apply_status(StatusChange(CAM, State.UNMONITORED, "node_lost", 4_000, State.DEGRADED))
    assert (cam.state, cam.since_ms) == ("unmonitored", 5_000)  # clamped, as the store clamps it
    live.apply_status(StatusChange(CAM, State.ONLINE, "", 5_000, State.UNMONITORED))  # the same instant: applied
    assert cam.state == "online"


def test_a_first_verdict_older_than_the_model_applies() -> None:
    """An ingest node that started before this web node dates its first verdict before the model existed."""
    live = LiveModel(Sites(config()), 10_000, InProcessBus())
    live.apply_status(StatusChange(CAM, State.OFFLINE, "refused", 2_000, None))
    assert (live.camera(CAM).state, live.camera(CAM).since_ms, live.stale) == ("offline", 2_000, 0)
