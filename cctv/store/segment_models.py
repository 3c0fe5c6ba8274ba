"""Tables of recording: segments (one file each) and the locks that keep them from retention."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from cctv.store.models import Base


class SegmentRow(Base):
    """A recorded segment: a row exists only once its file is complete and fsynced (docs/recording.md)."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera: Mapped[str] = mapped_column(String(255), nullable=False)
    start_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    end_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    path: Mapped[str] = mapped_column(String(512), nullable=False)  # relative to the recordings root
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    packets: Mapped[int] = mapped_column(Integer, nullable=False)
    garbage: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    # the ingest node whose disk holds the file (migration 0011); NULL: the one node of ``cctv run``
    node: Mapped[str | None] = mapped_column(String(128), nullable=True)

    __table_args__ = (
        CheckConstraint("end_ms >= start_ms", name="end_after_start"),
        CheckConstraint("size_bytes >= 0", name="size_nonnegative"),
        CheckConstraint("length(sha256) = 64", name="sha256_hex"),
        Index("ix_segments_camera_start", "camera", "start_ms"),
        Index("uq_segments_path", "path", unique=True),
        Index("ix_segments_end", "end_ms"),
        Index("ix_segments_node_camera_start", "node", "camera", "start_ms"),
    )


class SegmentLock(Base):
    """Keeps a segment from retention while something (an approved clip request) needs it."""

    __tablename__ = "segment_locks"

    segment_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("segments.id", ondelete="CASCADE"),
        primary_key=True,
    )
    holder: Mapped[str] = mapped_column(String(128), primary_key=True)  # e.g. "clip-request:42"
    since_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
