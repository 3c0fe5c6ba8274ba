"""Camera leases: the one ingest node that reports a camera, and a fencing token its writes must carry.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_leases",
        sa.Column("camera", sa.String(255), nullable=False),
        sa.Column("node", sa.String(128), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("acquired_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("token >= 1", name="ck_camera_leases_token_positive"),
        sa.PrimaryKeyConstraint("camera", name="pk_camera_leases"),
    )


def downgrade() -> None:
    op.drop_table("camera_leases")
