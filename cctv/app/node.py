"""What runs on a node, in one ordered list: started top to bottom, stopped bottom to top.

``node_steps`` is the list for ``cctv run`` (and, with ``ingest`` off, a web-only process): crash recovery
first, then the bus subscribers that write (store writer, alert writer), the models the pages read (roll-up
history, live model, area aggregates), the heartbeat and the export runner, and last the producers (ingest).
Stopping mirrors it: producers first, then the writers write what is queued, then open intervals are closed.
A step that fails to start stops the ones already started, then the error goes up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cctv.aio import stop_task
from cctv.alerts.writer import AlertWriter
from cctv.app.services import Services
from cctv.config.loader import data_dir_of
from cctv.config.node import node_name
from cctv.status.nodes import NodeBeat, NodeRegistry
from cctv.status.redis_bus import RedisBus
from cctv.store.leases import Fence
from cctv.store.spool import Spool
from cctv.store.writer import StoreWriter

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    start: Callable[[], Awaitable[Any]]
    stop: Callable[[], Awaitable[Any]]


async def _nothing() -> None:
    return None


class Lifecycle:
    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self._started: list[Step] = []

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.steps]

    async def start(self) -> None:
        for step in self.steps:
            try:
                await step.start()
            except BaseException:
                log.exception("starting %s failed; stopping what started", step.name)
                await self.stop()
                raise
            self._started.append(step)

    async def stop(self) -> None:
        """Stop what started, in reverse order; a step that fails to stop is logged, the others still stop."""
        while self._started:
            step = self._started.pop()
            try:
                await step.stop()
            except Exception:  # noqa: BLE001
                log.exception("stopping %s failed", step.name)


class Task:
    """A long-lived coroutine as a step: created at start, cancelled (then awaited) at stop."""

    def __init__(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        self.name, self.run = name, run
        self.task: asyncio.Task[None] | None = None

    def step(self) -> Step:
        return Step(self.name, self.start, self.stop)

    async def start(self) -> None:
        self.task = asyncio.create_task(self.run(), name=self.name)  # type: ignore[arg-type]

    async def stop(self) -> None:
        task, self.task = self.task, None
        await stop_task(task)


class History:
    """Crash recovery before anything writes, and at stop the intervals this node had open closed at now."""

    def __init__(self, services: Services, node_id: str) -> None:
        self.s = services
        self.node_id = node_id
        self.started_ms = services.clock.now_ms()
        self.cameras = [c.path for c in services.sites.cameras if c.enabled]  # every camera, on one node

    async def start(self) -> None:
        store = self.s.store
        await store.awrite(store.recover_after_crash, self.s.clock.now_ms(), self.cameras)
        await asyncio.to_thread(self.s.exports.recover)  # exports a crash left half-done: back to approved
        await self.beat()

    async def stop(self) -> None:
        store, now = self.s.store, self.s.clock.now_ms()
        await store.awrite(store.close_open_intervals, now, self.cameras)
        await self.beat()

    async def beat(self) -> None:
        store = self.s.store
        await store.awrite(store.heartbeat, self.node_id, self.started_ms, self.s.clock.now_ms())

    async def beat_forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self.beat()
            except Exception:  # noqa: BLE001
                log.exception("heartbeat: could not write")


class Writers:
    """The bus subscribers that write: the store writer (intervals, motion, segments) and the alert writer."""

    def __init__(self, services: Services, *, fences: Callable[[str], Fence | None] | None = None,
                 on_released: Callable[[str], object] | None = None) -> None:
        s = services
        self.store = StoreWriter(s.store, s.bus, fences=fences, on_released=on_released,
                                 spool=Spool(data_dir_of(s.config) / "spool"))
        self.alerts = AlertWriter(s.store, s.bus, s.clock, s.alerts, int(s.config.alerts.stable_after_s * 1000))
        self._task: asyncio.Task[None] | None = None
        services.health_probes.append(self.health)

    async def start(self) -> None:
        await self.alerts.start()
        self._task = asyncio.create_task(self.store.run(), name="store-writer")

    async def stop(self) -> None:
        """After the producers stopped: write what is queued (never cancel a write in flight)."""
        self.store.finish()
        if self._task is not None:
            await self._task
        await self.alerts.stop()

    def health(self) -> dict[str, Any]:
        return {
            "store_written": self.store.written,
            "store_errors": self.store.errors,
            "store_dropped": self.store.dropped,
            "store_queued": self.store.queued,
            "store_outages": self.store.outages,  # the store was away; rows waited
            "store_waiting": self.store.waiting,
            "store_lost": self.store.lost,  # given up at a shutdown with the store still away
            "store_spooled": self.store.spooled,  # waiting on disk for the store (cctv/store/spool.py)
            "store_spool_skipped": self.store.spool_skipped,
            "store_not_held": self.store.not_held,  # rows of a camera whose lease this node no longer holds
            "store_fenced_out": self.store.fenced_out,  # refused: another node took the lease meanwhile
            "alerts_written": self.alerts.written,
            "alert_errors": self.alerts.errors,
        }


def node_steps(services: Services, ingest: Step | None = None) -> list[Step]:
    """The ordered steps of a node holding the store's history (``cctv run``), ingest last when given."""
    s = services
    history = History(s, f"{node_name(s.config.node)}:{os.getpid()}")
    writers = Writers(s)
    steps = [
        *bus_steps(s, "all"),
        Step("recovery", history.start, history.stop),
        Step("writers", writers.start, writers.stop),
        *view_steps(s),
        Task("heartbeat", history.beat_forever).step(),
        Step("exports", _nothing, s.exports.stop),  # an export in flight goes back to approved
    ]
    if ingest is not None:
        steps.append(ingest)
    return steps


