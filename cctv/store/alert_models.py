"""The alerts' tables (migrations 0007, 0008, 0010): one row per alert of any kind (cctv/alerts/model.py), and the cameras it
touched in a child table, which decides who sees it."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from cctv.store.models import Base

_ID = BigInteger().with_variant(Integer, "sqlite")


class AlertRow(Base):
    """An alert: ``(kind, subject, opened_ms)`` identifies it; at most one open per (kind, subject).

    The detail columns of the other kind stay NULL (camera alerts: ``state`` .. ``last_change_ms``; node alerts:
    ``last_seen_ms`` .. ``total_bytes``). ``acked_by`` / ``acked_ms`` are set together, once.
    """

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    opened_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    recovered_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    closed_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str] = mapped_column(String(64), nullable=False, server_default="")
    worst_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    changes: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_change_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_seen_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    affected_now: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")  # the whole node's
    free_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    total_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    acked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acked_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        CheckConstraint("kind IN ('camera', 'disk_full', 'disk_low', 'node_lost', 'overloaded')", name="kind_known"),
        CheckConstraint(
            "kind <> 'camera' OR (state IS NOT NULL AND worst_state IS NOT NULL AND last_change_ms IS NOT NULL"
            " AND state IN ('degraded', 'offline') AND worst_state IN ('degraded', 'offline')"
            " AND changes >= 1 AND last_change_ms >= opened_ms)",
            name="camera_detail",
        ),
        CheckConstraint("kind = 'camera' OR (last_seen_ms IS NOT NULL AND last_seen_ms >= opened_ms)", name="node_detail"),
        CheckConstraint("affected_now >= 0", name="affected_not_negative"),
        CheckConstraint("closed_ms IS NULL OR closed_ms >= opened_ms", name="closed_after_open"),
        CheckConstraint("(acked_by IS NULL) = (acked_ms IS NULL)", name="ack_complete"),
        Index("uq_alerts_kind_subject_opened_ms", "kind", "subject", "opened_ms", unique=True),
        Index("ix_alerts_opened_ms", "opened_ms"),
        Index(
            "uq_alerts_one_open",
            "kind",
            "subject",
            unique=True,
            sqlite_where=text("closed_ms IS NULL"),
            postgresql_where=text("closed_ms IS NULL"),
        ),
    )


class AlertCameraRow(Base):
    """A camera an alert touched (a camera alert: its own camera); ``now``: a node alert touched it at its last
    observation (migration 0008)."""

    __tablename__ = "alert_cameras"

    alert_id: Mapped[int] = mapped_column(_ID, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    camera: Mapped[str] = mapped_column(String(255), primary_key=True)
    now: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())

    __table_args__ = (Index("ix_alert_cameras_camera", "camera"),)
