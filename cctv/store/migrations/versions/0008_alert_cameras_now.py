"""Which of a node alert's cameras it touches *now*: a flag per row of ``alert_cameras`` instead of a count on the
alert, so a scoped user is shown how many of *their* cameras are affected, never the whole node's number.

An open node alert whose count equals its cameras gets every camera flagged; any other keeps none flagged until
its node's next observation (every few seconds) sets them. ``alerts.affected_now`` stays, the whole node's count
(for the node's own log and queries that need no scope).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_cameras") as batch:
        batch.add_column(sa.Column("now", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE alert_cameras SET now = TRUE WHERE alert_id IN ("
        " SELECT a.id FROM alerts a WHERE a.kind <> 'camera' AND a.closed_ms IS NULL AND a.affected_now > 0"
        " AND a.affected_now = (SELECT COUNT(*) FROM alert_cameras c WHERE c.alert_id = a.id))"
    )


def downgrade() -> None:
    with op.batch_alter_table("alert_cameras") as batch:
        batch.drop_column("now")
