"""One alert model: camera alerts (``alerts``) and node alerts (``node_alerts``) become rows of one ``alerts``
table, the cameras an alert touched a child table ``alert_cameras`` instead of a JSON column searched with LIKE.

Camera alerts keep their ids (the audit log's ``alert.ack`` entries name them). Node alerts are appended after
them: node alert N becomes alert N + (the largest camera alert id), which is logged. The downgrade puts every
row back where it was (node alerts keep their new ids).

Revision ID: 0007
Revises: 0006
"""

import importlib.util
import json
import logging
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CAMERA_COLS = "opened_ms, recovered_ms, closed_ms, state, reason, worst_state, changes, last_change_ms, acked_by, acked_ms"
_NODE_COLS = "opened_ms, closed_ms, last_seen_ms, affected_now, free_bytes, total_bytes, acked_by, acked_ms"


def _create_tables() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", _id, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("recovered_ms", sa.BigInteger(), nullable=True),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(16), nullable=True),
        sa.Column("reason", sa.String(64), nullable=False, server_default=""),
        sa.Column("worst_state", sa.String(16), nullable=True),
        sa.Column("changes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_change_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=True),
        sa.Column("affected_now", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("free_bytes", sa.BigInteger(), nullable=True),
        sa.Column("total_bytes", sa.BigInteger(), nullable=True),
        sa.Column("acked_by", sa.String(64), nullable=True),
        sa.Column("acked_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("kind IN ('camera', 'disk_full', 'disk_low')", name="ck_alerts_kind_known"),
        sa.CheckConstraint(
            "kind <> 'camera' OR (state IS NOT NULL AND worst_state IS NOT NULL AND last_change_ms IS NOT NULL"
            " AND state IN ('degraded', 'offline') AND worst_state IN ('degraded', 'offline')"
            " AND changes >= 1 AND last_change_ms >= opened_ms)",
            name="ck_alerts_camera_detail",
        ),
        sa.CheckConstraint(
            "kind = 'camera' OR (last_seen_ms IS NOT NULL AND last_seen_ms >= opened_ms)", name="ck_alerts_node_detail"
        ),
        sa.CheckConstraint("affected_now >= 0", name="ck_alerts_affected_not_negative"),
        sa.CheckConstraint("closed_ms IS NULL OR closed_ms >= opened_ms", name="ck_alerts_closed_after_open"),
        sa.CheckConstraint("(acked_by IS NULL) = (acked_ms IS NULL)", name="ck_alerts_ack_complete"),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("uq_alerts_kind_subject_opened_ms", "alerts", ["kind", "subject", "opened_ms"], unique=True)
    op.create_index("ix_alerts_opened_ms", "alerts", ["opened_ms"])
    op.create_index(
        "uq_alerts_one_open",
        "alerts",
        ["kind", "subject"],
        unique=True,
        sqlite_where=sa.text("closed_ms IS NULL"),
        postgresql_where=sa.text("closed_ms IS NULL"),
    )
    op.create_table(
        "alert_cameras",
        sa.Column("alert_id", _id, nullable=False),
        sa.Column("camera", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_alert_cameras_alert_id_alerts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("alert_id", "camera", name="pk_alert_cameras"),
    )
    op.create_index("ix_alert_cameras_camera", "alert_cameras", ["camera"])


def _drop_tables() -> None:
    op.drop_index("ix_alert_cameras_camera", table_name="alert_cameras")
    op.drop_table("alert_cameras")
    op.drop_index("uq_alerts_one_open", table_name="alerts")
    op.drop_index("ix_alerts_opened_ms", table_name="alerts")
    op.drop_index("uq_alerts_kind_subject_opened_ms", table_name="alerts")
    op.drop_table("alerts")


def _older(name: str):  # type: ignore[no-untyped-def]
    """An earlier migration's module (the downgrade recreates its tables with its own upgrade)."""
    spec = importlib.util.spec_from_file_location(f"cctv_migration_{name}", Path(__file__).with_name(name))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _restart_ids(*tables: str) -> None:
    """After rows were inserted with their ids: PostgreSQL's sequences go on after the largest."""
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite takes the largest id + 1
    for table in tables:
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL)"
            f" FROM {table}"
        )


def upgrade() -> None:
    bind = op.get_bind()
    op.execute("CREATE TABLE alerts_0006 AS SELECT * FROM alerts")
    op.drop_index("uq_alerts_one_open", table_name="alerts")
    op.drop_index("ix_alerts_opened_ms", table_name="alerts")
    op.drop_index("uq_alerts_camera_opened_ms", table_name="alerts")
    op.drop_table("alerts")
    _create_tables()

    op.execute(
        f"INSERT INTO alerts (id, kind, subject, {_CAMERA_COLS})"
        f" SELECT id, 'camera', camera, {_CAMERA_COLS} FROM alerts_0006"
    )
    op.execute("INSERT INTO alert_cameras (alert_id, camera) SELECT id, camera FROM alerts_0006")
    offset = bind.execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM alerts")).scalar_one()
    # a closed node alert recovered when it closed (camera alerts: recovered_ms = closed_ms once closed too)
    op.execute(
        sa.text(
            f"INSERT INTO alerts (id, kind, subject, recovered_ms, {_NODE_COLS})"
            f" SELECT id + :offset, kind, node, closed_ms, {_NODE_COLS} FROM node_alerts"
        ).bindparams(offset=offset)
    )
    cams = [
        {"alert_id": node_id + offset, "camera": c}
        for node_id, listed in bind.execute(sa.text("SELECT id, cameras FROM node_alerts ORDER BY id"))
        for c in sorted(set(json.loads(listed or "[]")))
    ]
    if cams:
        bind.execute(sa.text("INSERT INTO alert_cameras (alert_id, camera) VALUES (:alert_id, :camera)"), cams)
    n_node = bind.execute(sa.text("SELECT COUNT(*) FROM node_alerts")).scalar_one()
    if n_node:
        log.info("0007: node alert N is now alert N + %d (%d node alerts)", offset, n_node)
    _restart_ids("alerts")

    op.drop_table("alerts_0006")
    op.drop_index("uq_node_alerts_one_open", table_name="node_alerts")
    op.drop_index("ix_node_alerts_opened_ms", table_name="node_alerts")
    op.drop_index("uq_node_alerts_node_kind_opened_ms", table_name="node_alerts")
    op.drop_table("node_alerts")


def downgrade() -> None:
    bind = op.get_bind()
    op.execute("CREATE TABLE alerts_0007 AS SELECT * FROM alerts")
    cams: dict[int, list[str]] = defaultdict(list)
    rows = bind.execute(sa.text(
        "SELECT c.alert_id, c.camera FROM alert_cameras c JOIN alerts a ON a.id = c.alert_id"
        " WHERE a.kind <> 'camera' ORDER BY c.alert_id, c.camera"
    ))
    for alert_id, camera in rows:
        cams[alert_id].append(camera)
    _drop_tables()
    _older("0004_alerts.py").upgrade()
    _older("0006_node_alerts.py").upgrade()

    op.execute(
        f"INSERT INTO alerts (id, camera, {_CAMERA_COLS})"
        f" SELECT id, subject, {_CAMERA_COLS} FROM alerts_0007 WHERE kind = 'camera'"
    )
    op.execute(
        f"INSERT INTO node_alerts (id, node, kind, cameras, {_NODE_COLS})"
        f" SELECT id, subject, kind, '[]', {_NODE_COLS} FROM alerts_0007 WHERE kind <> 'camera'"
    )
    if cams:
        bind.execute(
            sa.text("UPDATE node_alerts SET cameras = :cameras WHERE id = :id"),
            [{"id": alert_id, "cameras": json.dumps(c)} for alert_id, c in cams.items()],
        )
    _restart_ids("alerts", "node_alerts")
    op.drop_table("alerts_0007")
