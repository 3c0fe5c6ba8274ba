"""Daily tallies per camera and per area, and which days are tallied: 7- and 30-day figures without loading
30 days of intervals (cctv/rollup/days.py). Empty at first: the nodes tally the closed days by themselves.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FIELDS = (("known_ms", sa.BigInteger), ("up_ms", sa.BigInteger), ("usable_ms", sa.BigInteger),
          ("degraded_ms", sa.BigInteger), ("offline_ms", sa.BigInteger), ("outages", sa.Integer),
          ("degradations", sa.Integer), ("repaired", sa.Integer), ("repair_ms", sa.BigInteger),
          ("degraded_repaired", sa.Integer), ("degraded_repair_ms", sa.BigInteger))


def _fields() -> list[sa.Column]:
    return [sa.Column(name, kind(), nullable=False) for name, kind in FIELDS]


def upgrade() -> None:
    op.create_table(
        "camera_day_tallies",
        sa.Column("camera", sa.String(255), nullable=False),
        sa.Column("day_ms", sa.BigInteger(), nullable=False),
        *_fields(),
        sa.PrimaryKeyConstraint("camera", "day_ms", name="pk_camera_day_tallies"),
    )
    op.create_index("ix_camera_day_tallies_day_ms", "camera_day_tallies", ["day_ms"])
    op.create_table(
        "area_day_tallies",
        sa.Column("area", sa.String(255), nullable=False),
        sa.Column("day_ms", sa.BigInteger(), nullable=False),
        *_fields(),
        sa.PrimaryKeyConstraint("area", "day_ms", name="pk_area_day_tallies"),
    )
    op.create_table(
        "tallied_days",
        sa.Column("day_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("tallied_ms", sa.BigInteger(), nullable=False),
        sa.Column("cameras", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day_ms", name="pk_tallied_days"),
    )


def downgrade() -> None:
    op.drop_table("tallied_days")
    op.drop_table("area_day_tallies")
    op.drop_index("ix_camera_day_tallies_day_ms", table_name="camera_day_tallies")
    op.drop_table("camera_day_tallies")
