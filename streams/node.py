"""Ingest on this node: the camera workers, their channel, and the status monitor that consumes it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from cctv.channel import DropOldestChannel
from cctv.monitor import Monitor
from cctv.recordings import RetentionPolicy, recordings_root
from cctv.services import Services
from cctv.sites import CameraSite
from cctv.status import StatusParams
from cctv.store.segments import add_segment
from streams.opener import StreamOpener
from streams.recorder import SegmentRecorder
from streams.recording_maintenance import RetentionTask, reconcile_recordings
from streams.supervisor import Supervisor

log = logging.getLogger(__name__)


class IngestNode:
    def __init__(self, services: Services, opener: StreamOpener | None = None) -> None:
        cfg = services.config
        self.services = services
        self.channel: DropOldestChannel[Any] = DropOldestChannel(cfg.ingest.queue_size * 8)
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
        self.supervisor = Supervisor(
            cfg, services.sites, self.channel, services.snapshots, services.clock, opener,
            self._recorder_for if rec.enabled else None,
        )
        st = cfg.status
        self.monitor = Monitor(
            list(self.supervisor.workers),
            StatusParams(st.offline_after_s, st.degraded_after_s, st.recover_after_s),
            self.channel,
            services.bus,
            services.live,
            services.clock,
        )
        self._tasks: list[asyncio.Task[Any]] = []
        services.health_probes.append(self.health)

    def _recorder_for(self, cam: CameraSite) -> SegmentRecorder | None:
        if not cam.record:
            return None
        store = self.services.store
        return SegmentRecorder(
            cam.path,
            self.recordings,
            lambda seg: store.submit_write(add_segment, store, seg),
            self.services.config.recording.segment_s,
        )

    async def start(self) -> None:
        self.channel.bind(asyncio.get_running_loop())
        if self.services.config.recording.enabled:
            # before any worker writes: finish what an unclean stop left
            store = self.services.store
            await store.awrite(reconcile_recordings, self.recordings, store)
        self._tasks = [
            asyncio.create_task(self.monitor.run(), name="monitor"),
            asyncio.create_task(self.monitor.run_ticks(), name="monitor-ticks"),
        ]
        if self.services.config.recording.enabled:
            self._tasks.append(asyncio.create_task(self.retention.run(), name="retention"))
        self.supervisor.start()

    async def stop(self) -> None:
        """Stop the workers, close their channel, and let the monitor handle what they already sent."""
        await asyncio.get_running_loop().run_in_executor(None, self.supervisor.stop)
        self.channel.close()  # a worker still stuck in a read only adds to channel.dropped from now on
        monitor_task, *periodic = self._tasks
        for t in periodic:
            t.cancel()
        for t in periodic:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await monitor_task  # returns once the closed channel is empty

    def health(self) -> dict[str, Any]:
        return self.supervisor.health() | {
            "monitor_handled": self.monitor.handled,
            "retention_deleted": self.retention.deleted,
            "retention_errors": self.retention.errors,
        }
