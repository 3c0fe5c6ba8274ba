"""bench/city.py's ingest nodes: a city's worth of synthetic ingest nodes in one process, through the real parts.

``python -m bench.city_ingest PLAN``. PLAN (JSON, written by bench/city.py): ``{"store_url", "bus_url",
"nodes": [{"name", "cameras": [PATH, ...]}], "changes_per_s", "motion_per_s", "snapshot_every_s",
"stats_every_s", "segment_every_s", "renew_every_s", "lease_ttl_s", "seed", "out": FILE}``.

Each node is what ``cctv ingest`` puts between its cameras and the other nodes, without the cameras: its own
:class:`~cctv.status.redis_bus.RedisBus` (its name on every message), a :class:`~cctv.store.writer.StoreWriter`
whose status and motion rows are fenced by the camera leases the node took (:class:`~cctv.store.leases.
LeaseStore`), one node-lease renewal and one heartbeat in Redis (:class:`~cctv.status.nodes.NodeRegistry`) every
``renew_every_s``. One store (engine, writer thread) serves every node of the process: PostgreSQL sees the rows
a city writes, not its hundred connections. On top, what cameras do, at city-wide rates: first verdicts for
every camera at start, then ``changes_per_s`` state changes (online ↔ offline or degraded), ``motion_per_s``
motion starts and ends, a snapshot's news per online camera every ``snapshot_every_s``, one stats batch per
node every ``stats_every_s`` and a recorded segment's row per camera every ``segment_every_s`` (written, not
recorded: no file) — the messages ``cctv ingest`` publishes and the rows it writes, in their real shapes.

Stdin, lines: ``go`` starts the changes (the first verdicts are written before ``ready``); end of input stops.
Stdout, JSON lines: ``{"event": "ready", ...}``, then ``{"event": "done", ...}`` with the counts, the writers'
and buses' figures and how late the generator ran (``behind_ms``: a run where it fell behind says so). FILE gets
one line per state change: ``since_ms<TAB>camera<TAB>state`` (the web nodes' sockets carry ``since_ms``).
"""

from __future__ import annotations

import asyncio
import random
import resource
import time
from typing import Any, TextIO

import redis.asyncio as aioredis

from bench.child_io import emit, plan_main, stdin_reader
from cctv.aio import stop_task
from cctv.status.messages import (
    TOPIC_MOTION,
    TOPIC_SEGMENT,
    TOPIC_SNAPSHOT,
    TOPIC_STATS,
    TOPIC_STATUS,
    CameraStats,
    MotionChange,
    SnapshotReady,
    State,
    StatsBatch,
    StatusChange,
    StreamStats,
)
from cctv.status.nodes import NodeBeat, NodeRegistry
from cctv.status.redis_bus import RedisBus
from cctv.store import Store
from cctv.store.leases import Fence, LeaseStore
from cctv.store.segments import NewSegment
from cctv.store.writer import StoreWriter

TICK_S = 0.05
DOWN_REASONS = (("offline", "timeout"), ("offline", "refused"), ("degraded", "black"), ("degraded", "frozen"))


def now_ms() -> int:
    return int(time.time() * 1000)


