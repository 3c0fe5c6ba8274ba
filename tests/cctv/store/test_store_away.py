"""The store writer when the store itself goes away (a private PostgreSQL, stopped and started again): rows wait
and are written once it is back — none lost, none twice — and the wait is visible; at shutdown with the store
still away, what cannot be written is counted as lost, never silently dropped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cctv.status.bus import InProcessBus
from cctv.status.messages import TOPIC_MOTION, TOPIC_SEGMENT, TOPIC_STATUS, MotionChange, State, StatusChange
from cctv.store import Store
from cctv.store import writer as writer_module
from cctv.store.leases import Fence, LeaseStore
from cctv.store.models import MotionEvent, StatusInterval
from cctv.store.segment_models import SegmentRow
from cctv.store.segments import NewSegment, add_segment
from cctv.store.spool import Spool
from cctv.store.writer import StoreWriter
from tests.helpers.eventually import aeventually
from tests.helpers.postgres_server import PrivatePostgres

CAM = "kota-baru/paal-lima/rt-07/cam-1"
T0 = 1_767_225_600_000


def change(i: int) -> StatusChange:
    return StatusChange(CAM, State.OFFLINE if i % 2 else State.ONLINE, "timeout" if i % 2 else "", T0 + i * 1000,
                        None)


def rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(StatusInterval)).scalar_one()


async def writing(store: Store, spool: Spool | None = None) -> tuple[InProcessBus, StoreWriter, asyncio.Task[None]]:
    """A writer running on ``store``, its first row written."""
    bus = InProcessBus()
    w = StoreWriter(store, bus, spool=spool)
    task = asyncio.create_task(w.run())
    bus.publish(TOPIC_STATUS, change(0))
    await aeventually(lambda: w.written == 1, 30, "the first row")
    return bus, w, task


@pytest.fixture
def private_store(tmp_path: Path) -> Iterator[tuple[PrivatePostgres, Store]]:
    """A migrated store on a PostgreSQL of its own, which the test may stop and start."""
    pg = PrivatePostgres(tmp_path / "pg").init()
    store = Store(pg.url)
    try:
        store.migrate()
        yield pg, store
    finally:
        store.close()
        pg.remove()


async def test_rows_wait_for_a_restarted_postgresql_and_none_is_lost_or_doubled(private_store) -> None:  # type: ignore[no-untyped-def]
    pg, store = private_store
    bus, w, task = await writing(store)
    pg.stop()
    for i in range(1, 6):
        bus.publish(TOPIC_STATUS, change(i))
    await aeventually(lambda: w.outages == 1 and w.waiting >= 1, 30, "the writer to notice the outage")
    assert w.errors == 0 and w.lost == 0
    pg.start()
    await aeventually(lambda: w.written == 6 and w.waiting == 0, 60, "the waiting rows once it is back")
    assert rows(store) == 6 and w.errors == 0
    w.finish()
    await task


async def test_at_shutdown_rows_that_cannot_be_written_are_counted_lost(private_store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(writer_module, "STOP_WAIT_S", 1.0)
    pg, store = private_store
    bus = InProcessBus()
    w = StoreWriter(store, bus)
    pg.stop()
    bus.publish(TOPIC_STATUS, change(1))
    bus.publish(TOPIC_STATUS, change(2))
    w.finish()
    await w.run()  # returns: it does not wait forever for a store that is gone
    assert w.lost == 2 and w.written == 0 and w.outages == 1


async def test_a_long_outage_puts_rows_on_disk_and_they_come_back_in_order(private_store, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """More rows wait than memory should hold: the oldest go to disk, and every row after them, until the store
    is back and has taken them in the order they happened."""
    monkeypatch.setattr(writer_module, "MEMORY_ROWS", 3)
    pg, store = private_store
    bus, w, task = await writing(store, Spool(tmp_path / "spool"))
    pg.stop()
    for i in range(1, 8):
        bus.publish(TOPIC_STATUS, change(i))
        await asyncio.sleep(0.05)
    await aeventually(lambda: w.spooled >= 4, 30, "the rows beyond memory on disk")
    for i in range(8, 12):  # while rows wait on disk, new ones go after them
        bus.publish(TOPIC_STATUS, change(i))
    await aeventually(lambda: w.spooled + w.queued + w.waiting >= 11, 30, "every row waiting")
    assert w.lost == 0 and w.errors == 0
    pg.start()
    await aeventually(lambda: w.written == 12 and w.spooled == 0, 60, "the spooled rows once it is back")
    assert w.spool is not None and w.spool.files() == [] and w.errors == 0
    with store.engine.connect() as conn:
        got = conn.execute(select(StatusInterval.start_ms, StatusInterval.end_ms)
                           .order_by(StatusInterval.start_ms)).all()
    assert [s for s, _e in got] == [T0 + i * 1000 for i in range(12)]  # none lost, none twice, in order
    assert all(e == nxt for (_s, e), (nxt, _e2) in zip(got, got[1:], strict=False)) and got[-1][1] is None
    w.finish()
    await task


async def test_a_stop_with_the_store_away_keeps_the_rows_on_disk_for_the_next_start(private_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Nothing is lost at a stop: the rows go to disk, and the next run writes them before anything new. One node
    without leases: its earlier run's status rows are not replayed (that run's shutdown closed its intervals);
    motion and segments are, and a segment indexed meanwhile is not added twice."""
    pg, store = private_store
    seg = NewSegment(CAM, T0, T0 + 60_000, f"{CAM}/20260101/000000.ts", 1_000, "ab" * 32, 600)
    bus = InProcessBus()
    w = StoreWriter(store, bus, spool=Spool(tmp_path / "spool"))
    pg.stop()
    bus.publish(TOPIC_STATUS, change(1))
    bus.publish(TOPIC_MOTION, MotionChange(CAM, True, 0.4, T0 + 1_500))
    bus.publish(TOPIC_MOTION, MotionChange(CAM, False, 0.1, T0 + 9_500))
    bus.publish(TOPIC_SEGMENT, seg)
    bus.publish(TOPIC_SEGMENT, replace(seg, path=f"{CAM}/20260101/000100.ts", start_ms=T0 + 60_000))
    w.finish()
    await w.run()  # returns at once: the rows are on disk
    assert w.lost == 0 and w.written == 0 and w.spooled == 5
    pg.start()
    add_segment(store, seg)  # start-up reconciliation indexed the first file meanwhile
    again = StoreWriter(store, InProcessBus(), spool=Spool(tmp_path / "spool"))
    again.finish()  # nothing new: it writes the spool, then stops
    await again.run()
    assert again.spooled == 0 and again.spool_skipped == 1 and again.errors == 0
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(StatusInterval)).scalar_one() == 0
        assert conn.execute(select(MotionEvent.start_ms, MotionEvent.end_ms)).all() == [(T0 + 1_500, T0 + 9_500)]
        assert conn.execute(select(func.count()).select_from(SegmentRow)).scalar_one() == 2


