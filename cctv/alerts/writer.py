"""Conditions → the tracker (cctv/alerts/tracker.py) → the ``alerts`` table, from either source or both:

- status changes from the bus (``bus`` given): runs beside the store writer on the node that writes status
  (the ``writers`` step of cctv/app/node.py); a tick every ``tick_s`` of wall time closes the alerts whose
  camera has been back online long enough.
- this node's recording disk (``node`` given: a :class:`NodeWatch`): run by the ingest node
  (streams/ingest/node.py), which observes it every ``interval_s``: per kind, whether the condition holds now and
  which cameras it touches. Opening and closing are logged once each (the recorders' own per-camera lines say
  which file failed).

At start it loads the open alerts of its sources, so a restart continues them instead of opening duplicates.
Writes go through ``store.awrite``; a failed write is counted and logged, and the feed goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from cctv.alerts.model import CAMERA, DISK_FULL, OVERLOADED, AlertEvent, Observation, human_bytes
from cctv.alerts.tracker import CLEAR_MS, STABLE_MS, Tracker
from cctv.clock import Clock
from cctv.status.bus import Bus, Subscription
from cctv.status.messages import TOPIC_STATUS, StatusChange
from cctv.store.alerts import AlertStore

log = logging.getLogger(__name__)

Observe = Callable[[], Awaitable[dict[str, Observation]]]


@dataclass(frozen=True)
class NodeWatch:
    """What a node observes of itself: ``observe`` says, per kind, whether the condition holds now."""

    node: str
    kinds: tuple[str, ...]
    observe: Observe
    clear_s: float = 60.0
    interval_s: float = 5.0
    where: str = ""  # for the log line: the recording folder


class AlertWriter:
    def __init__(
        self,
        store: Any,
        bus: Bus | None,
        clock: Clock,
        alerts: AlertStore | None = None,
        stable_ms: int = STABLE_MS,
        tick_s: float = 10.0,
        *,
        node: NodeWatch | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.alerts = alerts or AlertStore(store.engine)
        self.node = node
        self.tracker = Tracker(stable_ms, int(node.clear_s * 1000) if node else CLEAR_MS)
        self.tick_s = tick_s
        self.sub: Subscription | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._periodic: list[asyncio.Task[None]] = []
        self.counts = {"camera": [0, 0], "node": [0, 0]}  # source: [written, errors]

    @property
    def written(self) -> int:
        return sum(w for w, _ in self.counts.values())

    @property
    def errors(self) -> int:
        return sum(e for _, e in self.counts.values())

    async def start(self) -> None:
        loaded = []
        if self.bus is not None:
            loaded += await self.store.aread(self.alerts.open_alerts, (CAMERA,))
        if self.node is not None:
            loaded += await self.store.aread(self.alerts.open_alerts, self.node.kinds, self.node.node)
        self.tracker.load(loaded)
        if self.bus is not None:
            self.sub = self.bus.subscribe(TOPIC_STATUS, maxlen=100_000)
            self._run_task = asyncio.create_task(self._run(), name="alert-writer")
            self._periodic.append(self._every(self.tick_s, self.tick, "alert-ticks", "camera"))
        if self.node is not None:
            self._periodic.append(self._every(self.node.interval_s, self.check, "node-alerts", "node"))

    async def stop(self) -> None:
        """Write what is queued, then stop (after the producers have stopped). Idempotent. Open alerts stay
        open (the next start continues or closes them)."""
        for t in self._periodic:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._periodic = []
        if self.sub is not None and self._run_task is not None:
            self.sub.close()  # _run() delivers what is queued, then ends
            await self._run_task
        self._run_task = None

    # -- cameras that move between ingest nodes -----------------------------------------------------------

    async def adopt(self, camera: str) -> None:
        """This node took ``camera``: continue its open alert (if any) from the store."""
        try:
            found = await self.store.aread(self.alerts.open_alerts, (CAMERA,), camera)
        except Exception:  # noqa: BLE001 - counted; a bad state then opens a new alert (or fails on the index)
            self.counts["camera"][1] += 1
            log.exception("alert writer: could not read the open alert of %s", camera)
            return
        self.tracker.adopt(camera, found)

    def forget(self, camera: str) -> None:
        self.tracker.forget(camera)

    # -- the two feeding methods --------------------------------------------------------------------------

    async def tick(self) -> None:
        await self._write(self.tracker.tick(self.clock.now_ms()), "camera")

    async def check(self) -> None:
        """One observation of every kind of this node, and the writes it calls for."""
        assert self.node is not None
        seen = await self.node.observe()
        now = self.clock.now_ms()
        for kind in self.node.kinds:
            events = self.tracker.observe(now, self.node.node, kind, seen.get(kind, Observation(False)))
            for ev in events:
                self._log(ev)
            await self._write(events, "node")

    # -- the one way out ------------------------------------------------------------------------------------

    async def _write(self, events: list[AlertEvent], source: str) -> None:
        """All of ``events`` in one transaction; if that fails, one by one, so one bad event costs only itself
        (counted and logged)."""
        if not events:
            return
        count = self.counts[source]
        try:
            ids = await self.store.awrite(self.alerts.write_many, events)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - retried one by one below
            log.warning("alert writer: a batch of %d events failed; writing them one by one", len(events))
        else:
            self._written(events, ids, count)
            return
        for ev in events:
            try:
                alert_id = await self.store.awrite(self.alerts.write, ev)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - counted; the feed goes on
                count[1] += 1
                log.exception("alert writer: could not write %s of %s %s", ev.kind, ev.alert.kind, ev.alert.subject)
            else:
                self._written([ev], [alert_id], count)

    def _written(self, events: list[AlertEvent], ids: list[int | None], count: list[int]) -> None:
        for ev, alert_id in zip(events, ids, strict=True):
            if alert_id is not None:
                self.tracker.set_id(ev.alert.key, ev.alert.opened_ms, alert_id)
            count[0] += 1

    def _log(self, ev: AlertEvent) -> None:
        a, node, where = ev.alert, ev.alert.subject, self.node.where if self.node else ""
        disk = f"{human_bytes(a.free_bytes)} free of {human_bytes(a.total_bytes)} at {where or 'the recording folder'}"
        if a.kind == OVERLOADED:
            if ev.kind == "open":
                log.warning("node %s: overloaded: analysis reduced for %d cameras (recording goes on)", node,
                            a.affected_now)
            elif ev.kind == "close":
                log.warning("node %s: no longer overloaded after %d s", node,
                            ((a.closed_ms or a.opened_ms) - a.opened_ms) // 1000)
            return
        if ev.kind == "open" and a.kind == DISK_FULL:
            log.error("node %s: disk full, recording paused for %d cameras (ingest goes on); %s",
                      node, a.affected_now, disk)
        elif ev.kind == "open":
            log.warning("node %s: recording disk nearly full; %s", node, disk)
        elif ev.kind == "close":
            log.warning("node %s: %s over after %d s (%d cameras touched); %s", node, a.kind,
                        ((a.closed_ms or a.opened_ms) - a.opened_ms) // 1000, len(a.cameras), disk)

    async def _run(self) -> None:
        """Every status change queued, folded in order, then their events written in one transaction."""
        assert self.sub is not None
        while batch := await self.sub.get_batch():
            events = [ev for _topic, m in batch if isinstance(m, StatusChange) for ev in self.tracker.on_change(m)]
            await self._write(events, "camera")

    def _every(self, seconds: float, step: Callable[[], Coroutine[Any, Any, None]], name: str,
               source: str) -> asyncio.Task[None]:
        """Run ``step`` now and then every ``seconds``; a failure is counted for ``source`` and logged."""

        async def loop() -> None:
            while True:
                try:
                    await step()
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - counted; watching goes on
                    self.counts[source][1] += 1
                    log.exception("alert writer: %s failed", name)
                await asyncio.sleep(seconds)

        return asyncio.create_task(loop(), name=name)

    def health(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.bus is not None:
            out |= {"alerts_written": self.counts["camera"][0], "alert_errors": self.counts["camera"][1]}
        if self.node is not None:
            node = self.node
            out |= {
                "node_alerts_open": sorted(a.kind for a in self.tracker.open.values()
                                           if a.kind in node.kinds and a.subject == node.node),
                "node_alerts_written": self.counts["node"][0],
                "node_alert_errors": self.counts["node"][1],
            }
        return out
