"""An ingest node's lease keeper: which cameras this node watches, among many (docs/nodes.md).

Every ``node.renew_every_s`` it

1. renews its node lease (one row) and reads which of its cameras it still holds; a camera whose lease another node took is dropped at once —
   stopped, and nothing more of it is written (the store writer's fence);
2. reads the live ingest nodes (their heartbeats in Redis) and computes the same assignment every node computes
   (streams/ingest/assignment.py);
3. gives away the cameras assignment now puts elsewhere, at most ``moves_per_round`` a round (a node joining or
   draining moves cameras gradually, no reconnect storm): each stops here first, then its ``unmonitored``
   (``handover``) mark and the release are written, in that order, after its last rows — so the next holder
   starts only once this one has stopped;
4. takes the cameras assignment gives it whose lease is free, expired or released, at most 4 × ``moves_per_round``
   a round (a lost node's cameras are taken back quickly; planned moves are paced by the giver). A camera taken from a node that stopped renewing gets an ``unmonitored`` (``node_lost``) interval
   from that node's last renewal to this node's first verdict, and that node a ``node_lost`` alert listing the
   cameras taken (shared by every taker; closed when the node starts again).

A backstop thread renews the leases when the event loop's rounds are late (a node at 100 % CPU keeps its
cameras). When Redis cannot be read, nothing moves (the cameras held stay held and keep recording); when the store cannot
be reached, the cameras keep running and recording — their leases may expire and another node take them, and
then this node's status writes are refused by the fence and it drops them at its next successful renewal.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from cctv.aio import stop_task
from cctv.clock import Clock
from cctv.status.bus import Bus
from cctv.status.messages import TOPIC_LEASE, TOPIC_STATUS, Reason, State, StatusChange
from cctv.store.alerts import AlertStore
from cctv.store.leases import Fence, Grant, LeaseRelease, LeaseStore
from streams.ingest.assignment import NodeInfo, assign

log = logging.getLogger(__name__)

INGEST_ROLES = ("ingest",)
TAKE_FACTOR = 4  # a round takes up to this many times moves_per_round


@dataclass(frozen=True, slots=True)
class Watch:
    """What the keeper starts and stops: the ingest node's cameras (monitor and processes)."""

    start: Callable[[str], None]
    stop: Callable[[str], None]


