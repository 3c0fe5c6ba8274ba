"""One lease per node instead of a renewal per camera: a node renews one row (``node_leases``) each round, and
a camera lease is live while it is not released and its node's lease has not expired. At 30,000 cameras the
per-camera renewals were 15,000 row updates a second, the largest write load of a city (docs/nodes.md).

``camera_leases.expires_ms`` gives way to ``released_ms`` (NULL while held); ``renewed_ms`` now says, for a
released lease, until when its holder watched the camera (the release itself for a clean handover, an earlier
renewal for a lease a restarted node found left over). Rows from before are taken as released at their expiry.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "node_leases",
        sa.Column("node", sa.String(128), nullable=False),
        sa.Column("renewed_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("moved_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("node", name="pk_node_leases"),
    )
    with op.batch_alter_table("camera_leases") as batch:
        batch.add_column(sa.Column("released_ms", sa.BigInteger(), nullable=True))
    op.execute("UPDATE camera_leases SET released_ms = expires_ms, renewed_ms = COALESCE(renewed_ms, expires_ms)")
    with op.batch_alter_table("camera_leases") as batch:
        batch.drop_column("expires_ms")
    op.create_index("ix_camera_leases_node", "camera_leases", ["node"])


def downgrade() -> None:
    op.drop_index("ix_camera_leases_node", table_name="camera_leases")
    with op.batch_alter_table("camera_leases") as batch:
        batch.add_column(sa.Column("expires_ms", sa.BigInteger(), nullable=True))
    op.execute("UPDATE camera_leases SET expires_ms = COALESCE(released_ms, 0)")
    with op.batch_alter_table("camera_leases") as batch:
        batch.alter_column("expires_ms", nullable=False)
        batch.drop_column("released_ms")
    op.drop_table("node_leases")
