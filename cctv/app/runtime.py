"""Node-level background work that needs no RTSP: store writer, heartbeat, crash recovery, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import Any

from cctv.alerts.writer import AlertWriter
from cctv.app.services import Services
from cctv.store.writer import StoreWriter

log = logging.getLogger(__name__)


class CoreRuntime:
    def __init__(self, services: Services, heartbeat_s: float = 5.0) -> None:
        self.s = services
        self.heartbeat_s = heartbeat_s
        self.node_id = f"{socket.gethostname()}:{os.getpid()}"
        self.started_ms = services.clock.now_ms()
        self.writer = StoreWriter(services.store, services.bus)
        self.alert_writer = AlertWriter(services.store, services.bus, services.clock, services.alerts)
        # the cameras whose history this node writes (all of them on the embedded default)
        self.cameras = [c.path for c in services.sites.cameras if c.enabled]
        self._tasks: list[asyncio.Task[Any]] = []
        services.health_probes.append(self.health)

    async def start(self) -> None:
        store = self.s.store
        await store.awrite(store.recover_after_crash, self.s.clock.now_ms(), self.cameras)
        await asyncio.to_thread(self.s.exports.recover)  # exports a crash left half-done: back to approved
        await store.awrite(store.heartbeat, self.node_id, self.started_ms, self.s.clock.now_ms())
        # after recovery, so the roll-up model loads closed intervals; before ingest publishes anything
        await self.s.rollup.start(store, self.s.bus, self.s.clock)
        await self.alert_writer.start()
        self._tasks = [
            asyncio.create_task(self.writer.run(), name="store-writer"),
            asyncio.create_task(self._heartbeats(), name="heartbeat"),
        ]

    async def stop(self) -> None:
        """Stop after the producers: write what is queued, then close open intervals at now."""
        await self.s.exports.stop()  # an export in flight goes back to approved
        writer_task, *others = self._tasks
        for t in others:
            t.cancel()
        for t in others:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self.writer.finish()  # not cancelled: a write in flight must land before intervals are closed
        await writer_task
        await self.alert_writer.stop()
        await self.s.rollup.stop()
        store, now = self.s.store, self.s.clock.now_ms()
        await store.awrite(store.close_open_intervals, now, self.cameras)
        await store.awrite(store.heartbeat, self.node_id, self.started_ms, now)

    async def _heartbeats(self) -> None:
        store = self.s.store
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await store.awrite(store.heartbeat, self.node_id, self.started_ms, self.s.clock.now_ms())
            except Exception:  # noqa: BLE001
                log.exception("heartbeat: could not write")

    def health(self) -> dict[str, Any]:
        return {
            "store_written": self.writer.written,
            "store_errors": self.writer.errors,
            "store_dropped": self.writer.dropped,
            "alerts_written": self.alert_writer.written,
            "alert_errors": self.alert_writer.errors,
        }
