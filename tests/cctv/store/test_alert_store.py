"""The one alert store on SQLite and PostgreSQL: the child table of cameras (scope and area as EXISTS over it,
LIKE escaping, exact "touching", cascade), kinds kept apart by id, and migration 0007 carrying camera and node
alerts over from their two old tables and back."""

from __future__ import annotations

import json
from dataclasses import replace

from alembic import command
from sqlalchemy import Engine, text

from cctv.alerts.model import CAMERA, DISK_FULL, DISK_LOW, NODE_KINDS, AlertEvent, camera_alert, node_alert
from cctv.store.alerts import AlertStore
from cctv.store.db import _alembic_config, current_revisions, head_revisions, migrate

A = "kota-baru/paal-lima/rt-07/cam-1"
B = "kota-baru/paal-lima/rt-08/cam-1"
C = "telanaipura/pematang-sulur/rt-03/cam-1"
ODD = "kota-baru/paal_lima/rt-07/cam-1"  # "_" and "%" in a scope are letters, not wildcards
T0 = 1_767_225_600_000


def test_scope_and_area_are_joins_on_the_cameras(store) -> None:
    st = AlertStore(store.engine)
    cam = st.write(AlertEvent("open", camera_alert(A, T0, "offline", "timeout")))
    disk = st.write(AlertEvent("open", node_alert("rec-1", DISK_FULL, T0 + 1, (A, B, C), free_bytes=0)))
    odd = st.write(AlertEvent("open", camera_alert(ODD, T0 + 2, "degraded", "frozen")))
    bare = st.write(AlertEvent("open", node_alert("rec-2", DISK_LOW, T0 + 3, ())))  # no cameras: the city only

    def ids(scope: list[str], **kw: object) -> list[int | None]:
        return [a.id for a in st.alerts(scope, **kw)]  # type: ignore[arg-type]

    assert ids([""]) == [bare, odd, disk, cam]
    assert ids(["kota-baru/paal-lima/rt-07"]) == [disk, cam]
    assert ids(["telanaipura"]) == [disk]
    assert ids(["kota-baru/paal-lima/rt-08", "telanaipura"]) == [disk]  # once, though two of its cameras match
    assert ids(["kota-baru/paal_lima"]) == [odd] and ids(["kota-baru/paal%"]) == [] and ids(["kota-baru/paal"]) == []
    assert ids([]) == []
    assert ids([""], kinds=(CAMERA,)) == [odd, cam] and ids(["kota-baru"], kinds=NODE_KINDS) == [disk]
    assert ids([""], area="kota-baru/paal-lima/rt-08") == [disk]
    assert ids(["kota-baru"], area="telanaipura") == []  # the area narrows the scope, never widens it
    got = st.get(disk)
    assert got is not None and got.cameras == (A, B, C) and got.affected_now == 3 and got.subject == "rec-1"


def test_cameras_grow_touching_is_exact_and_rows_cascade(store) -> None:
    st = AlertStore(store.engine)
    opened = node_alert("rec-1", DISK_FULL, T0, (A,))
    alert_id = st.write(AlertEvent("open", opened))
    st.write(AlertEvent("update", node_alert("rec-1", DISK_FULL, T0, (B,), last_seen_ms=T0 + 5)))
    got = st.get(alert_id)  # A stays among the cameras touched, but is not touched now
    assert got is not None and got.cameras == (A, B) and got.cameras_now == (B,) and got.affected_now == 1
    st.write(AlertEvent("update", node_alert("rec-1", DISK_FULL, T0, (A, B), last_seen_ms=T0 + 9)))
    got = st.get(alert_id)
    assert got is not None and got.cameras == (A, B) and got.last_seen_ms == T0 + 9 and got.cameras_now == (A, B)
    st.write(AlertEvent("update", replace(got, cameras_now=(A,), last_seen_ms=T0 + 12)))
    got = st.get(alert_id)
    assert got is not None and got.cameras == (A, B) and got.cameras_now == (A,)
    with store.engine.connect() as conn:  # the whole node's count stays on the row
        assert conn.execute(text("SELECT affected_now FROM alerts WHERE id = :id"), {"id": alert_id}).scalar() == 1
    assert [a.id for a in st.touching(A, DISK_FULL, T0, T0 + 1)] == [alert_id]
    assert st.touching(A + "0", DISK_FULL, T0, T0 + 1) == [] and st.touching(A[:-1], DISK_FULL, T0, T0 + 1) == []
    assert st.touching(A, DISK_LOW, T0, T0 + 1) == [] and st.touching(A, DISK_FULL, 0, T0) == []
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM alerts WHERE id = :id"), {"id": alert_id})
        assert conn.execute(text("SELECT COUNT(*) FROM alert_cameras")).scalar_one() == 0


