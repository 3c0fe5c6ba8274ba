"""Accounts (users, user_scopes), server-side sessions and the hash-chained audit log.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("disabled_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'operator', 'technician', 'police', 'viewer')", name="ck_users_role_known"
        ),
        sa.CheckConstraint("length(username) >= 1", name="ck_users_username_nonempty"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "user_scopes",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE", name="fk_user_scopes_user_id_users"),
        sa.PrimaryKeyConstraint("user_id", "path", name="pk_user_scopes"),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE", name="fk_sessions_user_id_users"),
        sa.CheckConstraint("expires_ms >= created_ms", name="ck_sessions_expires_after_created"),
        sa.CheckConstraint("last_seen_ms >= created_ms", name="ck_sessions_seen_after_created"),
        sa.PrimaryKeyConstraint("id_hash", name="pk_sessions"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_index("ix_sessions_expires_ms", "sessions", ["expires_ms"])
    op.create_table(
        "audit_log",
        sa.Column("seq", _seq, autoincrement=False, nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object", sa.String(512), nullable=False, server_default=""),
        sa.Column("detail", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("seq >= 1", name="ck_audit_log_seq_positive"),
        sa.CheckConstraint("length(hash) = 64 AND length(prev_hash) = 64", name="ck_audit_log_hash_lengths"),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_ts_ms", "audit_log", ["ts_ms"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", _seq, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_one_row"),
        sa.CheckConstraint("seq >= 0", name="ck_audit_head_seq_nonnegative"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    op.create_index("ix_audit_log_actor_ts_ms", "audit_log", ["actor", "ts_ms"])


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_index("ix_audit_log_actor_ts_ms", table_name="audit_log")
    op.drop_index("ix_audit_log_ts_ms", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_sessions_expires_ms", table_name="sessions")
    op.drop_index("ix_sessions_user_id", table_name="sessions")
    op.drop_table("sessions")
    op.drop_table("user_scopes")
    op.drop_table("users")
