"""The live model of every camera: state, reason, since, motion, stream stats — a subscriber of the bus.

It is never written by the monitor directly: it follows the bus (``status``, ``motion``, ``snapshot``,
``stats``), so a web-only process holds the same model as an ingest node. At start it subscribes first, then
loads each camera's open status interval and open motion event from the store, then applies what arrived
meanwhile (:meth:`start`); reads apply what is queued first (:meth:`sync`), so a page never shows a state older
than the last one published on this process's bus.

Listeners (``on_change``) learn which camera's state, reason or motion changed: the area aggregates
(cctv/rollup/aggregates.py) keep their counts from them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cctv.rollup.tally import Counts, count_states
from cctv.sites import CameraSite, Sites
from cctv.status.bus import Bus, Subscription
from cctv.status.messages import (
    TOPIC_MOTION,
    TOPIC_SNAPSHOT,
    TOPIC_STATS,
    TOPIC_STATUS,
    CameraStats,
    MotionChange,
    Reason,
    SnapshotNews,
    SnapshotReady,
    State,
    StatsBatch,
    StatusChange,
    StreamStats,
)

log = logging.getLogger(__name__)

QUEUE = 4096  # droppable messages (snapshots, stats batches) queued before the oldest goes


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
    def __init__(self, sites: Sites, started_ms: int, bus: Bus) -> None:
        self.sites = sites
        self._cams: dict[str, CameraLive] = {
            c.path: CameraLive(site=c, since_ms=started_ms) for c in sites.cameras if c.enabled
        }
        self.listeners: list[Callable[[str], None]] = []
        # subscribed from the start: nothing published after this model exists passes it by
        self._sub: Subscription = bus.subscribe(TOPIC_STATUS, TOPIC_MOTION, TOPIC_SNAPSHOT, TOPIC_STATS,
                                                maxlen=QUEUE, remote=True)
        self._task: asyncio.Task[None] | None = None
        self.applied = 0
        self.stale = 0  # status changes older than the camera's state, ignored (a message re-sent after a reconnect)

    # -- following the bus -----------------------------------------------------------------------------

    async def start(self, load: Callable[[], Any]) -> None:
        """``await load()`` (→ the store's open intervals, cameras with an open motion event), apply what the
        bus brought meanwhile, then follow the bus on a task."""
        self._sub.channel.bind(asyncio.get_running_loop())
        intervals, motion = await load()
        self.load(intervals, motion)
        self.sync()
        self._task = asyncio.create_task(self._follow(), name="live-model")

    async def reload(self, load: Callable[[], Any]) -> None:
        """Read the store's open intervals again (the bus between nodes was lost for a while: what it did not
        carry meanwhile is in the store)."""
        intervals, motion = await load()
        self.sync()
        self.load(intervals, motion)

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._sub.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def dropped(self) -> int:
        """Droppable messages (snapshots, stats) this model never saw because it fell behind."""
        return self._sub.dropped

    def load(self, intervals: Any, motion: Any = ()) -> None:
        """The store's open intervals (camera, state, reason, start_ms) and cameras with an open motion event."""
        for r in intervals:
            cam = self._cams.get(r.camera)
            if cam is not None:
                cam.state, cam.reason, cam.since_ms = str(r.state), r.reason, r.start_ms
                self._changed(cam.path)
        for camera in motion:
            cam = self._cams.get(camera)
            if cam is not None and cam.state != State.OFFLINE:
                cam.motion = True
                self._changed(cam.path)

    def sync(self) -> None:
        """Apply what the bus has queued for this model now (on the loop's thread)."""
        for topic, message in self._sub.take():
            self.apply(topic, message)

    async def _follow(self) -> None:
        while batch := await self._sub.get_batch():
            for topic, message in batch:
                self.apply(topic, message)

    def apply(self, topic: str, message: Any) -> None:
        try:
            if isinstance(message, StatusChange):
                self.apply_status(message)
            elif isinstance(message, MotionChange):
                self.apply_motion(message)
            elif isinstance(message, SnapshotReady):
                self.apply_snapshot(message.camera, message.t_ms)
            elif isinstance(message, SnapshotNews):
                for item in message.items:
                    self.apply_snapshot(item.camera, item.t_ms)
            elif isinstance(message, StatsBatch):
                for item in message.items:
                    self.apply_camera_stats(item)
            self.applied += 1
        except Exception:  # noqa: BLE001 - one bad message never stops the model
            log.exception("live model: could not apply %s", type(message).__name__)

    # -- applying (also what a test does to set a scene) -----------------------------------------------

    def apply_status(self, change: StatusChange) -> None:
        cam = self._cams.get(change.camera)
        if cam is None:
            return
        since = change.since_ms
        if since < cam.since_ms and cam.reason != Reason.STARTING:  # a first verdict may predate this model
            if change.state is not State.UNMONITORED:
                self.stale += 1  # older than what it shows (re-sent after a reconnect): never a step back
                return
            since = cam.since_ms  # a taker dates the gap from the lost node's last renewal, as the store clamps
        cam.state, cam.reason, cam.since_ms = str(change.state), change.reason, since
        if change.state is State.OFFLINE:
            cam.motion = False
        self._changed(cam.path)

    def apply_motion(self, change: MotionChange) -> None:
        """Motion as the monitor decided it (with its hold time), the same truth tiles get over the bus."""
        cam = self._cams.get(change.camera)
        if cam is not None and cam.motion != change.motion:
            cam.motion = change.motion
            self._changed(cam.path)

    def apply_camera_stats(self, item: CameraStats) -> None:
        cam = self._cams.get(item.camera)
        if cam is None:
            return
        if item.stats is not None:
            cam.stats = item.stats
        if item.last_sample_ms is not None:
            cam.motion_score, cam.last_sample_ms, cam.luma_mean = item.motion_score, item.last_sample_ms, item.luma_mean

    def apply_stats(self, stats: StreamStats) -> None:
        self.apply_camera_stats(CameraStats(stats.camera, stats))

    def apply_snapshot(self, camera: str, t_ms: int) -> None:
        cam = self._cams.get(camera)
        if cam is not None:
            cam.snapshot_ms = t_ms

    def _changed(self, camera: str) -> None:
        for fn in self.listeners:
            fn(camera)

    # -- reads -----------------------------------------------------------------------------------------

    def camera(self, path: str) -> CameraLive:
        self.sync()
        return self._cams[path]

    def cameras(self, area_path: str = "") -> list[CameraLive]:
        """Cameras under an area, in config order ('' is the city). KeyError for an unknown area."""
        self.sync()
        area = self.sites.area(area_path)
        return [self._cams[p] for p in area.cameras if p in self._cams]

    def get(self, path: str) -> CameraLive | None:
        self.sync()
        return self._cams.get(path)

    def peek(self, path: str) -> CameraLive | None:
        """Like :meth:`get` without applying what is queued (for a listener, in the middle of a sync)."""
        return self._cams.get(path)

    def counts(self, area_path: str = "") -> Counts:
        """The area counted camera by camera (the web reads cctv/rollup/aggregates.py instead; for checks)."""
        return count_states((c.state, c.reason, c.motion) for c in self.cameras(area_path))
