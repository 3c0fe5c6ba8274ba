"""The node's status loop: worker messages in, debounced status changes out.

Runs on the event loop. Takes batches from the ingest channel, feeds each camera's ``CameraStatus`` and the
live model, and publishes ``StatusChange``, ``MotionChange``, ``SnapshotReady`` and ``StreamStats`` on the
bus. A tick every second lets cameras that went silent fall offline on time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from cctv.clock import Clock
from cctv.status.bus import Bus
from cctv.status.channel import DropOldestChannel
from cctv.status.live_model import LiveModel
from cctv.status.machine import CameraStatus, StatusParams
from cctv.status.messages import (
    TOPIC_MOTION,
    TOPIC_SNAPSHOT,
    TOPIC_STATS,
    TOPIC_STATUS,
    CameraSample,
    MotionChange,
    SnapshotReady,
    StatusChange,
    StreamStats,
    WorkerEvent,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Motion:
    active: bool = False
    last_seen_mono: float = 0.0
    peak: float = 0.0


class Monitor:
    def __init__(
        self,
        cameras: list[str],
        params: StatusParams,
        channel: DropOldestChannel[Any],
        bus: Bus,
        live: LiveModel,
        clock: Clock,
        motion_hold_s: float = 10.0,
    ) -> None:
        self.channel = channel
        self.bus = bus
        self.live = live
        self.clock = clock
        self.motion_hold_s = motion_hold_s
        mono, ms = clock.monotonic(), clock.now_ms()
        self.status = {c: CameraStatus(c, params, mono, ms) for c in cameras}
        self._packets: dict[str, int] = {}
        self._motion: dict[str, _Motion] = {c: _Motion() for c in cameras}
        self.handled = 0
        self.unknown = 0

    # -- message handling (pure with respect to I/O; tested directly) --------------------------------

    def handle(self, message: Any) -> None:
        self.handled += 1
        camera = getattr(message, "camera", None)
        st = self.status.get(camera) if camera is not None else None
        if st is None:
            self.unknown += 1
            return
        mono = self.clock.monotonic()
        if isinstance(message, StreamStats):
            self.live.apply_stats(message)
            self.bus.publish(TOPIC_STATS, message)
            if message.packets > self._packets.get(camera, 0):
                self._packets[camera] = message.packets
                self._publish(st.on_data(mono, message.last_packet_ms or message.t_ms))
        elif isinstance(message, CameraSample):
            self._publish(st.on_sample(mono, message.t_ms, message.flags))
            self.live.apply_sample(message)
            self._track_motion(message, mono)
        elif isinstance(message, SnapshotReady):
            self.live.apply_snapshot(message.camera, message.t_ms)
            self.bus.publish(TOPIC_SNAPSHOT, message)
        elif isinstance(message, WorkerEvent):
            if message.kind == "connected":
                self._publish(st.on_connected(mono, message.t_ms))
            else:
                self._packets.pop(camera, None)
                self._publish(st.on_disconnected(mono, message.t_ms, message.reason))
        else:
            self.unknown += 1

    def tick(self) -> None:
        mono, ms = self.clock.monotonic(), self.clock.now_ms()
        for camera, st in self.status.items():
            self._publish(st.tick(mono, ms))
            m = self._motion[camera]
            if m.active and mono - m.last_seen_mono >= self.motion_hold_s:
                self._end_motion(camera, m, ms)

    def _track_motion(self, sample: CameraSample, mono: float) -> None:
        m = self._motion[sample.camera]
        if sample.motion:
            m.last_seen_mono = mono
            m.peak = max(m.peak, sample.motion_score)
            if not m.active:
                m.active = True
                self._motion_change(MotionChange(sample.camera, True, sample.motion_score, sample.t_ms))

    def _end_motion(self, camera: str, m: _Motion, ms: int) -> None:
        self._motion_change(MotionChange(camera, False, m.peak, ms))
        m.active, m.peak = False, 0.0

    def _motion_change(self, change: MotionChange) -> None:
        self.live.apply_motion(change)
        self.bus.publish(TOPIC_MOTION, change)

    def _publish(self, changes: list[StatusChange]) -> None:
        for change in changes:
            log.info(
                "camera %s: %s%s (was %s)",
                change.camera,
                change.state,
                f" ({change.reason})" if change.reason else "",
                change.previous or "starting",
            )
            self.live.apply_status(change)
            self.bus.publish(TOPIC_STATUS, change)
            if change.state != "online" or change.previous is None:
                m = self._motion[change.camera]
                if m.active:
                    self._end_motion(change.camera, m, change.since_ms)

    # -- tasks ---------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume the channel until cancelled."""
        while True:
            batch = await self.channel.get_batch()
            for message in batch:
                try:
                    self.handle(message)
                except Exception:  # noqa: BLE001 - one bad message never stops the loop
                    log.exception("monitor: could not handle %r", type(message).__name__)
            if not batch:
                return  # channel closed

    async def run_ticks(self, every_s: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                self.tick()
            except Exception:  # noqa: BLE001
                log.exception("monitor: tick failed")