class SynthNode:
    def __init__(self, name: str, cameras: list[str], plan: dict[str, Any], store: Store,
                 registry: NodeRegistry) -> None:
        self.name, self.cameras, self.plan = name, cameras, plan
        self.store, self.registry = store, registry
        self.bus = RedisBus(plan["bus_url"], name)
        self.held: dict[str, int] = {}
        self.writer = StoreWriter(store, self.bus, fences=self.fence)
        self.leases = LeaseStore(store.engine)
        self.ttl_ms = int(plan["lease_ttl_s"] * 1000)
        self.started_ms = now_ms()
        self.tasks: list[asyncio.Task[None]] = []
        self.renew_errors = 0

    def fence(self, camera: str) -> Fence | None:
        token = self.held.get(camera)
        return None if token is None else Fence(self.name, token)

    async def start(self) -> None:
        await self.bus.start()
        grants = await self.store.awrite(self.leases.take, self.name, self.cameras, now_ms(), self.ttl_ms)
        self.held = {c: g.token for c, g in grants.items()}
        self.tasks = [asyncio.create_task(self.writer.run(), name=f"{self.name}-writer"),
                      asyncio.create_task(self._renew_forever(), name=f"{self.name}-renew")]

    async def _renew_forever(self) -> None:
        every = self.plan["renew_every_s"]
        await asyncio.sleep(random.random() * every)  # nodes started together do not renew together
        while True:
            try:
                kept = await self.store.awrite(self.leases.renew, self.name, self.held, now_ms(), self.ttl_ms)
                self.held = {c: t for c, t in self.held.items() if c in kept}
                await self.registry.beat(NodeBeat(self.name, "ingest", self.started_ms, now_ms(),
                                                  cameras=len(self.held), lag_p99_ms=3.0))
            except Exception:  # noqa: BLE001 - counted; the bench reports it
                self.renew_errors += 1
            await asyncio.sleep(every)

    async def stop(self) -> None:
        self.writer.finish()
        await stop_task(self.tasks[1])  # the renewals (a cancel redis-py swallows is sent again)
        await self.tasks[0]  # the writer writes what is queued
        await self.bus.stop()