def test_ids_of_one_kind_are_unknown_to_the_other(store) -> None:
    st = AlertStore(store.engine)
    cam = st.write(AlertEvent("open", camera_alert(A, T0, "offline")))
    disk = st.write(AlertEvent("open", node_alert("rec-1", DISK_FULL, T0, (A,))))
    assert st.get(disk, (CAMERA,)) is None and st.get(cam, NODE_KINDS) is None
    assert st.get(cam, (CAMERA,)) is not None and st.get(disk, NODE_KINDS) is not None


# -- migration 0007 ---------------------------------------------------------------------------------------


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


OLD_CAMERA = [  # alerts before 0007
    {"id": 1, "camera": A, "opened_ms": T0, "state": "offline", "reason": "timeout", "worst_state": "offline",
     "changes": 3, "last_change_ms": T0 + 90, "recovered_ms": T0 + 90, "closed_ms": T0 + 90, "acked_by": "op1",
     "acked_ms": T0 + 100},
    {"id": 2, "camera": C, "opened_ms": T0 + 5, "state": "degraded", "reason": "frozen", "worst_state": "offline",
     "changes": 2, "last_change_ms": T0 + 50, "recovered_ms": None, "closed_ms": None, "acked_by": None,
     "acked_ms": None},
]
OLD_NODE = [  # node_alerts before 0007
    {"id": 1, "node": "rec-1", "kind": DISK_FULL, "opened_ms": T0, "last_seen_ms": T0 + 60,
     "cameras": json.dumps([B, A]), "affected_now": 0, "free_bytes": 5, "total_bytes": 100, "closed_ms": T0 + 70,
     "acked_by": "tech1", "acked_ms": T0 + 80},
    {"id": 2, "node": "rec-1", "kind": DISK_LOW, "opened_ms": T0 + 1, "last_seen_ms": T0 + 61,
     "cameras": "[]", "affected_now": 0, "free_bytes": 7, "total_bytes": 100, "closed_ms": None,
     "acked_by": None, "acked_ms": None},
]


def _insert(engine: Engine, table: str, rows: list[dict[str, object]]) -> None:
    cols = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"
    with engine.begin() as conn:
        conn.execute(text(sql), rows)


