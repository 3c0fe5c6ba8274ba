"""Bus → alert feed: status changes through the debouncer (cctv/alerts/camera.py) into the ``alerts`` table.

Runs beside the store writer on the node that writes status (``CoreRuntime``). At start it loads the open
alerts, so a restart continues them instead of opening duplicates. A tick (every ``tick_s`` of wall time)
closes alerts whose camera has been back online long enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from cctv.alerts.camera import STABLE_MS, AlertEvent, Debouncer
from cctv.clock import Clock
from cctv.status.bus import Bus, Subscription
from cctv.status.messages import TOPIC_STATUS, StatusChange
from cctv.store.alert_store import AlertStore

log = logging.getLogger(__name__)


class AlertWriter:
    def __init__(
        self,
        store: Any,
        bus: Bus,
        clock: Clock,
        alerts: AlertStore | None = None,
        stable_ms: int = STABLE_MS,
        tick_s: float = 10.0,
    ) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.alerts = alerts or AlertStore(store.engine)
        self.debouncer = Debouncer(stable_ms)
        self.tick_s = tick_s
        self.sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.written = 0
        self.errors = 0

    async def start(self) -> None:
        self.sub = self.bus.subscribe(TOPIC_STATUS, maxlen=100_000)
        self.debouncer.load(await self.store.aread(self.alerts.open_alerts))
        self._tasks = [
            asyncio.create_task(self._run(), name="alert-writer"),
            asyncio.create_task(self._ticks(), name="alert-ticks"),
        ]

    async def stop(self) -> None:
        """Write what is queued, then stop (after the producers have stopped). Idempotent."""
        if self.sub is None or not self._tasks:
            return
        run, *ticks = self._tasks
        for t in ticks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self.sub.close()  # run() delivers what is queued, then ends
        await run
        self._tasks = []

    async def handle(self, change: StatusChange) -> None:
        await self._write(self.debouncer.on_change(change))

    async def tick(self) -> None:
        await self._write(self.debouncer.tick(self.clock.now_ms()))

    async def _write(self, events: list[AlertEvent]) -> None:
        for ev in events:
            try:
                alert_id = await self.store.awrite(self.alerts.write, ev)
                if alert_id is not None:
                    self.debouncer.set_id(ev.alert.camera, ev.alert.opened_ms, alert_id)
                self.written += 1
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - counted; the feed goes on
                self.errors += 1
                log.exception("alert writer: could not write %s of %s", ev.kind, ev.alert.camera)

    async def _run(self) -> None:
        assert self.sub is not None
        async for _topic, message in self.sub:
            if isinstance(message, StatusChange):
                await self.handle(message)

    async def _ticks(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self.tick()
            except Exception:  # noqa: BLE001
                log.exception("alert writer: tick failed")
