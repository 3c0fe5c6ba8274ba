"""Clip requests: police requests for footage, their approval, export and close.

Revision ID: 0005
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "clip_requests",
        sa.Column("id", _id, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("case_ref", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_ms", sa.BigInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("export_node", sa.String(255), nullable=True),
        sa.Column("progress_pct", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("exported_ms", sa.BigInteger(), nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "state IN ('requested', 'approved', 'rejected', 'exporting', 'ready', 'closed')",
            name="ck_clip_requests_state_known",
        ),
        sa.CheckConstraint("end_ms > start_ms", name="ck_clip_requests_end_after_start"),
        sa.CheckConstraint(
            "progress_pct >= 0 AND progress_pct <= 100", name="ck_clip_requests_progress_pct_range"
        ),
        sa.CheckConstraint(
            "(decided_by IS NULL) = (decided_ms IS NULL)", name="ck_clip_requests_decision_complete"
        ),
        sa.CheckConstraint("length(case_ref) >= 1", name="ck_clip_requests_case_ref_nonempty"),
        sa.PrimaryKeyConstraint("id", name="pk_clip_requests"),
    )
    op.create_index("ix_clip_requests_requester_id", "clip_requests", ["requester_id"])
    op.create_index("ix_clip_requests_state", "clip_requests", ["state"])
    op.create_table(
        "clip_request_cameras",
        sa.Column("request_id", _id, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("camera", sa.String(255), nullable=False),
        sa.Column("clip_file", sa.String(255), nullable=True),
        sa.Column("clip_sha256", sa.String(64), nullable=True),
        sa.Column("clip_size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("manifest_file", sa.String(255), nullable=True),
        sa.Column("manifest_sha256", sa.String(64), nullable=True),
        sa.Column("actual_start_ms", sa.BigInteger(), nullable=True),
        sa.Column("actual_end_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["clip_requests.id"],
            ondelete="CASCADE",
            name="fk_clip_request_cameras_request_id_clip_requests",
        ),
        sa.CheckConstraint("position >= 1", name="ck_clip_request_cameras_position_positive"),
        sa.PrimaryKeyConstraint("request_id", "position", name="pk_clip_request_cameras"),
    )
    op.create_index(
        "uq_clip_request_cameras_request_id_camera",
        "clip_request_cameras",
        ["request_id", "camera"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_clip_request_cameras_request_id_camera", table_name="clip_request_cameras")
    op.drop_table("clip_request_cameras")
    op.drop_index("ix_clip_requests_state", table_name="clip_requests")
    op.drop_index("ix_clip_requests_requester_id", table_name="clip_requests")
    op.drop_table("clip_requests")
