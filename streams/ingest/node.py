"""Ingest on this node: the ingest processes (streams.ingest.pool), and the status monitor fed by them.

``cluster``: an ingest node among many (``cctv ingest``, docs/nodes.md) — it starts with no camera and watches
the ones its lease keeper (streams/ingest/keeper.py) holds, taking and giving them while running; its segment
rows, reconciliation and retention are its own disk's (``segments.node``)."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from cctv.aio import stop_task
from cctv.alerts.model import DISK_FULL, DISK_LOW, OVERLOADED, Observation
from cctv.alerts.writer import AlertWriter, NodeWatch
from cctv.app.services import Services
from cctv.config.node import node_name
from cctv.recording import RetentionPolicy, recordings_root
from cctv.status.channel import Channel, droppable_bound
from cctv.status.machine import StatusParams
from cctv.status.messages import TOPIC_SEGMENT
from cctv.status.monitor import Monitor
from cctv.status.nodes import NodeRegistry
from cctv.status.redis_bus import RedisBus
from cctv.store.leases import LeaseStore
from cctv.store.segments import NewSegment
from streams.ingest.assignment import NodeInfo
from streams.ingest.keeper import LeaseKeeper, Watch
from streams.ingest.pool import ShardPool, default_procs
from streams.ingest.shed import Relief
from streams.recording.maintenance import RetentionTask, reconcile_recordings

log = logging.getLogger(__name__)


class IngestNode:
    def __init__(self, services: Services, procs: int | None = None, log_level: str = "INFO",
                 shard_module: str = "streams.ingest.shard", *, cluster: bool = False) -> None:
        cfg = services.config
        self.services = services
        self.cluster = cluster
        self.name = node_name(cfg.node)
        inventory = [c.path for c in services.sites.cameras if c.enabled]
        expected = min(len(inventory), cfg.node.capacity or len(inventory))
        self.channel: Channel[Any] = Channel(droppable_bound(cfg.ingest.queue_size, expected))
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
            node=self.name if cluster else None,
        )
        cameras = [] if cluster else inventory
        n = procs if procs else (cfg.ingest.procs or default_procs(expected))
        self.keeper: LeaseKeeper | None = None
        self.relief = Relief()
        self.pool = ShardPool(
            cfg, cameras, n, self.recordings, self.channel, services.snapshots, self._on_segment,
            services.clock, self._reconcile if rec.enabled else None, log_level, shard_module,
            dynamic=cluster, on_released=self._stopped if cluster else None,
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
        kinds = ((DISK_FULL, DISK_LOW) if rec.enabled else ()) + (OVERLOADED,)
        self.node_alerts = AlertWriter(services.store, None, services.clock, services.alerts, node=NodeWatch(
            node_name(cfg.node), kinds, self._observe, rec.alert_clear_s, where=str(self.recordings),
        ))
        self._tasks: list[asyncio.Task[Any]] = []
        self.registry: NodeRegistry | None = None
        self._redis: aioredis.Redis | None = None
        # (start, stop) called with each camera the lease keeper starts or stops here (the alert writer's)
        self.camera_hooks: list[tuple[Callable[[str], object], Callable[[str], object]]] = []
        if cluster:
            self.keeper = LeaseKeeper(
                node=NodeInfo(self.name, cfg.node.capacity, tuple(cfg.node.prefers)),
                inventory=inventory, leases=LeaseStore(services.store.engine), nodes=self._live_nodes,
                watch=Watch(self._start_camera, self._stop_camera), bus=services.bus, clock=services.clock,
                ttl_s=cfg.node.lease_ttl_s, every_s=cfg.node.renew_every_s, moves_per_round=cfg.node.moves_per_round,
                alerts=services.alerts, soft_capacity=self._soft_capacity,
            )
            services.health_probes.append(self.keeper.health)
        services.health_probes.append(self.health)

    # -- an ingest node among many: what the lease keeper starts and stops ---------------------------

    def _start_camera(self, camera: str) -> None:
        self.monitor.add(camera)
        for start, _ in self.camera_hooks:
            start(camera)
        self._sync_pool()

    def _stop_camera(self, camera: str) -> None:
        self.monitor.remove(camera)
        for _, stop in self.camera_hooks:
            stop(camera)
        self._sync_pool()

    def _sync_pool(self) -> None:
        k = self.keeper
        assert k is not None
        self.pool.set_cameras(set(k.held) - k.stopping - k.releasing)

    def _stopped(self, camera: str) -> None:
        if self.keeper is not None:
            self.keeper.on_stopped(camera)

    async def _live_nodes(self) -> list[Any]:
        assert self.registry is not None
        beats = await self.registry.nodes()
        self.keeper.draining = await self.registry.draining(self.name)  # type: ignore[union-attr]
        return beats

    async def _observe(self) -> dict[str, Observation]:
        """Overloaded: some ingest process sheds work (streams/ingest/shed.py); and the recording disk."""
        overloaded = self.pool.shed_level > 0
        seen = {OVERLOADED: Observation(overloaded, tuple(self.monitor_cameras) if overloaded else ())}
        if self.services.config.recording.enabled:
            seen |= await self._observe_disk()
        return seen

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

    def _soft_capacity(self) -> int | None:
        """Overloaded for a while: ask assignment to move some cameras to nodes with room."""
        return self.relief.update(self.pool.shed_level, len(self.pool.cameras), self.services.clock.monotonic())

    def _excuse_silent(self, now_mono: float) -> None:
        """Before each verdict: an ingest process that stands still is the node's lateness, not its cameras'."""
        for shard, seconds in self.pool.silent(now_mono):
            self.monitor.excuse_cameras(shard.cameras, seconds)

    def _on_segment(self, seg: NewSegment) -> None:
        if self.cluster:
            seg = replace(seg, node=self.name)  # the file is on this node's disk
        self.services.bus.publish(TOPIC_SEGMENT, seg)  # the store writer indexes it (never dropped)

    async def _reconcile(self, cameras: tuple[str, ...]) -> None:
        store = self.services.store
        await store.awrite(reconcile_recordings, self.recordings, store, cameras, node=self._disk_node)

    @property
    def _disk_node(self) -> str | None:
        return self.name if self.cluster else None

    async def start(self) -> None:
        self.channel.bind(asyncio.get_running_loop())
        if self.services.config.recording.enabled:
            # before any ingest process writes: finish what an unclean stop left
            store = self.services.store
            await store.awrite(reconcile_recordings, self.recordings, store, node=self._disk_node)
        self._tasks = [
            asyncio.create_task(self.monitor.run(), name="monitor"),
            asyncio.create_task(self.monitor.run_ticks(before_tick=self._excuse_silent), name="monitor-ticks"),
        ]
        if self.services.config.recording.enabled:
            self._tasks.append(asyncio.create_task(self.retention.run(), name="retention"))
        await self.pool.start()
        if self.services.config.recording.enabled:
            self.recordings.mkdir(parents=True, exist_ok=True)
        await self.node_alerts.start()
        if self.keeper is not None:
            bus = self.services.bus
            assert isinstance(bus, RedisBus)
            self._redis = aioredis.Redis.from_url(bus.url, socket_connect_timeout=3, socket_timeout=3)
            self.registry = NodeRegistry(self._redis, self.services.config.node.lease_ttl_s)
            keeper = self.keeper
            bus.withhold = lambda camera: not keeper.may_report(camera)  # fenced for the other nodes' views too
            await self.keeper.start()
            log.info("ingest node %s: %d processes; cameras follow the leases it holds", self.name,
                     len(self.pool.shards))
        else:
            log.info("ingest: %d cameras over %d processes", len(self.monitor_cameras), len(self.pool.shards))

    @property
    def monitor_cameras(self) -> list[str]:
        return self.pool.cameras

    async def stop(self) -> None:
        """Stop the ingest processes (they finish their segments), close the channel, drain the monitor; an
        ingest node among many then marks and releases its leases (through the writers, which stop after)."""
        if self.keeper is not None:
            await self.keeper.stop()
        await self.node_alerts.stop()
        await self.pool.stop()
        self.channel.close()
        monitor_task, *periodic = self._tasks
        for t in periodic:
            t.cancel()
        for t in periodic:
            await stop_task(t)  # some read redis: a swallowed cancel is sent again (cctv/aio.py)
        await monitor_task  # returns once the closed channel is empty
        if self.keeper is not None:
            for camera in list(self.monitor.status):
                self.monitor.remove(camera)  # motion in progress ends at the stop
            self.keeper.release_all()
            self.keeper.close()
        if self._redis is not None:
            await self._redis.aclose()

    def health(self) -> dict[str, Any]:
        return self.pool.health() | {
            "channel_dropped": self.channel.dropped,
            "channel_queued": len(self.channel),
            "channel_keep_high_water": self.channel.keep_high_water,
            "stats_published": self.monitor.stats_published,
            "monitor_handled": self.monitor.handled,
            "monitor_stalls": self.monitor.stalls,  # the node's own lateness, excused for its cameras
            "monitor_stalled_s": round(self.monitor.stalled_s, 1),
            "soft_capacity": self.relief.value,  # overloaded: what this node asks assignment to keep
            "retention_deleted": self.retention.deleted,
            "retention_errors": self.retention.errors,
        } | self.node_alerts.health()
