"""Starts and stops the camera workers of this node and reports their health.

For the walking skeleton a node owns every enabled camera and runs one worker thread each; sharding across
processes and nodes comes with the city-scale ingest work (docs/ingest.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from cctv.analysis.analyzer import CheckParams, polygons
from cctv.channel import DropOldestChannel
from cctv.clock import Clock
from cctv.config.models import Camera, Config
from cctv.sites import CameraSite, Sites
from cctv.snapshots import SnapshotStore
from streams.opener import OpenParams, PyAVRtspOpener, StreamOpener
from streams.recorder import SegmentRecorder
from streams.worker import CameraWorker, WorkerParams

log = logging.getLogger(__name__)


def worker_params(config: Config, decode: str | None = None) -> WorkerParams:
    ing = config.ingest
    return WorkerParams(
        open=OpenParams(connect_timeout_s=ing.connect_timeout_s, read_timeout_s=ing.stall_timeout_s),
        decode=decode or ing.decode,
        sample_fps=ing.sample_fps,
        backoff_initial_s=ing.backoff_initial_s,
        backoff_max_s=ing.backoff_max_s,
        snapshot_width=ing.snapshot_width,
        snapshot_interval_s=ing.snapshot_interval_s,
    )


def check_params(config: Config, camera: Camera | None = None) -> CheckParams:
    """The checks' parameters for ``camera`` (its masks and expected fps), or the site defaults."""
    c = config.checks
    fields = {name: getattr(c, name) for name in type(c).model_fields if name in CheckParams.__dataclass_fields__}
    return CheckParams(
        analysis_width=config.ingest.analysis_width,
        masks=polygons(camera.masks) if camera is not None else (),
        expected_fps=(camera.expected_fps or 0.0) if camera is not None else 0.0,
        **fields,
    )


def config_cameras(config: Config) -> dict[str, Camera]:
    """Every camera of the config by its path (the Camera model carries the per-camera check settings)."""
    return {
        f"{k.slug}/{kl.slug}/{rt.slug}/{cam.slug}": cam
        for k in config.kecamatan
        for kl in k.kelurahan
        for rt in kl.rt
        for cam in rt.cameras
    }


class Supervisor:
    def __init__(
        self,
        config: Config,
        sites: Sites,
        out: DropOldestChannel[Any],
        snapshots: SnapshotStore,
        clock: Clock,
        opener: StreamOpener | None = None,
        recorder_for: Callable[[CameraSite], SegmentRecorder | None] | None = None,
    ) -> None:
        opener = opener or PyAVRtspOpener()
        models = config_cameras(config)
        self.out = out
        self.workers: dict[str, CameraWorker] = {
            cam.path: CameraWorker(
                cam.path, cam.url, opener, worker_params(config, cam.decode),
                check_params(config, models.get(cam.path)), out, snapshots, clock,
                recorder_for(cam) if recorder_for is not None else None,
            )
            for cam in sites.cameras
            if cam.enabled
        }

    def start(self) -> None:
        for w in self.workers.values():
            w.start()
        log.info("started %d camera workers", len(self.workers))

    def stop(self, timeout: float = 3.0) -> None:
        """Signal every worker, then wait for them all against one deadline."""
        for w in self.workers.values():
            w.stop()
        deadline = time.monotonic() + timeout
        stuck = [p for p, w in self.workers.items() if not w.join(max(0.0, deadline - time.monotonic()))]
        if stuck:
            # a read blocked inside FFmpeg ends at its read timeout; the threads are daemons
            log.info("%d workers still finishing a blocked read at shutdown", len(stuck))

    def health(self) -> dict[str, Any]:
        alive = sum(1 for w in self.workers.values() if w.alive)
        return {
            "workers": len(self.workers),
            "workers_alive": alive,
            "channel_dropped": self.out.dropped,
            "channel_queued": len(self.out),
            "packets": sum(w.stats.packets for w in self.workers.values()),
            "reconnects": sum(w.stats.reconnects for w in self.workers.values()),
            **self._recording_health(),
        }

    def _recording_health(self) -> dict[str, Any]:
        recs = [w.recorder.stats for w in self.workers.values() if w.recorder is not None]
        return {
            "recording_cameras": len(recs),
            "recording_segments": sum(r.segments for r in recs),
            "recording_dropped_packets": sum(r.dropped_packets for r in recs),
            "recording_errors": sum(r.errors for r in recs),
            "recording_paused": sorted({r.paused for r in recs if r.paused}),
        }
