"""Watch this node's recording disk and write node alerts (cctv/alerts/node.py) into the store.

Runs in the ingest node (streams/ingest/node.py) every ``interval_s``: the observation function reports, per kind,
whether the condition holds now and which cameras it touches. Opening and closing are logged once each (the
recorders' own per-camera lines say which file failed); the store's open alerts are loaded at start so a restart
continues them rather than opening duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from cctv.alerts.node import DISK_FULL, NodeAlertEvent, NodeAlertTracker, Observation, human_bytes
from cctv.clock import Clock
from cctv.store import Store
from cctv.store.node_alert_store import NodeAlertStore

log = logging.getLogger(__name__)

Observe = Callable[[], Awaitable[dict[str, Observation]]]


class NodeAlertWriter:
    def __init__(
        self,
        store: Store,
        node: str,
        kinds: tuple[str, ...],
        observe: Observe,
        clock: Clock,
        alerts: NodeAlertStore,
        clear_s: float = 60.0,
        interval_s: float = 5.0,
        where: str = "",
    ) -> None:
        self.store = store
        self.node = node
        self.observe_fn = observe
        self.clock = clock
        self.alerts = alerts
        self.interval_s = interval_s
        self.where = where  # for the log line: the recording folder
        self.trackers = {k: NodeAlertTracker(node, k, int(clear_s * 1000)) for k in kinds}
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.errors = 0

    async def start(self) -> None:
        for a in await self.store.aread(self.alerts.open_for, self.node):
            if a.kind in self.trackers:
                self.trackers[a.kind].load(a)
        self._task = asyncio.create_task(self._run(), name="node-alerts")

    async def stop(self) -> None:
        """Stop watching; open alerts stay open (the next start continues or closes them)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def check(self) -> None:
        """One observation of every kind, and the writes it calls for."""
        seen = await self.observe_fn()
        now = self.clock.now_ms()
        for kind, tracker in self.trackers.items():
            for ev in tracker.observe(now, seen.get(kind, Observation(False))):
                self._log(ev)
                await self._write(tracker, ev)

    async def _write(self, tracker: NodeAlertTracker, ev: NodeAlertEvent) -> None:
        try:
            alert_id = await self.store.awrite(self.alerts.write, ev)
            if alert_id is not None:
                tracker.set_id(ev.alert.opened_ms, alert_id)
            self.written += 1
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - counted; watching goes on
            self.errors += 1
            log.exception("node alerts: could not write %s of %s", ev.kind, ev.alert.kind)

    def _log(self, ev: NodeAlertEvent) -> None:
        a = ev.alert
        disk = f"{human_bytes(a.free_bytes)} free of {human_bytes(a.total_bytes)} at {self.where or 'the recording folder'}"
        if ev.kind == "open" and a.kind == DISK_FULL:
            log.error("node %s: disk full, recording paused for %d cameras (ingest goes on); %s",
                      self.node, a.affected_now, disk)
        elif ev.kind == "open":
            log.warning("node %s: recording disk nearly full; %s", self.node, disk)
        elif ev.kind == "close":
            log.warning("node %s: %s over after %d s (%d cameras touched); %s", self.node, a.kind,
                        ((a.closed_ms or a.opened_ms) - a.opened_ms) // 1000, len(a.cameras), disk)

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                self.errors += 1
                log.exception("node alerts: check failed")
            await asyncio.sleep(self.interval_s)

    def health(self) -> dict[str, object]:
        return {
            "node_alerts_open": sorted(k for k, t in self.trackers.items() if t.open is not None),
            "node_alerts_written": self.written,
            "node_alert_errors": self.errors,
        }
