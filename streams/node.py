"""Ingest on this node: the camera workers, their channel, and the status monitor that consumes it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from cctv.channel import DropOldestChannel
from cctv.monitor import Monitor
from cctv.services import Services
from cctv.status import StatusParams
from streams.opener import StreamOpener
from streams.supervisor import Supervisor

log = logging.getLogger(__name__)


class IngestNode:
    def __init__(self, services: Services, opener: StreamOpener | None = None) -> None:
        cfg = services.config
        self.channel: DropOldestChannel[Any] = DropOldestChannel(cfg.ingest.queue_size * 8)
        self.supervisor = Supervisor(cfg, services.sites, self.channel, services.snapshots, services.clock, opener)
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

    async def start(self) -> None:
        self.channel.bind(asyncio.get_running_loop())
        self._tasks = [
            asyncio.create_task(self.monitor.run(), name="monitor"),
            asyncio.create_task(self.monitor.run_ticks(), name="monitor-ticks"),
        ]
        self.supervisor.start()

    async def stop(self) -> None:
        """Stop the workers, close their channel, and let the monitor handle what they already sent."""
        await asyncio.get_running_loop().run_in_executor(None, self.supervisor.stop)
        self.channel.close()  # a worker still stuck in a read only adds to channel.dropped from now on
        monitor_task, ticks_task = self._tasks
        ticks_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticks_task
        await monitor_task  # returns once the closed channel is empty

    def health(self) -> dict[str, Any]:
        return self.supervisor.health() | {"monitor_handled": self.monitor.handled}
