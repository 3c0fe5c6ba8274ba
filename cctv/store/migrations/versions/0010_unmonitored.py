"""Failover: a status interval may be ``unmonitored`` (no node watched the camera), a lease remembers when its
holder last renewed it (where that gap starts), and an alert may say a node was lost.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_STATES_OLD = "state IN ('online', 'degraded', 'offline')"
_STATES_NEW = "state IN ('online', 'degraded', 'offline', 'unmonitored')"
_KINDS_OLD = "kind IN ('camera', 'disk_full', 'disk_low')"
_KINDS_NEW = "kind IN ('camera', 'disk_full', 'disk_low', 'node_lost', 'overloaded')"


def _check(table: str, name: str, condition: str) -> None:
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(name, type_="check")
        batch.create_check_constraint(name, condition)


def _alerts_check(condition: str) -> None:
    """SQLite rebuilds ``alerts`` to change a CHECK: dropping the old table would cascade to ``alert_cameras``
    (foreign keys are on), so those rows are kept aside and put back."""
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    kept = [dict(r._mapping) for r in bind.execute(sa.text("SELECT * FROM alert_cameras"))] if sqlite else []
    _check("alerts", "ck_alerts_kind_known", condition)
    if kept:
        bind.execute(sa.text("DELETE FROM alert_cameras"))
        bind.execute(sa.text("INSERT INTO alert_cameras (alert_id, camera, now) VALUES (:alert_id, :camera, :now)"),
                     kept)


def upgrade() -> None:
    _check("status_intervals", "ck_status_intervals_state_known", _STATES_NEW)
    _alerts_check(_KINDS_NEW)
    with op.batch_alter_table("camera_leases") as batch:
        batch.add_column(sa.Column("renewed_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("camera_leases") as batch:
        batch.drop_column("renewed_ms")
    op.execute("DELETE FROM status_intervals WHERE state = 'unmonitored'")
    op.execute("DELETE FROM alerts WHERE kind = 'node_lost'")
    _alerts_check(_KINDS_OLD)
    _check("status_intervals", "ck_status_intervals_state_known", _STATES_OLD)