class LeaseKeeper:
    def __init__(
        self,
        *,
        node: NodeInfo,
        inventory: Iterable[str],
        leases: LeaseStore,
        nodes: Callable[[], Awaitable[list[Any]]],
        watch: Watch,
        bus: Bus,
        clock: Clock,
        ttl_s: float,
        every_s: float,
        moves_per_round: int = 50,
        alerts: AlertStore | None = None,
        soft_capacity: Callable[[], int | None] | None = None,
    ) -> None:
        self.me = node
        self.inventory = sorted(set(inventory))
        self.leases = leases
        self.read_nodes = nodes
        self.watch = watch
        self.bus = bus
        self.clock = clock
        self.ttl_ms = int(ttl_s * 1000)
        self.every_s = every_s
        self.moves = max(1, moves_per_round)
        self.soft_capacity = soft_capacity  # overloaded: what this node asks to keep (streams/ingest/shed.py)
        self.alerts = alerts  # node_lost alerts: opened by the takers, closed by the lost node when it is back
        self.held: dict[str, int] = {}  # camera → token (read by the store writer's thread: fences)
        self.stopping: set[str] = set()  # asked to stop here, not yet stopped
        self.releasing: set[str] = set()  # stopped, its release queued for the store writer
        self.draining = node.draining
        self.peers: list[NodeInfo] = []
        # figures (/healthz, the node's heartbeat)
        self.rounds = 0
        self.taken = 0
        self.taken_lost = 0  # of which from a node that stopped renewing
        self.given = 0
        self.lost = 0  # taken from us by another node (we were late, paused or cut off)
        self.store_errors = 0
        self.bus_errors = 0
        self.last_round_ms: int | None = None
        self._blind_since: int | None = None  # since when Redis could not be read
        self.valid_until_ms = 0  # until when the leases held are surely ours (the last renewal + ttl)
        self._stopped = False
        self._task: asyncio.Task[None] | None = None
        # the backstop: a thread that renews when the event loop is too late to (a node at 100 % CPU keeps its
        # cameras); a node stopped whole (SIGSTOP) renews nothing, as it should
        self._renewed_mono = time.monotonic()
        self._halt = threading.Event()
        self._backstop: threading.Thread | None = None
        self.backstop_renewals = 0
        # lease statements never wait behind the store writer's batches: a renewal that is late loses cameras
        self._db = ThreadPoolExecutor(1, thread_name_prefix="leases")

    # -- what the store writer asks -------------------------------------------------------------------

    def fence(self, camera: str) -> Fence | None:
        token = self.held.get(camera)
        return None if token is None else Fence(self.me.name, token)

    def may_report(self, camera: str) -> bool:
        """Whether other nodes may see this node's news of ``camera``: it holds the lease, and the lease
        cannot have expired since the last renewal (a node that stood still says nothing until it renewed)."""
        return camera in self.held and self.clock.now_ms() < self.valid_until_ms

    def on_released(self, camera: str) -> None:
        """The store writer committed a release."""
        self.releasing.discard(camera)
        self.held.pop(camera, None)

    def on_stopped(self, camera: str) -> None:
        """The ingest process stopped a camera taken away: mark the gap and release it, after its last rows."""
        if camera not in self.stopping:
            return
        self.stopping.discard(camera)
        token = self.held.get(camera)
        if token is None:  # lost meanwhile: the new holder marks the gap
            return
        self._mark_and_release(camera, token, self.clock.now_ms())

    def _mark_and_release(self, camera: str, token: int, now: int) -> None:
        """Through the store writer, after the camera's last rows: its ``unmonitored`` (handover) mark, then
        the release of its lease."""
        self.releasing.add(camera)
        self.bus.publish(TOPIC_STATUS, StatusChange(camera, State.UNMONITORED, Reason.HANDOVER, now, None))
        self.bus.publish(TOPIC_LEASE, LeaseRelease(camera, Fence(self.me.name, token), now))

    # -- running --------------------------------------------------------------------------------------

    async def start(self) -> None:
        try:  # what an earlier run of this node left held: released, as watched until that run's last renewal
            if left := await self._db_call(self.leases.recover, self.me.name, self.clock.now_ms()):
                log.warning("lease keeper: %d leases were left held by this node's last run (it stopped "
                            "uncleanly); released", left)
        except Exception:  # noqa: BLE001 - they are taken when that run's lease expires
            self.store_errors += 1
            log.exception("lease keeper: could not release the leases this node's last run left held")
        if self.alerts is not None:
            try:
                if await self._db_call(self.alerts.close_node_lost, self.me.name, self.clock.now_ms()):
                    log.info("lease keeper: this node is back; its node_lost alert is closed")
            except Exception:  # noqa: BLE001 - the alert stays open; the cameras matter more
                self.store_errors += 1
                log.exception("lease keeper: could not close this node's node_lost alert")
        self._task = asyncio.create_task(self._forever(), name="lease-keeper")
        self._halt.clear()
        self._backstop = threading.Thread(target=self._backstop_loop, name="lease-backstop", daemon=True)
        self._backstop.start()

    def _backstop_loop(self) -> None:
        while not self._halt.wait(self.every_s / 2):
            if time.monotonic() - self._renewed_mono < self.every_s * 1.5:
                continue  # the loop's rounds renew on time
            try:
                held = dict(self.held)
            except RuntimeError:  # changed while copied: the loop runs, and renews
                continue
            if not held:
                continue
            now = self.clock.now_ms()
            try:
                kept = self.leases.renew(self.me.name, held, now, self.ttl_ms)
            except Exception:  # noqa: BLE001 - the loop's next round says what is wrong
                continue
            self._renewed_mono = time.monotonic()
            self.backstop_renewals += 1
            if kept == set(held):  # a camera lost meanwhile: the loop's round drops it first
                self.valid_until_ms = max(self.valid_until_ms, now + self.ttl_ms)

    async def stop(self) -> None:
        """Stop the rounds (the cameras are stopped by the ingest node, then ``release_all``)."""
        self._stopped = True
        self._halt.set()
        if self._backstop is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._backstop.join, 5.0)
            self._backstop = None
        if self._task is not None:
            await stop_task(self._task)  # its rounds read redis: a swallowed cancel is sent again (cctv/aio.py)
            self._task = None

    def release_all(self) -> None:
        """At a clean stop, after every camera stopped: mark and release each lease, through the writer."""
        now = self.clock.now_ms()
        for camera, token in sorted(self.held.items()):
            if camera not in self.releasing:
                self._mark_and_release(camera, token, now)
        self.stopping.clear()

    def close(self) -> None:
        self._db.shutdown(wait=False)

    async def _forever(self) -> None:
        while not self._stopped:
            try:
                await self.round()
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("lease keeper: round failed")
            await asyncio.sleep(self.every_s)

    async def _db_call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, *args)

    async def round(self) -> None:
        self.rounds += 1
        now = self.clock.now_ms()
        renewable = {c: t for c, t in self.held.items()}
        if renewable:
            try:
                kept = await self._db_call(self.leases.renew, self.me.name, renewable, now, self.ttl_ms)
            except Exception as exc:  # noqa: BLE001 - the cameras keep running and recording
                self.store_errors += 1
                log.warning("lease keeper: cannot renew %d leases (%s); cameras keep recording", len(renewable),
                            type(exc).__name__)
                return
            for camera in sorted(set(renewable) - set(kept)):
                if self.held.get(camera) == renewable[camera]:
                    self._lose(camera)
            self.valid_until_ms = now + self.ttl_ms
            self._renewed_mono = time.monotonic()
        try:
            beats = await self.read_nodes()
        except Exception as exc:  # noqa: BLE001 - nothing moves while the live nodes are unknown
            self.bus_errors += 1
            if self._blind_since is None:  # once per outage (counted in lease_bus_errors)
                self._blind_since = now
                log.warning("lease keeper: cannot read the live nodes (%s); no camera moves until it can",
                            type(exc).__name__)
            return
        if self._blind_since is not None:
            log.warning("lease keeper: the live nodes are readable again after %.0f s", (now - self._blind_since) / 1000)
            self._blind_since = None
        self.peers = [NodeInfo(b.name, b.capacity, tuple(b.prefers), b.draining, b.soft_capacity) for b in beats
                      if b.role in INGEST_ROLES and b.name != self.me.name]
        soft = self.soft_capacity() if self.soft_capacity is not None else None
        me = NodeInfo(self.me.name, self.me.capacity, self.me.prefers, self.draining, soft)
        plan = assign(self.inventory, [*self.peers, me])
        wanted = {c for c, n in plan.items() if n == me.name}
        self._give(wanted)
        await self._take(wanted, now)
        self.last_round_ms = now

    def _lose(self, camera: str) -> None:
        """Another node holds it now: stop at once; nothing more of it is written here."""
        self.lost += 1
        self.held.pop(camera, None)
        self.releasing.discard(camera)
        if camera not in self.stopping:
            self.watch.stop(camera)
        self.stopping.discard(camera)
        log.warning("lease keeper: camera %s was taken by another node; stopped here", camera)

    def _give(self, wanted: set[str]) -> None:
        away = sorted(set(self.held) - wanted - self.stopping - self.releasing)[: self.moves]
        for camera in away:
            self.stopping.add(camera)
            self.given += 1
            self.watch.stop(camera)  # on_stopped follows once its session is closed
        if away:
            log.info("lease keeper: handing %d cameras to other nodes", len(away))

    async def _take(self, wanted: set[str], now: int) -> None:
        # taking is throttled less than giving: a planned move waits for the giver anyway, and a lost node's
        # cameras (or a cold start) should be watched again as soon as possible
        todo = sorted(wanted - set(self.held))[: self.moves * TAKE_FACTOR]
        if not todo:
            return
        try:
            grants: dict[str, Grant] = await self._db_call(self.leases.take, self.me.name, todo, now, self.ttl_ms)
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            self.store_errors += 1
            log.warning("lease keeper: cannot take leases (%s)", type(exc).__name__)
            return
        if grants:
            self.valid_until_ms = max(self.valid_until_ms, now + self.ttl_ms)
        lost_from: dict[str, list[str]] = {}
        for camera, grant in sorted(grants.items()):
            self.held[camera] = grant.token
            self.taken += 1
            if grant.from_node is not None and not grant.released and grant.watched_until_ms is not None:
                # the holder stopped renewing: nobody watched it since its last renewal
                self.taken_lost += 1
                lost_from.setdefault(grant.from_node, []).append(camera)
                self.bus.publish(TOPIC_STATUS, StatusChange(camera, State.UNMONITORED, Reason.NODE_LOST,
                                                            grant.watched_until_ms, None))
            self.watch.start(camera)
        for node, cams in sorted(lost_from.items()):
            if node == self.me.name:
                log.warning("lease keeper: took back %d cameras this node held before it stopped uncleanly",
                            len(cams))
                continue
            log.warning("lease keeper: took %d cameras of node %s, which stopped renewing its leases", len(cams),
                        node)
            await self._note_lost(node, cams, now)
        if grants:
            log.info("lease keeper: now watching %d cameras (took %d)", len(self.held), len(grants))

    async def _note_lost(self, node: str, cameras: list[str], now: int) -> None:
        if self.alerts is None:
            return
        for attempt in range(2):  # two takers opening it at once: the second insert fails, then updates
            try:
                await self._db_call(self.alerts.note_node_lost, node, cameras, now)
                return
            except IntegrityError:
                if attempt:
                    raise
            except Exception:  # noqa: BLE001 - the cameras are taken; the alert is what is missing
                self.store_errors += 1
                log.exception("lease keeper: could not write the node_lost alert of %s", node)
                return

    def health(self) -> dict[str, Any]:
        return {
            "leases_held": len(self.held),
            "leases_stopping": len(self.stopping),
            "leases_releasing": len(self.releasing),
            "leases_taken": self.taken,
            "leases_taken_from_lost": self.taken_lost,
            "leases_given": self.given,
            "leases_lost": self.lost,
            "lease_store_errors": self.store_errors,
            "lease_bus_errors": self.bus_errors,
            "lease_rounds": self.rounds,
            "lease_backstop_renewals": self.backstop_renewals,  # renewed by the thread: the loop was late
            "peers": [p.name for p in self.peers],
            "draining": self.draining,
        }
