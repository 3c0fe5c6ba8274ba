"""Which ingest node's disk holds a segment: with many nodes on one store, each reconciles, keeps and deletes
only its own files (NULL: a single node's, from before many nodes or from ``cctv run``).

Revision ID: 0011
Revises: 0010, 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = ("0010", "0005")  # also joins the recordings branch (0003, 0005)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("segments", sa.Column("node", sa.String(128), nullable=True))
    op.create_index("ix_segments_node_camera_start", "segments", ["node", "camera", "start_ms"])


def downgrade() -> None:
    op.drop_index("ix_segments_node_camera_start", table_name="segments")
    with op.batch_alter_table("segments") as batch:
        batch.drop_column("node")
