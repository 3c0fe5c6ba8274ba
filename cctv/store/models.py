"""The store's tables. Units in column names; CHECK constraints; the index every query uses.

Status is kept as intervals (camera, state, reason, start_ms, end_ms): uptime, MTTR and outage lists for any
area and window are queries over these rows, never counters that drift. ``end_ms`` is NULL while open; at
most one open interval per camera.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Float, Index, Integer, MetaData, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class StatusInterval(Base):
    __tablename__ = "status_intervals"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera: Mapped[str] = mapped_column(String(255), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(String(64), nullable=False, server_default="")
    start_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    end_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        CheckConstraint("state IN ('online', 'degraded', 'offline', 'unmonitored')", name="state_known"),
        CheckConstraint("end_ms IS NULL OR end_ms >= start_ms", name="end_after_start"),
        Index("ix_status_intervals_camera_start", "camera", "start_ms"),
        Index(
            "uq_status_intervals_one_open",
            "camera",
            unique=True,
            sqlite_where=text("end_ms IS NULL"),
            postgresql_where=text("end_ms IS NULL"),
        ),
    )


class MotionEvent(Base):
    __tablename__ = "motion_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera: Mapped[str] = mapped_column(String(255), nullable=False)
    start_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    end_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    peak_score: Mapped[float] = mapped_column(Float, nullable=False, server_default="0")

    __table_args__ = (
        CheckConstraint("end_ms IS NULL OR end_ms >= start_ms", name="end_after_start"),
        CheckConstraint("peak_score >= 0", name="peak_nonnegative"),
        Index("ix_motion_events_camera_start", "camera", "start_ms"),
    )


class NodeHeartbeat(Base):
    """Each running node writes its last-alive time; after a crash, open intervals are closed at it."""

    __tablename__ = "node_heartbeats"

    node_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    started_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)


# -- accounts, sessions and the audit log (migration 0002) ---------------------------------------------

from sqlalchemy import Boolean, ForeignKey, PrimaryKeyConstraint, Text  # noqa: E402


class User(Base):
    """A person who logs in. The password is kept only as a self-describing scrypt hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="0")
    created_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    disabled_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'operator', 'technician', 'police', 'viewer')", name="role_known"
        ),
        CheckConstraint("length(username) >= 1", name="username_nonempty"),
    )


class UserScope(Base):
    """One scope node of a user ("" = the city); a user's scope is the union of its rows."""

    __tablename__ = "user_scopes"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    path: Mapped[str] = mapped_column(String(255), nullable=False)

    __table_args__ = (PrimaryKeyConstraint("user_id", "path", name="pk_user_scopes"),)


class Session(Base):
    """A server-side login session. ``id_hash`` is the SHA-256 (hex) of the cookie's random token."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    created_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_seen_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    expires_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (
        CheckConstraint("expires_ms >= created_ms", name="expires_after_created"),
        CheckConstraint("last_seen_ms >= created_ms", name="seen_after_created"),
        Index("ix_sessions_user_id", "user_id"),
        Index("ix_sessions_expires_ms", "expires_ms"),
    )


class AuditEntry(Base):
    """Append-only, hash-chained: ``hash`` = SHA-256 over (prev_hash, seq, ts_ms, actor, action, object, detail)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    ts_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    object: Mapped[str] = mapped_column(String(512), nullable=False, server_default="")
    detail: Mapped[str] = mapped_column(Text, nullable=False, server_default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)

    __table_args__ = (
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint("length(hash) = 64 AND length(prev_hash) = 64", name="hash_lengths"),
        Index("ix_audit_log_ts_ms", "ts_ms"),
        Index("ix_audit_log_actor_ts_ms", "actor", "ts_ms"),
    )


class AuditHead(Base):
    """The chain's last (seq, hash), one row: deleting the newest entries shows as a mismatch with it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)

    __table_args__ = (
        CheckConstraint("id = 1", name="one_row"),
        CheckConstraint("seq >= 0", name="seq_nonnegative"),
    )
