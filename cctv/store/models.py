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
        CheckConstraint("state IN ('online', 'degraded', 'offline')", name="state_known"),
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
