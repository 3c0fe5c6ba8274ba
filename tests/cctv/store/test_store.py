"""Store behaviour on a real SQLite file and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from cctv.status.messages import State, StatusChange
from cctv.store.db import current_revisions, head_revisions

CAM = "kota-baru/paal-lima/rt-07/cam-1"
CAM2 = "kota-baru/paal-lima/rt-07/cam-2"


def change(cam: str, state: State, reason: str, ms: int, prev: State | None = None) -> StatusChange:
    return StatusChange(camera=cam, state=state, reason=reason, since_ms=ms, previous=prev)


def test_migration_reaches_head_and_is_idempotent(store):
    assert head_revisions() and current_revisions(store.engine) == head_revisions()
    store.migrate()
    tables = set(inspect(store.engine).get_table_names())
    assert {"status_intervals", "motion_events", "node_heartbeats"} <= tables


def test_models_match_migration(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from cctv.store.models import Base

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_status_changes_become_contiguous_intervals(store):
    store.apply_status_change(change(CAM, State.ONLINE, "", 1000))
    store.apply_status_change(change(CAM, State.OFFLINE, "stalled", 5000, State.ONLINE))
    store.apply_status_change(change(CAM2, State.ONLINE, "", 1500))
    store.apply_status_change(change(CAM, State.ONLINE, "", 9000, State.OFFLINE))
    rows = store.intervals(CAM)
    assert [(r.state, r.reason, r.start_ms, r.end_ms) for r in rows] == [
        ("online", "", 1000, 5000),
        ("offline", "stalled", 5000, 9000),
        ("online", "", 9000, None),
    ]
    assert set(store.open_intervals()) == {CAM, CAM2}


def test_window_query_returns_overlapping_intervals(store):
    for state, ms in [(State.ONLINE, 0), (State.OFFLINE, 100), (State.ONLINE, 200), (State.DEGRADED, 300)]:
        store.apply_status_change(change(CAM, state, "x" if state != State.ONLINE else "", ms))
    got = [(r.start_ms, r.end_ms) for r in store.intervals(CAM, since_ms=150, until_ms=250)]
    assert got == [(100, 200), (200, 300)]
    assert [r.start_ms for r in store.intervals(CAM, since_ms=350)] == [300]


def test_availability_clips_to_window(store):
    store.apply_status_change(change(CAM, State.ONLINE, "", 0))
    store.apply_status_change(change(CAM, State.OFFLINE, "refused", 600))
    store.apply_status_change(change(CAM, State.ONLINE, "", 800))
    assert store.availability(CAM, 500, 1000) == {"online": 300, "offline": 200}


def test_one_open_interval_per_camera_is_enforced(store):
    store.apply_status_change(change(CAM, State.ONLINE, "", 0))
    from cctv.store.models import StatusInterval

    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(StatusInterval.__table__.insert().values(camera=CAM, state="offline", reason="", start_ms=5))


def test_check_constraints_reject_nonsense(store):
    from cctv.store.models import StatusInterval

    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(StatusInterval.__table__.insert().values(camera=CAM, state="sleepy", reason="", start_ms=5))
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(
            StatusInterval.__table__.insert().values(camera=CAM, state="online", reason="", start_ms=5, end_ms=4)
        )


def test_shutdown_closes_open_intervals(store):
    store.apply_status_change(change(CAM, State.ONLINE, "", 1000))
    store.apply_status_change(change(CAM2, State.OFFLINE, "refused", 3000))
    assert store.close_open_intervals(2000) == 2
    rows = {r.camera: (r.start_ms, r.end_ms) for r in store.intervals()}
    # an interval that started after the close time is closed where it starts, never before
    assert rows == {CAM: (1000, 2000), CAM2: (3000, 3000)}
    assert store.open_intervals() == {}


def test_crash_recovery_closes_at_last_heartbeat(store):
    store.heartbeat("node-a", 0, 1000)
    store.apply_status_change(change(CAM, State.ONLINE, "", 500))
    store.heartbeat("node-a", 0, 4000)
    # the process dies here; a new one starts much later
    assert store.recover_after_crash(now_ms=60_000) == 1
    [row] = store.intervals(CAM)
    assert (row.start_ms, row.end_ms) == (500, 4000)
    assert store.recover_after_crash(now_ms=61_000) == 0


def test_motion_events(store):
    eid = store.start_motion_event(CAM, 1000, 1.5)
    store.end_motion_event(eid, 4000, 7.25)
    assert store.motion_events(CAM) == [{"start_ms": 1000, "end_ms": 4000, "peak_score": 7.25}]


def test_shutdown_and_recovery_close_open_motion_events_too(store):
    store.start_motion_event(CAM, 1000, 1.5)
    store.close_open_intervals(3000)
    assert store.motion_events(CAM)[0]["end_ms"] == 3000
    store.heartbeat("n", 0, 9000)
    store.start_motion_event(CAM2, 5000, 2.0)
    store.apply_status_change(change(CAM2, State.ONLINE, "", 5000))
    assert store.recover_after_crash(60_000) == 1
    assert store.motion_events(CAM2)[0]["end_ms"] == 9000


def test_recovery_is_scoped_to_the_cameras_of_this_node(store):
    store.heartbeat("other-node", 0, 2000)
    store.apply_status_change(change(CAM, State.ONLINE, "", 1000))
    store.apply_status_change(change(CAM2, State.ONLINE, "", 1000))
    assert store.recover_after_crash(5000, cameras=[CAM]) == 1
    assert set(store.open_intervals()) == {CAM2}


def test_sqlite_file_is_in_wal_mode(tmp_path):
    from cctv.store import Store

    s = Store(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        with s.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        s.close()
    s.close()  # idempotent


async def test_async_writes_keep_their_order(store):
    for i in range(50):
        state = State.ONLINE if i % 2 == 0 else State.OFFLINE
        await store.awrite(store.apply_status_change, change(CAM, state, "" if i % 2 == 0 else "eof", i * 10))
    rows = await store.aread(store.intervals, CAM)
    assert [r.start_ms for r in rows] == [i * 10 for i in range(50)]
    assert all(r.end_ms == rows[i + 1].start_ms for i, r in enumerate(rows[:-1]))
