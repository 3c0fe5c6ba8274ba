"""The alert feed: debounced alerts with their acknowledgement.

Revision ID: 0004
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = ("alerts",)
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", _id, nullable=False),
        sa.Column("camera", sa.String(255), nullable=False),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False, server_default=""),
        sa.Column("worst_state", sa.String(16), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("last_change_ms", sa.BigInteger(), nullable=False),
        sa.Column("recovered_ms", sa.BigInteger(), nullable=True),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.Column("acked_by", sa.String(64), nullable=True),
        sa.Column("acked_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("state IN ('degraded', 'offline')", name="ck_alerts_state_bad"),
        sa.CheckConstraint("worst_state IN ('degraded', 'offline')", name="ck_alerts_worst_state_bad"),
        sa.CheckConstraint("changes >= 1", name="ck_alerts_changes_positive"),
        sa.CheckConstraint("last_change_ms >= opened_ms", name="ck_alerts_change_after_open"),
        sa.CheckConstraint("closed_ms IS NULL OR closed_ms >= opened_ms", name="ck_alerts_closed_after_open"),
        sa.CheckConstraint("(acked_by IS NULL) = (acked_ms IS NULL)", name="ck_alerts_ack_complete"),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("uq_alerts_camera_opened_ms", "alerts", ["camera", "opened_ms"], unique=True)
    op.create_index("ix_alerts_opened_ms", "alerts", ["opened_ms"])
    op.create_index(
        "uq_alerts_one_open",
        "alerts",
        ["camera"],
        unique=True,
        sqlite_where=sa.text("closed_ms IS NULL"),
        postgresql_where=sa.text("closed_ms IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_alerts_one_open", table_name="alerts")
    op.drop_index("ix_alerts_opened_ms", table_name="alerts")
    op.drop_index("uq_alerts_camera_opened_ms", table_name="alerts")
    op.drop_table("alerts")
