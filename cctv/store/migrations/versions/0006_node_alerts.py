"""Node alerts: conditions of a machine (its recording disk full or nearly full), with acknowledgement.

Revision ID: 0006
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "node_alerts",
        sa.Column("id", _id, nullable=False),
        sa.Column("node", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=False),
        sa.Column("cameras", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("affected_now", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("free_bytes", sa.BigInteger(), nullable=True),
        sa.Column("total_bytes", sa.BigInteger(), nullable=True),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.Column("acked_by", sa.String(64), nullable=True),
        sa.Column("acked_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("kind IN ('disk_full', 'disk_low')", name="ck_node_alerts_kind_known"),
        sa.CheckConstraint("last_seen_ms >= opened_ms", name="ck_node_alerts_seen_after_open"),
        sa.CheckConstraint("closed_ms IS NULL OR closed_ms >= opened_ms", name="ck_node_alerts_closed_after_open"),
        sa.CheckConstraint("affected_now >= 0", name="ck_node_alerts_affected_not_negative"),
        sa.CheckConstraint("(acked_by IS NULL) = (acked_ms IS NULL)", name="ck_node_alerts_ack_complete"),
        sa.PrimaryKeyConstraint("id", name="pk_node_alerts"),
    )
    op.create_index(
        "uq_node_alerts_node_kind_opened_ms", "node_alerts", ["node", "kind", "opened_ms"], unique=True
    )
    op.create_index("ix_node_alerts_opened_ms", "node_alerts", ["opened_ms"])
    op.create_index(
        "uq_node_alerts_one_open",
        "node_alerts",
        ["node", "kind"],
        unique=True,
        sqlite_where=sa.text("closed_ms IS NULL"),
        postgresql_where=sa.text("closed_ms IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_node_alerts_one_open", table_name="node_alerts")
    op.drop_index("ix_node_alerts_opened_ms", table_name="node_alerts")
    op.drop_index("uq_node_alerts_node_kind_opened_ms", table_name="node_alerts")
    op.drop_table("node_alerts")
