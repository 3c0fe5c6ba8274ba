"""The live model of every camera on this node: state, reason, since, motion, stream stats.

Fed from the bus on the event loop (status changes, samples, stats, snapshots); read by the web. Counts per
area come from ``cctv.rollup.tally`` over the area's cameras.
"""

from __future__ import annotations

from dataclasses import dataclass

from cctv.rollup.tally import Counts, count_states
from cctv.sites import CameraSite, Sites
from cctv.status.messages import CameraSample, MotionChange, Reason, State, StatusChange, StreamStats


@dataclass(slots=True)
class CameraLive:
    site: CameraSite
    state: str = State.OFFLINE
    reason: str = Reason.STARTING
    since_ms: int = 0
    motion: bool = False
    motion_score: float = 0.0
    last_sample_ms: int | None = None
    luma_mean: float | None = None
    stats: StreamStats | None = None
    snapshot_ms: int | None = None

    @property
    def path(self) -> str:
        return self.site.path

    def as_dict(self) -> dict[str, object]:
        s = self.stats
        return {
            "path": self.site.path,
            "name": self.site.name,
            "state": str(self.state),
            "reason": str(self.reason),
            "since_ms": self.since_ms,
            "motion": self.motion,
            "motion_score": self.motion_score,
            "last_sample_ms": self.last_sample_ms,
            "snapshot_ms": self.snapshot_ms,
            "stats": None
            if s is None
            else {
                "fps": s.fps,
                "bitrate_bps": s.bitrate_bps,
                "keyframe_interval_s": s.keyframe_interval_s,
                "last_packet_ms": s.last_packet_ms,
                "reconnects": s.reconnects,
                "drops": s.drops,
                "width": s.width,
                "height": s.height,
                "codec": s.codec,
                "decode_mode": s.decode_mode,
            },
        }


class LiveModel:
    def __init__(self, sites: Sites, started_ms: int) -> None:
        self.sites = sites
        self._cams: dict[str, CameraLive] = {
            c.path: CameraLive(site=c, since_ms=started_ms) for c in sites.cameras if c.enabled
        }

    def apply_status(self, change: StatusChange) -> None:
        cam = self._cams.get(change.camera)
        if cam is None:
            return
        cam.state, cam.reason, cam.since_ms = str(change.state), change.reason, change.since_ms
        if change.state is State.OFFLINE:
            cam.motion = False

    def apply_sample(self, sample: CameraSample) -> None:
        cam = self._cams.get(sample.camera)
        if cam is None:
            return
        cam.motion_score = sample.motion_score
        cam.last_sample_ms, cam.luma_mean = sample.t_ms, sample.luma_mean

    def apply_motion(self, change: MotionChange) -> None:
        """Motion as the monitor decided it (with its hold time), the same truth tiles get over the bus."""
        cam = self._cams.get(change.camera)
        if cam is not None:
            cam.motion = change.motion

    def apply_stats(self, stats: StreamStats) -> None:
        cam = self._cams.get(stats.camera)
        if cam is not None:
            cam.stats = stats

    def apply_snapshot(self, camera: str, t_ms: int) -> None:
        cam = self._cams.get(camera)
        if cam is not None:
            cam.snapshot_ms = t_ms

    def camera(self, path: str) -> CameraLive:
        return self._cams[path]

    def cameras(self, area_path: str = "") -> list[CameraLive]:
        """Cameras under an area, in config order ('' is the city). KeyError for an unknown area."""
        area = self.sites.area(area_path)
        return [self._cams[p] for p in area.cameras if p in self._cams]

    def counts(self, area_path: str = "") -> Counts:
        return count_states((c.state, c.reason, c.motion) for c in self.cameras(area_path))
