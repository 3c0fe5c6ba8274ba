"""Ingest on this node: the ingest processes (streams.ingest.pool), and the status monitor fed by them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from pathlib import Path
from typing import Any

from cctv.alerts.model import DISK_FULL, DISK_LOW, Observation
from cctv.alerts.writer import AlertWriter, NodeWatch
from cctv.app.services import Services
from cctv.config.node import node_name
from cctv.recording import RetentionPolicy, recordings_root
from cctv.status.channel import Channel, droppable_bound
from cctv.status.machine import StatusParams
from cctv.status.messages import TOPIC_SEGMENT
from cctv.status.monitor import Monitor
from cctv.store.segments import NewSegment
from streams.ingest.pool import ShardPool, default_procs
from streams.recording.maintenance import RetentionTask, reconcile_recordings

log = logging.getLogger(__name__)


class IngestNode:
    def __init__(self, services: Services, procs: int | None = None, log_level: str = "INFO",
                 shard_module: str = "streams.ingest.shard") -> None:
        cfg = services.config
        self.services = services
        cameras = sum(1 for c in services.sites.cameras if c.enabled)
        self.channel: Channel[Any] = Channel(droppable_bound(cfg.ingest.queue_size, cameras))
        rec = cfg.recording
        self.recordings = Path(recordings_root(cfg.data_dir, rec.dir))
        self.retention = RetentionTask(
            self.recordings,
            services.store,
            RetentionPolicy(
                rec.retention_days,
                int(rec.quota_gb * 1e9) if rec.quota_gb else None,
                {c.path: c.retention_days for c in services.sites.cameras if c.retention_days},
            ),
            services.clock,
            rec.retention_check_s,
        )
        cameras = [c.path for c in services.sites.cameras if c.enabled]
        n = procs if procs else (cfg.ingest.procs or default_procs(len(cameras)))
        self.pool = ShardPool(
            cfg, cameras, n, self.recordings, self.channel, services.snapshots, self._on_segment,
            services.clock, self._reconcile if rec.enabled else None, log_level, shard_module,
        )
        st = cfg.status
        self.monitor = Monitor(
            cameras,
            StatusParams(st.offline_after_s, st.degraded_after_s, st.recover_after_s),
            self.channel,
            services.bus,
            services.clock,
            motion_hold_s=st.motion_hold_s,
            stats_every_s=st.stats_every_s,
        )
        self.node_alerts = AlertWriter(services.store, None, services.clock, services.alerts, node=NodeWatch(
            node_name(cfg.node), (DISK_FULL, DISK_LOW), self._observe_disk, rec.alert_clear_s,
            where=str(self.recordings),
        )) if rec.enabled else None
        self._tasks: list[asyncio.Task[Any]] = []
        services.health_probes.append(self.health)

    async def _observe_disk(self) -> dict[str, Observation]:
        """Disk full: some recorder is paused on ENOSPC. Nearly full: free space under warn_free_pct."""
        paused = tuple(self.pool.recording_paused())
        try:
            du = await asyncio.to_thread(shutil.disk_usage, self.recordings)
            free, total = du.free, du.total
        except OSError:
            free = total = None
        seen = {DISK_FULL: Observation(bool(paused), paused, free, total)}
        pct = self.services.config.recording.warn_free_pct
        low = pct > 0 and free is not None and bool(total) and free < total * pct / 100
        seen[DISK_LOW] = Observation(low, tuple(self.monitor_cameras) if low else (), free, total)
        return seen

    def _on_segment(self, seg: NewSegment) -> None:
        self.services.bus.publish(TOPIC_SEGMENT, seg)  # the store writer indexes it (never dropped)

    async def _reconcile(self, cameras: tuple[str, ...]) -> None:
        store = self.services.store
        await store.awrite(reconcile_recordings, self.recordings, store, cameras)

    async def start(self) -> None:
        self.channel.bind(asyncio.get_running_loop())
        if self.services.config.recording.enabled:
            # before any ingest process writes: finish what an unclean stop left
            store = self.services.store
            await store.awrite(reconcile_recordings, self.recordings, store)
        self._tasks = [
            asyncio.create_task(self.monitor.run(), name="monitor"),
            asyncio.create_task(self.monitor.run_ticks(), name="monitor-ticks"),
        ]
        if self.services.config.recording.enabled:
            self._tasks.append(asyncio.create_task(self.retention.run(), name="retention"))
        await self.pool.start()
        if self.node_alerts is not None:
            self.recordings.mkdir(parents=True, exist_ok=True)
            await self.node_alerts.start()
        log.info("ingest: %d cameras over %d processes", len(self.monitor_cameras), len(self.pool.shards))

    @property
    def monitor_cameras(self) -> list[str]:
        return self.pool.cameras

    async def stop(self) -> None:
        """Stop the ingest processes (they finish their segments), close the channel, drain the monitor."""
        if self.node_alerts is not None:
            await self.node_alerts.stop()
        await self.pool.stop()
        self.channel.close()
        monitor_task, *periodic = self._tasks
        for t in periodic:
            t.cancel()
        for t in periodic:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await monitor_task  # returns once the closed channel is empty

    def health(self) -> dict[str, Any]:
        return self.pool.health() | {
            "channel_dropped": self.channel.dropped,
            "channel_queued": len(self.channel),
            "channel_keep_high_water": self.channel.keep_high_water,
            "stats_published": self.monitor.stats_published,
            "monitor_handled": self.monitor.handled,
            "monitor_stalls": self.monitor.stalls,  # the node's own lateness, excused for its cameras
            "monitor_stalled_s": round(self.monitor.stalled_s, 1),
            "retention_deleted": self.retention.deleted,
            "retention_errors": self.retention.errors,
        } | (self.node_alerts.health() if self.node_alerts is not None else {})
