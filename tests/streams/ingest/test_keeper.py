"""The lease keeper of an ingest node among many (streams/ingest/keeper.py), with a fake clock, on SQLite and
PostgreSQL: nodes settle on the assignment, a node that stops renewing loses its cameras to the others with an
``unmonitored`` gap and a ``node_lost`` alert, wakes up to find them gone (and writes nothing of them), and a
node that joins takes its share by clean handovers — the old holder stops, marks and releases first."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import select

from cctv.alerts.model import NODE_LOST
from cctv.clock import FakeClock
from cctv.status.bus import InProcessBus
from cctv.status.messages import TOPIC_STATUS, State, StatusChange
from cctv.status.nodes import NodeBeat
from cctv.store.alerts import AlertStore
from cctv.store.leases import LeaseStore
from cctv.store.models import StatusInterval
from cctv.store.writer import StoreWriter
from streams.ingest.assignment import NodeInfo, assign
from streams.ingest.keeper import LeaseKeeper, Watch

CAMS = [f"kec/kel/rt-{i:02d}/cam-1" for i in range(12)]
TTL_S, EVERY_S = 8.0, 2.0


@dataclass
class Node:
    keeper: LeaseKeeper
    writer: StoreWriter
    bus: InProcessBus
    running: set[str]

    async def round(self) -> None:
        await self.keeper.round()
        await self.written()

    async def written(self) -> None:
        await self.writer.drain()
        await asyncio.sleep(0)  # the writer's on_released, posted to the loop

    async def settle_stops(self) -> None:
        """The ingest processes report every camera asked to stop as stopped; the writer writes what follows."""
        for cam in sorted(self.keeper.stopping):
            self.keeper.on_stopped(cam)
        await self.written()


def make_node(name: str, store, clock: FakeClock, alive: dict[str, bool]) -> Node:  # type: ignore[no-untyped-def]
    bus = InProcessBus()
    running: set[str] = set()

    async def nodes() -> list[NodeBeat]:
        return [NodeBeat(n, "ingest", 0, clock.now_ms()) for n, up in sorted(alive.items()) if up]

    keeper = LeaseKeeper(node=NodeInfo(name), inventory=CAMS, leases=LeaseStore(store.engine), nodes=nodes,
                         watch=Watch(running.add, running.discard), bus=bus, clock=clock, ttl_s=TTL_S,
                         every_s=EVERY_S, moves_per_round=100, alerts=AlertStore(store.engine))
    writer = StoreWriter(store, bus, fences=keeper.fence, on_released=keeper.on_released)
    return Node(keeper, writer, bus, running)


def rows(store, camera: str) -> list[tuple[str, str, int, int | None]]:  # type: ignore[no-untyped-def]
    with store.engine.connect() as conn:
        q = select(StatusInterval.state, StatusInterval.reason, StatusInterval.start_ms, StatusInterval.end_ms)
        return [tuple(r) for r in conn.execute(q.where(StatusInterval.camera == camera).order_by(StatusInterval.id))]


def verdict(node: Node, camera: str, clock: FakeClock) -> None:
    node.bus.publish(TOPIC_STATUS, StatusChange(camera, State.ONLINE, "", clock.now_ms(), None))


async def test_nodes_settle_lose_a_node_and_take_its_cameras_with_a_gap(store) -> None:
    clock = FakeClock()
    alive = {"n1": True, "n2": True}
    n1, n2 = make_node("n1", store, clock, alive), make_node("n2", store, clock, alive)
    for n in (n1, n2):
        await n.round()
    plan = assign(CAMS, [NodeInfo("n1"), NodeInfo("n2")])
    mine = {name: {c for c, v in plan.items() if v == name} for name in ("n1", "n2")}
    assert n1.running == mine["n1"] and n2.running == mine["n2"] and mine["n1"] and mine["n2"]
    assert set(n1.keeper.held) == mine["n1"] and n1.keeper.fence(sorted(mine["n2"])[0]) is None
    for n in (n1, n2):
        for cam in n.running:
            verdict(n, cam, clock)
        await n.written()

    # n2 stands still (SIGSTOP) past its lease; its heartbeat is gone too
    last_renewal = clock.now_ms()
    alive["n2"] = False
    clock.advance(4.0)
    await n1.round()  # n2's leases not expired yet: nothing taken
    assert n1.running == mine["n1"]
    clock.advance(4.0)
    await n1.round()
    assert n1.running == set(CAMS) and n1.keeper.taken_lost == len(mine["n2"])
    victim = sorted(mine["n2"])[0]
    [*_, before, gap] = rows(store, victim)
    assert before[0] == "online" and before[3] == last_renewal
    assert gap == ("unmonitored", "node_lost", last_renewal, None)  # until n1's first verdict
    clock.advance(1.0)
    verdict(n1, victim, clock)
    await n1.written()
    assert rows(store, victim)[-2][3] == clock.now_ms() and rows(store, victim)[-1][0] == "online"
    [alert] = AlertStore(store.engine).open_alerts((NODE_LOST,), "n2")
    assert alert.cameras == tuple(sorted(mine["n2"]))

    # n2 wakes up: the other nodes hear nothing of its cameras until it renewed (its leases may be gone), what
    # it writes of them lands nowhere, and its next round drops them
    assert n1.keeper.may_report(victim) and not n2.keeper.may_report(victim)
    n2.bus.publish(TOPIC_STATUS, StatusChange(victim, State.OFFLINE, "stalled", clock.now_ms(), State.ONLINE))
    await n2.written()
    assert n2.writer.fenced_out == 1 and rows(store, victim)[-1][0] == "online"
    alive["n2"] = True
    await n2.round()
    assert n2.running == set() and n2.keeper.lost == len(mine["n2"]) and n2.keeper.fence(victim) is None

    # back: n2 closes its alert at start; assignment gives it its share again by handovers from n1
    await n2.keeper.start()
    await n2.keeper.stop()
    assert AlertStore(store.engine).open_alerts((NODE_LOST,), "n2") == []
    await n1.round()  # n1 sees n2 again: stops n2's share here first
    assert n1.running == mine["n1"] and n1.keeper.stopping == mine["n2"]
    await n2.round()  # not released yet: n2 takes nothing
    assert n2.running == set()
    await n1.settle_stops()  # stopped: handover marks, then releases, in order
    assert n1.keeper.releasing == set() and set(n1.keeper.held) == mine["n1"]
    assert rows(store, victim)[-1][:2] == ("unmonitored", "handover")
    await n2.round()
    assert n2.running == mine["n2"] and n2.keeper.taken_lost == 0  # released, not lost: no second gap
    assert [r[1] for r in rows(store, victim) if r[0] == "unmonitored"] == ["node_lost", "handover"]


async def test_a_draining_node_gives_everything_away_gradually(store) -> None:
    clock = FakeClock()
    alive = {"n1": True, "n2": True}
    n1, n2 = make_node("n1", store, clock, alive), make_node("n2", store, clock, alive)
    n1.keeper.moves = 2
    for _ in range(6):
        for n in (n1, n2):
            await n.round()
    assert len(n1.running) + len(n2.running) == len(CAMS)
    share = len(n1.running)
    n1.keeper.draining = True
    alive_beats = n1.keeper.read_nodes

    async def draining_view() -> list[NodeBeat]:  # every node sees n1 draining in its heartbeat
        return [NodeBeat(b.name, b.role, 0, b.now_ms, draining=b.name == "n1") for b in await alive_beats()]

    n1.keeper.read_nodes = n2.keeper.read_nodes = draining_view
    await n1.round()
    assert len(n1.keeper.stopping) == min(2, share)  # at most moves_per_round a round
    for _ in range(share):
        await n1.settle_stops()
        await n2.round()
        await n1.round()
    assert n1.running == set() and n1.keeper.held == {} and n2.running == set(CAMS)