def ingest_node_steps(services: Services, node: Any, internal_url: str | None = None) -> list[Step]:
    """An ingest node among many (``cctv ingest``; ``node``: a cluster ``streams.ingest.node.IngestNode``): the
    bridge and its heartbeat, the writers — every status write fenced by the lease the node holds — and ingest.
    No crash recovery of intervals: a lost node's cameras get their ``unmonitored`` gap from the node that takes
    them, and this node's own, after a restart, from itself (streams/ingest/keeper.py)."""
    keeper = node.keeper
    writers = Writers(services, fences=keeper.fence, on_released=keeper.on_released)
    tasks: set[asyncio.Task[None]] = set()

    def adopt(camera: str) -> None:  # the camera's open alert, if another node opened one, goes on here
        t = asyncio.get_running_loop().create_task(writers.alerts.adopt(camera))
        tasks.add(t)
        t.add_done_callback(tasks.discard)

    node.camera_hooks.append((adopt, writers.alerts.forget))
    return [
        *bus_steps(services, "ingest", internal_url),
        Step("writers", writers.start, writers.stop),
        Step("ingest", node.start, node.stop),
    ]


def web_node_steps(services: Services) -> list[Step]:
    """A web node (``cctv serve``): the bridge to the other nodes and what pages and sockets read. It writes no
    status, motion or segment rows and closes no intervals: the ingest node that owns a camera does."""
    return [*bus_steps(services, "web"), *view_steps(services)]


def bus_steps(services: Services, role: str = "all", internal_url: str | None = None) -> list[Step]:
    """The bridge to the other nodes (bus.url: Redis), first to start and last to stop, and this node's
    heartbeat there; after a lost connection the live model and the roll-up history read the store again."""
    s = services
    if not isinstance(s.bus, RedisBus):
        return []
    beats = Heartbeat(s, role, internal_url)

    async def reload() -> None:
        await s.live.reload(lambda: s.store.aread(s.store.live_state))
        await s.rollup.reload()

    s.bus.on_reconnect.append(reload)
    s.health_probes.append(s.bus.health)
    return [Step("bus", s.bus.start, s.bus.stop), Step("node-heartbeat", beats.start, beats.stop)]


class Heartbeat:
    """This node in the registry (cctv/status/nodes.py) every ``node.renew_every_s``, expiring after
    ``node.lease_ttl_s``; gone at once on a clean stop."""

    def __init__(self, services: Services, role: str, internal_url: str | None = None) -> None:
        self.s, self.role, self.internal_url = services, role, internal_url
        node = services.config.node
        self.name, self.every_s = node_name(node), node.renew_every_s
        self.started_ms = services.clock.now_ms()
        self.client: aioredis.Redis | None = None
        self.registry: NodeRegistry | None = None
        self.task = Task("node-heartbeat", self._forever)
        self.errors = 0

    async def start(self) -> None:
        assert isinstance(self.s.bus, RedisBus)
        self.client = aioredis.Redis.from_url(self.s.bus.url, socket_connect_timeout=3)
        self.registry = NodeRegistry(self.client, self.s.config.node.lease_ttl_s)
        await self.task.start()

    async def stop(self) -> None:
        await self.task.stop()
        if self.registry is not None and self.client is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.registry.leave(self.name)
            await self.client.aclose()

    def beat(self) -> NodeBeat:
        health, _failed = self.s.health(log_failures=False)
        node = self.s.config.node
        cameras = int(health.get("workers", 0)) if self.role != "web" else 0
        return NodeBeat(self.name, self.role, self.started_ms, self.s.clock.now_ms(), cameras=cameras,
                        lag_p99_ms=health.get("lag_ms_p99"), capacity=node.capacity, prefers=tuple(node.prefers),
                        draining=bool(health.get("draining", False)), internal_url=self.internal_url,
                        overloaded=bool(health.get("overloaded", False)),
                        soft_capacity=health.get("soft_capacity"))

    async def _forever(self) -> None:
        assert self.registry is not None
        failing = False
        while True:
            try:
                await self.registry.beat(self.beat())
            except (RedisError, OSError) as exc:  # the bus reconnects on its own; the next beat retries
                self.errors += 1
                if not failing:  # once per outage; counted in errors
                    log.warning("node heartbeat: cannot reach redis (%s); trying every %g s", type(exc).__name__,
                                self.every_s)
                failing = True
            else:
                if failing:
                    log.warning("node heartbeat: redis reachable again")
                failing = False
            await asyncio.sleep(self.every_s)


def view_steps(services: Services) -> list[Step]:
    """What pages and sockets read, kept from the bus: roll-up history, live model, area aggregates."""
    s = services
    return [
        Step("rollup-history", lambda: s.rollup.start(s.store, s.bus, s.clock), s.rollup.stop),
        Step("live-model", lambda: s.live.start(lambda: s.store.aread(s.store.live_state)), s.live.stop),
        Step("area-aggregates", s.aggregates.start, s.aggregates.stop),
    ]