class City:
    def __init__(self, plan: dict[str, Any], out: TextIO) -> None:
        self.plan, self.out = plan, out
        self.rng = random.Random(plan["seed"])
        self.store = Store(plan["store_url"])
        self.redis = aioredis.Redis.from_url(plan["bus_url"])
        registry = NodeRegistry(self.redis, plan["lease_ttl_s"])
        self.nodes = [SynthNode(n["name"], n["cameras"], plan, self.store, registry) for n in plan["nodes"]]
        self.owner = {c: node for node in self.nodes for c in node.cameras}
        self.cameras = list(self.owner)
        self.state: dict[str, tuple[State, str]] = {}
        self.motion: dict[str, bool] = {}
        self.counts = {"changes": 0, "motion": 0, "snapshots": 0, "stats_batches": 0, "stats_items": 0,
                       "segments": 0}
        self.behind: list[float] = []

    def change(self, camera: str, state: State, reason: str, t: int) -> None:
        prev = self.state.get(camera)
        self.state[camera] = (state, reason)
        m = StatusChange(camera, state, reason, t, prev[0] if prev else None, prev[1] if prev else "")
        self.owner[camera].bus.publish(TOPIC_STATUS, m)
        if prev is not None:
            self.out.write(f"{t}\t{camera}\t{state}\n")
            self.counts["changes"] += 1

    async def first_verdicts(self) -> float:
        t0, t = time.monotonic(), now_ms()
        for i, camera in enumerate(self.cameras):
            self.change(camera, State.ONLINE, "", t)
            if i % 1000 == 999:
                await asyncio.sleep(0)
        while any(n.writer.queued for n in self.nodes):
            await asyncio.sleep(0.2)
        return time.monotonic() - t0

    def _stats(self, camera: str, t: int) -> CameraStats:
        return CameraStats(camera, StreamStats(camera, t, 12.5, 512_000.0, 2.0, t - 40, 0, 1250, 50, 50, 0, 640,
                                               360, "h264", "keyframes"),
                           motion_score=round(self.rng.random() * 3, 2), last_sample_ms=t - 500, luma_mean=112.0)

    async def run(self, go: asyncio.Event, stop: asyncio.Event) -> None:
        p, rng = self.plan, self.rng
        await go.wait()
        per_tick = {k: p[k] * TICK_S for k in ("changes_per_s", "motion_per_s")}
        owed = {k: 0.0 for k in per_tick}
        snap_slice = len(self.cameras) * TICK_S / p["snapshot_every_s"]
        snap_owed, snap_at = 0.0, 0
        seg_slice = len(self.cameras) * TICK_S / p["segment_every_s"]
        seg_owed, seg_at = 0.0, 0
        stats_every_ticks = max(1, round(p["stats_every_s"] / TICK_S))
        tick, t0 = 0, time.monotonic()
        while not stop.is_set():
            late = time.monotonic() - (t0 + tick * TICK_S)
            self.behind.append(late * 1000)
            t = now_ms()
            owed = {k: owed[k] + per_tick[k] for k in owed}
            while owed["changes_per_s"] >= 1:
                owed["changes_per_s"] -= 1
                cam = rng.choice(self.cameras)
                if self.state[cam][0] == State.ONLINE:
                    state, reason = rng.choice(DOWN_REASONS)
                    self.change(cam, State(state), reason, t)
                else:
                    self.change(cam, State.ONLINE, "", t)
            while owed["motion_per_s"] >= 1:
                owed["motion_per_s"] -= 1
                cam = rng.choice(self.cameras)
                on = not self.motion.get(cam, False)
                self.motion[cam] = on
                self.owner[cam].bus.publish(TOPIC_MOTION, MotionChange(cam, on, 4.2 if on else 0.0, t))
                self.counts["motion"] += 1
            snap_owed += snap_slice
            while snap_owed >= 1:
                snap_owed -= 1
                cam = self.cameras[snap_at]
                snap_at = (snap_at + 1) % len(self.cameras)
                if self.state[cam][0] != State.OFFLINE:
                    self.owner[cam].bus.publish(TOPIC_SNAPSHOT, SnapshotReady(cam, t))
                    self.counts["snapshots"] += 1
            seg_owed += seg_slice
            while seg_owed >= 1:
                seg_owed -= 1
                cam = self.cameras[seg_at]
                seg_at = (seg_at + 1) % len(self.cameras)
                node = self.owner[cam]
                start = t - int(p["segment_every_s"] * 1000)
                node.bus.publish(TOPIC_SEGMENT, NewSegment(cam, start, t, f"{cam}/{start}.mp4", 3_840_000,
                                                           "0" * 64, 750, node.name))
                self.counts["segments"] += 1
            for i in range(tick % stats_every_ticks, len(self.nodes), stats_every_ticks):
                node = self.nodes[i]
                items = tuple(self._stats(c, t) for c in node.held if self.state[c][0] != State.OFFLINE)
                node.bus.publish(TOPIC_STATS, StatsBatch(t, items))
                self.counts["stats_batches"] += 1
                self.counts["stats_items"] += len(items)
            tick += 1
            await asyncio.sleep(max(0.0, t0 + tick * TICK_S - time.monotonic()))

    def figures(self) -> dict[str, Any]:
        w = [n.writer for n in self.nodes]
        buses = [n.bus.figures for n in self.nodes]
        behind = sorted(self.behind) or [0.0]
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return {**self.counts, "nodes": len(self.nodes), "cameras": len(self.cameras),
                "written": sum(x.written for x in w), "store_errors": sum(x.errors for x in w),
                "fenced_out": sum(x.fenced_out for x in w), "not_held": sum(x.not_held for x in w),
                "bus_sent": sum(b["sent"] for b in buses), "outbox_dropped": sum(b["outbox_dropped"] for b in buses),
                "bus_received": sum(b["received"] for b in buses),
                "renew_errors": sum(n.renew_errors for n in self.nodes),
                "behind_ms_p99": round(behind[int(0.99 * (len(behind) - 1))], 1), "behind_ms_max": round(behind[-1], 1),
                "cpu_s": round(ru.ru_utime + ru.ru_stime, 1)}


async def amain(plan: dict[str, Any], out: TextIO) -> None:
    stdin = await stdin_reader()
    city = City(plan, out)
    t0 = time.monotonic()
    for node in city.nodes:
        await node.start()
    leased = time.monotonic() - t0
    verdicts = await city.first_verdicts()
    emit({"event": "ready", "leases_s": round(leased, 1), "first_verdicts_s": round(verdicts, 1),
          "held": sum(len(n.held) for n in city.nodes)})
    go, stop = asyncio.Event(), asyncio.Event()
    runner = asyncio.create_task(city.run(go, stop))
    while line := await stdin.readline():
        if line.strip() == b"go":
            go.set()
    stop.set()
    go.set()
    await runner
    await asyncio.gather(*(node.stop() for node in city.nodes))
    out.flush()
    emit({"event": "done", **city.figures()})
    await city.redis.aclose()
    city.store.close()


if __name__ == "__main__":
    raise SystemExit(plan_main(amain))
