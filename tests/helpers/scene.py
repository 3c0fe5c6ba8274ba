"""The web tests' city as the cameras see it (tests/helpers/web.py's config): its five camera paths, the
FakeClock's start, a status change made as the monitor makes it, and a small JPEG for a snapshot."""

from __future__ import annotations

import cv2
import numpy as np

from cctv.app.services import Services
from cctv.status.messages import TOPIC_STATUS, State, StatusChange

CAM1 = "kota-baru/paal-lima/rt-07/cam-1"  # the one with a password in its URL
CAM2 = "kota-baru/paal-lima/rt-07/cam-2"
CAM3 = "kota-baru/paal-lima/rt-08/cam-1"
CAM4 = "kota-baru/simpang-tiga-sipin/rt-01/cam-1"
CAM5 = "telanaipura/pematang-sulur/rt-03/cam-1"
T0 = 1_767_225_600_000  # FakeClock's start: 2026-01-01T00:00:00Z = 07:00:00 WIB


def set_status(svc: Services, camera: str, state: State, reason: str = "", *, publish: bool = True) -> StatusChange:
    """A state change as the monitor makes it: on the bus (the live model follows it) and, as the store writer
    would, in the store. ``publish=False``: the live model and the store only (a scene set before the test)."""
    cam = svc.live.camera(camera)
    change = StatusChange(camera, state, reason, svc.clock.now_ms(), State(cam.state), cam.reason)
    svc.store.apply_status_change(change)
    if publish:
        svc.bus.publish(TOPIC_STATUS, change)
    else:
        svc.live.apply_status(change)
    return change


def jpeg(shade: int = 80) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((90, 160, 3), shade, np.uint8))
    assert ok
    return buf.tobytes()

