"""The alert feed's table (migration 0004): one row per debounced alert (cctv/alerts/camera.py)."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from cctv.store.models import Base


class AlertRow(Base):
    """An alert: opened by a camera going offline or degraded, closed once it is back online and stable.

    ``(camera, opened_ms)`` identifies it (the writer updates by it); at most one open alert per camera.
    ``acked_by`` / ``acked_ms`` are set together, once.
    """

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera: Mapped[str] = mapped_column(String(255), nullable=False)
    opened_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(String(64), nullable=False, server_default="")
    worst_state: Mapped[str] = mapped_column(String(16), nullable=False)
    changes: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    last_change_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    recovered_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    closed_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    acked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acked_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        CheckConstraint("state IN ('degraded', 'offline')", name="state_bad"),
        CheckConstraint("worst_state IN ('degraded', 'offline')", name="worst_state_bad"),
        CheckConstraint("changes >= 1", name="changes_positive"),
        CheckConstraint("last_change_ms >= opened_ms", name="change_after_open"),
        CheckConstraint("closed_ms IS NULL OR closed_ms >= opened_ms", name="closed_after_open"),
        CheckConstraint("(acked_by IS NULL) = (acked_ms IS NULL)", name="ack_complete"),
        Index("uq_alerts_camera_opened_ms", "camera", "opened_ms", unique=True),
        Index("ix_alerts_opened_ms", "opened_ms"),
        Index(
            "uq_alerts_one_open",
            "camera",
            unique=True,
            sqlite_where=text("closed_ms IS NULL"),
            postgresql_where=text("closed_ms IS NULL"),
        ),
    )
