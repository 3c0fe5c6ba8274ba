"""The node alerts' table (migration 0006): one row per alert of a machine (cctv/alerts/node.py)."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from cctv.store.models import Base


class NodeAlertRow(Base):
    """A node alert: ``(node, kind, opened_ms)`` identifies it; at most one open per (node, kind).

    ``cameras`` is a JSON list of camera paths (every camera the condition touched while open): it decides who
    sees the alert. ``acked_by`` / ``acked_ms`` are set together, once.
    """

    __tablename__ = "node_alerts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    node: Mapped[str] = mapped_column(String(128), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    opened_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_seen_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cameras: Mapped[str] = mapped_column(Text, nullable=False, server_default="[]")
    affected_now: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    free_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    total_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    closed_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    acked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acked_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        CheckConstraint("kind IN ('disk_full', 'disk_low')", name="kind_known"),
        CheckConstraint("last_seen_ms >= opened_ms", name="seen_after_open"),
        CheckConstraint("closed_ms IS NULL OR closed_ms >= opened_ms", name="closed_after_open"),
        CheckConstraint("affected_now >= 0", name="affected_not_negative"),
        CheckConstraint("(acked_by IS NULL) = (acked_ms IS NULL)", name="ack_complete"),
        Index("uq_node_alerts_node_kind_opened_ms", "node", "kind", "opened_ms", unique=True),
        Index("ix_node_alerts_opened_ms", "opened_ms"),
        Index(
            "uq_node_alerts_one_open",
            "node",
            "kind",
            unique=True,
            sqlite_where=text("closed_ms IS NULL"),
            postgresql_where=text("closed_ms IS NULL"),
        ),
    )
