"""Recording segments and their retention locks.

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = ("recordings",)
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", _id, primary_key=True),
        sa.Column("camera", sa.String(255), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("packets", sa.Integer(), nullable=False),
        sa.Column("garbage", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.CheckConstraint("end_ms >= start_ms", name="ck_segments_end_after_start"),
        sa.CheckConstraint("size_bytes >= 0", name="ck_segments_size_nonnegative"),
        sa.CheckConstraint("length(sha256) = 64", name="ck_segments_sha256_hex"),
        sa.PrimaryKeyConstraint("id", name="pk_segments"),
    )
    op.create_index("ix_segments_camera_start", "segments", ["camera", "start_ms"])
    op.create_index("uq_segments_path", "segments", ["path"], unique=True)
    op.create_index("ix_segments_end", "segments", ["end_ms"])
    op.create_table(
        "segment_locks",
        sa.Column("segment_id", _id, sa.ForeignKey("segments.id", ondelete="CASCADE",
                                                   name="fk_segment_locks_segment_id_segments"), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("since_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("segment_id", "holder", name="pk_segment_locks"),
    )


def downgrade() -> None:
    op.drop_table("segment_locks")
    op.drop_index("ix_segments_end", table_name="segments")
    op.drop_index("uq_segments_path", table_name="segments")
    op.drop_index("ix_segments_camera_start", table_name="segments")
    op.drop_table("segments")
