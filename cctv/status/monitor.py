"""The node's status loop: worker messages in, debounced status changes out — on the bus, and only there.

Runs on the event loop. Takes batches from the ingest channel and feeds each camera's ``CameraStatus``.
Publishes ``StatusChange`` and ``MotionChange`` (never-dropped topics), ``SnapshotReady``, and — at most once
per ``stats_every_s`` — one ``StatsBatch`` with the stream stats and last sample of every camera that sent any
since the previous batch. It writes nothing else: the live model, the store writer, the alert writer, the
area aggregates and the sockets all follow the bus (DESIGN.md, "Data flow").

A tick every second lets cameras that went silent fall offline on time. Motion starts at the first sample
that sees it and ends ``motion_hold_s`` after the last one (the same rule as ``cctv analyze``:
cctv/analysis/events.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cctv.analysis.events import EventTracker
from cctv.clock import Clock
from cctv.status.bus import Bus
from cctv.status.channel import Channel
from cctv.status.machine import CameraStatus, StatusParams
from cctv.status.messages import (
    TOPIC_MOTION,
    TOPIC_SNAPSHOT,
    TOPIC_STATS,
    TOPIC_STATUS,
    CameraSample,
    CameraStats,
    MotionChange,
    SnapshotReady,
    StatsBatch,
    StatusChange,
    StreamStats,
    WorkerEvent,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Latest:
    stats: StreamStats | None = None
    sample: CameraSample | None = None


LATE_S = 2.0  # a tick this much later than due: the node itself stood still


class Monitor:
    def __init__(
        self,
        cameras: list[str],
        params: StatusParams,
        channel: Channel[Any],
        bus: Bus,
        clock: Clock,
        motion_hold_s: float = 10.0,
        stats_every_s: float = 5.0,
    ) -> None:
        self.channel = channel
        self.bus = bus
        self.clock = clock
        self.stats_every_s = stats_every_s
        mono, ms = clock.monotonic(), clock.now_ms()
        self.params, self.motion_hold_s = params, motion_hold_s
        self.status = {c: CameraStatus(c, params, mono, ms) for c in cameras}
        self._packets: dict[str, int] = {}
        self._motion = {c: EventTracker("motion", motion_hold_s) for c in cameras}  # on monotonic seconds
        self._motion_last_ms: dict[str, int] = {}  # wall time of each camera's last sample that saw motion
        self._latest: dict[str, _Latest] = {}  # cameras with news for the next stats batch
        self._stats_due_mono = mono + stats_every_s
        self.handled = 0
        self.unknown = 0
        self.stats_published = 0
        self.stalls = 0  # times this node's own tick came LATE_S or more late: not held against the cameras
        self.stalled_s = 0.0

    # -- cameras that come and go (an ingest node among many) ------------------------------------------

    def add(self, camera: str) -> None:
        """Watch ``camera`` from now on, from no verdict (its first one is published with no ``previous``)."""
        if camera not in self.status:
            self.status[camera] = CameraStatus(camera, self.params, self.clock.monotonic(), self.clock.now_ms())
            self._motion[camera] = EventTracker("motion", self.motion_hold_s)

    def remove(self, camera: str) -> None:
        """Stop watching ``camera`` (another node takes it): motion in progress ends now, no verdict follows.
        Its open interval stays for the next holder to close where its watch began."""
        if self.status.pop(camera, None) is None:
            return
        ended = self._motion.pop(camera).finish()
        if ended is not None:
            self._end_motion(camera, ended.peak, self.clock.now_ms())
        self._motion_last_ms.pop(camera, None)
        self._packets.pop(camera, None)
        self._latest.pop(camera, None)

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
            self._latest.setdefault(camera, _Latest()).stats = message
            if message.packets > self._packets.get(camera, 0):
                self._packets[camera] = message.packets
                self._publish(st.on_data(mono, message.last_packet_ms or message.t_ms))
        elif isinstance(message, CameraSample):
            self._publish(st.on_sample(mono, message.t_ms, message.flags))
            self._latest.setdefault(camera, _Latest()).sample = message
            self._track_motion(message, mono)
        elif isinstance(message, SnapshotReady):
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
            ended = self._motion[camera].tick(mono)
            if ended is not None:
                self._end_motion(camera, ended.peak)
        if mono >= self._stats_due_mono:
            self._stats_due_mono = mono + self.stats_every_s
            self.publish_stats()

    def publish_stats(self) -> StatsBatch | None:
        """One ``stats`` message with the latest of each camera heard from since the last one."""
        if not self._latest:
            return None
        latest, self._latest = self._latest, {}
        items = tuple(
            CameraStats(
                cam, v.stats,
                v.sample.motion_score if v.sample else 0.0,
                v.sample.t_ms if v.sample else None,
                v.sample.luma_mean if v.sample else None,
            )
            for cam, v in latest.items()
        )
        batch = StatsBatch(self.clock.now_ms(), items)
        self.bus.publish(TOPIC_STATS, batch)
        self.stats_published += 1
        return batch

    def _track_motion(self, sample: CameraSample, mono: float) -> None:
        for ev in self._motion[sample.camera].update(mono, sample.motion, sample.motion_score):
            if ev.end is None:
                self._motion_change(MotionChange(sample.camera, True, sample.motion_score, sample.t_ms))
            else:  # a sample after the hold closed the previous one (before the tick did)
                self._end_motion(sample.camera, ev.peak)
        if sample.motion:
            self._motion_last_ms[sample.camera] = sample.t_ms

    def _end_motion(self, camera: str, peak: float, at_ms: int | None = None) -> None:
        """Motion is over: dated at its last sample that saw it (a hold never lengthens an event)."""
        last = self._motion_last_ms.get(camera, self.clock.now_ms())
        self._motion_change(MotionChange(camera, False, peak, last if at_ms is None else min(at_ms, last)))

    def _motion_change(self, change: MotionChange) -> None:
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
            self.bus.publish(TOPIC_STATUS, change)
            if change.state != "online" or change.previous is None:
                ended = self._motion[change.camera].finish()
                if ended is not None:
                    self._end_motion(change.camera, ended.peak, change.since_ms)

    # -- tasks ---------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume the channel until it is closed and empty."""
        while batch := await self.channel.get_batch():
            self._handle_all(batch)

    def excuse(self, seconds: float) -> None:
        """This node stood still for ``seconds``: no camera is silent for that long because of it."""
        for st in self.status.values():
            st.excuse(seconds)
        self.stalls += 1
        self.stalled_s += seconds
        log.warning("monitor: this node stood still for %.1f s (overloaded or paused); that time is not counted "
                    "as any camera's silence", seconds)

    def excuse_cameras(self, cameras: Iterable[str], seconds: float) -> None:
        """The ingest process that reads ``cameras`` stood still for ``seconds`` (it sent nothing at all, not
        even its health report): that time is not their silence either."""
        for camera in cameras:
            st = self.status.get(camera)
            if st is not None:
                st.excuse(seconds)

    def drain(self) -> None:
        """Handle what is queued now, so no sign of life waiting in the channel is missed by a verdict."""
        self._handle_all(self.channel.take())

    def _handle_all(self, messages: list[Any]) -> None:
        for message in messages:
            try:
                self.handle(message)
            except Exception:  # noqa: BLE001 - one bad message never stops the monitor
                log.exception("monitor: could not handle %r", type(message).__name__)

    async def run_ticks(self, every_s: float = 1.0, before_tick: Callable[[float], None] | None = None) -> None:
        """A tick every ``every_s``. A tick that comes ``LATE_S`` or more after it was due means the node itself
        was late (CPU saturated, paused): that time is excused for every camera, and what is queued is handled
        before any verdict — the node never blames cameras for its own lateness. ``before_tick(mono)`` runs
        first (the ingest node excuses the cameras of an ingest process that stands still)."""
        due = self.clock.monotonic() + every_s
        while True:
            await asyncio.sleep(max(0.0, due - self.clock.monotonic()))
            now = self.clock.monotonic()
            if now - due >= LATE_S:
                self.excuse(now - due)
            due = now + every_s
            try:
                self.drain()
                if before_tick is not None:
                    before_tick(self.clock.monotonic())
                self.tick()
            except Exception:  # noqa: BLE001
                log.exception("monitor: tick failed")