def test_migration_0007_carries_both_kinds_over_and_back(bare_engine: Engine) -> None:
    migrate(bare_engine, "0006")
    _insert(bare_engine, "alerts", OLD_CAMERA)
    _insert(bare_engine, "node_alerts", OLD_NODE)

    migrate(bare_engine)
    assert current_revisions(bare_engine) == head_revisions()
    st = AlertStore(bare_engine)
    got = {a.id: a for a in st.alerts([""], limit=10)}
    assert sorted(got) == [1, 2, 3, 4]  # camera alerts keep their ids; node alert N is N + 2
    one, two, full, low = got[1], got[2], got[3], got[4]
    assert (one.kind, one.camera, one.cameras, one.state, one.reason, one.worst_state, one.changes) == (
        CAMERA, A, (A,), "offline", "timeout", "offline", 3)
    assert (one.last_change_ms, one.recovered_ms, one.closed_ms, one.acked_by, one.acked_ms) == (
        T0 + 90, T0 + 90, T0 + 90, "op1", T0 + 100)
    assert (two.state, two.worst_state, two.changes, two.is_open, two.acked_by) == ("degraded", "offline", 2, True, None)
    assert (full.kind, full.node, full.cameras, full.last_seen_ms, full.free_bytes, full.total_bytes) == (
        DISK_FULL, "rec-1", (A, B), T0 + 60, 5, 100)
    assert (full.closed_ms, full.recovered_ms, full.acked_by, full.acked_ms) == (T0 + 70, T0 + 70, "tech1", T0 + 80)
    assert (low.kind, low.cameras, low.is_open, low.free_bytes) == (DISK_LOW, (), True, 7)
    assert [a.id for a in st.alerts(["kota-baru/paal-lima/rt-08"])] == [3]  # its cameras came from the JSON
    assert [a.id for a in st.open_alerts(NODE_KINDS, "rec-1")] == [4]
    new = st.write(AlertEvent("open", camera_alert(B, T0 + 200, "offline")))
    assert new == 5  # ids go on after the copied ones (PostgreSQL: the sequence was moved)

    _downgrade(bare_engine, "0006")
    with bare_engine.connect() as conn:
        tables = {r[0] for r in conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table'" if bare_engine.dialect.name == "sqlite"
            else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))}
        assert "alert_cameras" not in tables and {"alerts", "node_alerts"} <= tables
        cams = [dict(r._mapping) for r in conn.execute(text(
            "SELECT id, camera, state, changes, closed_ms, acked_by FROM alerts ORDER BY id"))]
        nodes = [dict(r._mapping) for r in conn.execute(text(
            "SELECT id, node, kind, cameras, last_seen_ms, closed_ms, acked_by FROM node_alerts ORDER BY id"))]
    assert cams == [
        {"id": 1, "camera": A, "state": "offline", "changes": 3, "closed_ms": T0 + 90, "acked_by": "op1"},
        {"id": 2, "camera": C, "state": "degraded", "changes": 2, "closed_ms": None, "acked_by": None},
        {"id": 5, "camera": B, "state": "offline", "changes": 1, "closed_ms": None, "acked_by": None},
    ]
    assert [(n["id"], n["kind"], json.loads(n["cameras"]), n["closed_ms"], n["acked_by"]) for n in nodes] == [
        (3, DISK_FULL, [A, B], T0 + 70, "tech1"), (4, DISK_LOW, [], None, None)]
    migrate(bare_engine)  # and up again: the node alerts move after the camera alerts once more (3 + 5, 4 + 5)
    again = {a.id: a.kind for a in AlertStore(bare_engine).alerts([""])}
    assert again == {1: CAMERA, 2: CAMERA, 5: CAMERA, 8: DISK_FULL, 9: DISK_LOW}


# -- migration 0008 ---------------------------------------------------------------------------------------


def test_migration_0008_flags_the_cameras_touched_now_where_the_count_says_all(bare_engine: Engine) -> None:
    """An open node alert whose count covers all its cameras has them all flagged as touched now; one whose count
    says fewer (which ones is unknown) has none flagged until its node's next observation; closed ones none."""
    migrate(bare_engine, "0007")
    rows = [
        {"id": 1, "kind": DISK_FULL, "subject": "rec-1", "opened_ms": T0, "last_seen_ms": T0, "affected_now": 2,
         "closed_ms": None},
        {"id": 2, "kind": DISK_LOW, "subject": "rec-1", "opened_ms": T0, "last_seen_ms": T0, "affected_now": 1,
         "closed_ms": None},
        {"id": 3, "kind": DISK_FULL, "subject": "rec-2", "opened_ms": T0, "last_seen_ms": T0, "affected_now": 1,
         "closed_ms": T0 + 9},
    ]
    _insert(bare_engine, "alerts", rows)
    _insert(bare_engine, "alert_cameras", [{"alert_id": i, "camera": c} for i in (1, 2) for c in (A, B)]
            + [{"alert_id": 3, "camera": C}])
    migrate(bare_engine)
    st = AlertStore(bare_engine)
    got = {a.id: a for a in st.alerts([""])}
    assert got[1].cameras_now == (A, B) and got[2].cameras_now == () and got[3].cameras_now == ()
    assert got[1].cameras == got[2].cameras == (A, B)
    st.write(AlertEvent("update", replace(got[2], cameras_now=(B,), last_seen_ms=T0 + 5)))  # the next observation
    assert st.get(2) is not None and st.get(2).cameras_now == (B,)  # type: ignore[union-attr]
    _downgrade(bare_engine, "0007")
    with bare_engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM alert_cameras")).scalar_one() == 5