async def test_spooled_status_rows_are_written_under_the_fence_they_were_observed_with(private_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An ingest node stopped while the store was away: at its next start the rows observed under a lease that
    has since been released are refused by the store's fencing, not written under the new lease."""
    pg, store = private_store
    leases = LeaseStore(store.engine)
    now = int(time.time() * 1000)
    old = leases.acquire("ingest-a", [CAM], now, 60_000)[CAM]
    bus = InProcessBus()
    w = StoreWriter(store, bus, fences=lambda c: Fence("ingest-a", old) if c == CAM else None,
                    spool=Spool(tmp_path / "spool"))
    bus.publish(TOPIC_STATUS, change(0))
    await w.drain()
    pg.stop()
    bus.publish(TOPIC_STATUS, change(1))
    bus.publish(TOPIC_STATUS, change(2))
    w.finish()
    await w.run()
    assert w.spooled == 2 and w.written == 1
    pg.start()
    assert leases.recover("ingest-a", now + 1_000) == 1  # the next run's start releases the old lease ...
    new = leases.acquire("ingest-a", [CAM], now + 2_000, 60_000)[CAM]  # ... and takes the camera again
    assert new != old
    again = StoreWriter(store, InProcessBus(), fences=lambda c: Fence("ingest-a", new) if c == CAM else None,
                        spool=Spool(tmp_path / "spool"))
    again.finish()
    await again.run()
    assert again.fenced_out == 2 and again.spooled == 0 and again.errors == 0
    assert rows(store) == 1  # only the row written under the old lease while it was held
