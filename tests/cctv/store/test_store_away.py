"""The store writer when the store itself goes away (a private PostgreSQL, stopped and started again): rows wait
and are written once it is back — none lost, none twice — and the wait is visible; at shutdown with the store
still away, what cannot be written is counted as lost, never silently dropped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cctv.status.bus import InProcessBus
from cctv.status.messages import TOPIC_STATUS, State, StatusChange
from cctv.store import Store
from cctv.store import writer as writer_module
from cctv.store.models import StatusInterval
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
    import asyncio

    pg, store = private_store
    bus = InProcessBus()
    w = StoreWriter(store, bus)
    task = asyncio.create_task(w.run())
    bus.publish(TOPIC_STATUS, change(0))
    await aeventually(lambda: w.written == 1, 30, "the first row")
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
