"""Status intervals, motion events, node heartbeats.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "status_intervals",
        sa.Column("id", _id, primary_key=True),
        sa.Column("camera", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False, server_default=""),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("state IN ('online', 'degraded', 'offline')", name="ck_status_intervals_state_known"),
        sa.CheckConstraint("end_ms IS NULL OR end_ms >= start_ms", name="ck_status_intervals_end_after_start"),
        sa.PrimaryKeyConstraint("id", name="pk_status_intervals"),
    )
    op.create_index("ix_status_intervals_camera_start", "status_intervals", ["camera", "start_ms"])
    op.create_index(
        "uq_status_intervals_one_open",
        "status_intervals",
        ["camera"],
        unique=True,
        sqlite_where=sa.text("end_ms IS NULL"),
        postgresql_where=sa.text("end_ms IS NULL"),
    )
    op.create_table(
        "motion_events",
        sa.Column("id", _id, primary_key=True),
        sa.Column("camera", sa.String(255), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=True),
        sa.Column("peak_score", sa.Float(), nullable=False, server_default="0"),
        sa.CheckConstraint("end_ms IS NULL OR end_ms >= start_ms", name="ck_motion_events_end_after_start"),
        sa.CheckConstraint("peak_score >= 0", name="ck_motion_events_peak_nonnegative"),
        sa.PrimaryKeyConstraint("id", name="pk_motion_events"),
    )
    op.create_index("ix_motion_events_camera_start", "motion_events", ["camera", "start_ms"])
    op.create_table(
        "node_heartbeats",
        sa.Column("node_id", sa.String(128), nullable=False),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("node_id", name="pk_node_heartbeats"),
    )


def downgrade() -> None:
    op.drop_table("node_heartbeats")
    op.drop_index("ix_motion_events_camera_start", table_name="motion_events")
    op.drop_table("motion_events")
    op.drop_index("uq_status_intervals_one_open", table_name="status_intervals")
    op.drop_index("ix_status_intervals_camera_start", table_name="status_intervals")
    op.drop_table("status_intervals")
